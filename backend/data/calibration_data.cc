#include "backend/data/calibration_data.h"

#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "mapping/base/file.h"
#include "mapping/base/json.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace data {
namespace {

// One sample as read, before shuffling and tokenizing.
struct Record {
  int64_t line = 0;  // 1-based, where the sample starts
  bool is_text = false;
  std::string text;
  std::vector<int64_t> input_ids;
};

absl::Status LineError(absl::string_view source, int64_t line, absl::string_view detail) {
  return absl::InvalidArgumentError(absl::StrCat(source, ":", line, ": ", detail));
}

std::vector<absl::string_view> Lines(absl::string_view contents) {
  std::vector<absl::string_view> lines = absl::StrSplit(contents, '\n');
  for (absl::string_view& line : lines) absl::ConsumeSuffix(&line, "\r");
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

absl::StatusOr<std::vector<Record>> ReadJsonLines(absl::string_view contents,
                                                  absl::string_view source) {
  std::vector<Record> records;
  const std::vector<absl::string_view> lines = Lines(contents);
  for (size_t i = 0; i < lines.size(); ++i) {
    const int64_t line_number = static_cast<int64_t>(i) + 1;
    if (absl::StripAsciiWhitespace(lines[i]).empty()) continue;
    auto parsed = mapping::ParseJson(lines[i], absl::StrCat(source, ":", line_number));
    if (!parsed.ok()) return parsed.status();
    const mapping::Json& object = *parsed;
    if (!object.is_object()) {
      return LineError(source, line_number,
                       "expected a JSON object with \"input_ids\" or \"text\"");
    }
    Record record;
    record.line = line_number;
    if (const mapping::Json* ids = mapping::JsonMember(object, "input_ids")) {
      if (!ids->is_array()) {
        return LineError(source, line_number,
                         "field input_ids: expected an array of integers");
      }
      for (size_t k = 0; k < ids->size(); ++k) {
        const mapping::Json& id = (*ids)[k];
        if (!id.is_number_integer()) {
          return LineError(source, line_number,
                           absl::StrCat("field input_ids: expected an array of integers "
                                        "(element ", k, " is ", mapping::JsonTypeName(id),
                                        ")"));
        }
        if (id.is_number_unsigned() ? id.get<uint64_t>() > INT64_MAX : id.get<int64_t>() < 0) {
          return LineError(source, line_number,
                           absl::StrCat("field input_ids: element ", k,
                                        " is not a valid token id (must be 0 or more)"));
        }
        record.input_ids.push_back(id.get<int64_t>());
      }
      if (record.input_ids.empty()) continue;
    } else if (const mapping::Json* text = mapping::JsonMember(object, "text")) {
      if (!text->is_string()) {
        return LineError(source, line_number,
                         absl::StrCat("field text: expected a string, got ",
                                      mapping::JsonTypeName(*text)));
      }
      record.is_text = true;
      record.text = text->get<std::string>();
      if (record.text.empty()) continue;
    } else {
      return LineError(source, line_number,
                       "expected a field \"input_ids\" (array of integers) or \"text\" "
                       "(string)");
    }
    records.push_back(std::move(record));
  }
  return records;
}

std::vector<Record> ReadText(absl::string_view contents) {
  std::vector<Record> records;
  std::optional<Record> current;
  const std::vector<absl::string_view> lines = Lines(contents);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (absl::StripAsciiWhitespace(lines[i]).empty()) {
      if (current) records.push_back(*std::move(current));
      current.reset();
      continue;
    }
    if (!current) {
      current.emplace();
      current->line = static_cast<int64_t>(i) + 1;
      current->is_text = true;
    } else {
      current->text += '\n';
    }
    absl::StrAppend(&current->text, lines[i]);
  }
  if (current) records.push_back(*std::move(current));
  return records;
}

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

absl::StatusOr<std::vector<int64_t>> Tokenize(const Record& record, absl::string_view source,
                                              const Tokenizer* tokenizer,
                                              const CalibrationOptions& options) {
  const std::optional<int64_t> max_length =
      options.seq_len > 0 ? std::optional<int64_t>(options.seq_len) : std::nullopt;
  if (!record.is_text) {
    std::vector<int64_t> ids = record.input_ids;
    if (max_length && static_cast<int64_t>(ids.size()) > *max_length) ids.resize(*max_length);
    return ids;
  }
  if (tokenizer == nullptr) {
    return LineError(source, record.line,
                     "field text: a text sample needs a tokenizer (tokenizer.json beside "
                     "the model), or give input_ids instead");
  }
  auto ids = tokenizer->Encode(record.text, options.add_special_tokens, max_length);
  if (!ids.ok()) {
    return LineError(source, record.line, absl::StrCat("field text: ", ids.status().message()));
  }
  return ids;
}

}  // namespace

std::vector<int64_t> ShuffledOrder(int64_t count, uint64_t seed) {
  std::vector<int64_t> order(count > 0 ? count : 0);
  for (int64_t i = 0; i < count; ++i) order[i] = i;
  uint64_t state = seed;
  for (int64_t i = count - 1; i > 0; --i) {
    const uint64_t bound = static_cast<uint64_t>(i) + 1;
    const uint64_t remainder = (UINT64_MAX % bound + 1) % bound;  // 2^64 mod bound
    uint64_t x = SplitMix64(&state);
    while (remainder != 0 && x >= 0 - remainder) x = SplitMix64(&state);
    std::swap(order[i], order[x % bound]);
  }
  return order;
}

absl::StatusOr<CalibrationData> ParseCalibrationData(absl::string_view contents,
                                                     CalibrationFormat format,
                                                     absl::string_view source,
                                                     const Tokenizer* tokenizer,
                                                     const CalibrationOptions& options) {
  if (options.num_samples <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "num_samples must be at least 1 (got ", options.num_samples, ")"));
  }
  if (options.eval_samples < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "eval_samples must be 0 or more (got ", options.eval_samples, ")"));
  }
  std::vector<Record> records;
  if (format == CalibrationFormat::kJsonLines) {
    WRING_ASSIGN_OR_RETURN(records, ReadJsonLines(contents, source));
  } else {
    records = ReadText(contents);
  }
  CalibrationData data;
  data.records_available = static_cast<int64_t>(records.size());
  if (records.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": no calibration samples found"));
  }
  std::vector<int64_t> order;
  if (options.shuffle) {
    order = ShuffledOrder(data.records_available, options.seed);
  } else {
    for (int64_t i = 0; i < data.records_available; ++i) order.push_back(i);
  }
  for (int64_t index : order) {
    const bool calibration_full =
        static_cast<int64_t>(data.calibration.size()) >= options.num_samples;
    if (calibration_full && static_cast<int64_t>(data.evaluation.size()) >= options.eval_samples) {
      break;
    }
    WRING_ASSIGN_OR_RETURN(std::vector<int64_t> ids,
                           Tokenize(records[index], source, tokenizer, options));
    if (ids.empty()) continue;
    (calibration_full ? data.evaluation : data.calibration).push_back({std::move(ids)});
  }
  return data;
}

absl::StatusOr<CalibrationData> LoadCalibrationData(const std::string& path,
                                                    const Tokenizer* tokenizer,
                                                    const CalibrationOptions& options) {
  CalibrationFormat format;
  if (absl::EndsWith(path, ".jsonl")) {
    format = CalibrationFormat::kJsonLines;
  } else if (absl::EndsWith(path, ".txt")) {
    format = CalibrationFormat::kText;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": unknown calibration file type; use .jsonl (one {\"text\": ...} or "
              "{\"input_ids\": [...]} per line) or .txt (samples separated by blank lines)"));
  }
  WRING_ASSIGN_OR_RETURN(std::string text, mapping::ReadFile(path, "calibration dataset"));
  return ParseCalibrationData(text, format, path, tokenizer, options);
}

absl::Status ValidateTokenIds(const std::vector<CalibrationSample>& samples,
                              int64_t vocab_size, absl::string_view source) {
  for (size_t i = 0; i < samples.size(); ++i) {
    const std::vector<int64_t>& ids = samples[i].input_ids;
    for (size_t k = 0; k < ids.size(); ++k) {
      if (ids[k] < 0 || ids[k] >= vocab_size) {
        return absl::InvalidArgumentError(absl::StrCat(
            source, ": sample ", i, ": token id ", ids[k], " at position ", k,
            " is outside the model's vocabulary (vocab_size ", vocab_size,
            "); the ids were made with a different tokenizer"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace data
}  // namespace backend
}  // namespace wring
