#include "backend/data/tokenizer.h"

#include <algorithm>
#include <utility>
#include <variant>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "backend/data/internal/added_tokens.h"
#include "backend/data/internal/bpe.h"
#include "backend/data/internal/nfc.h"
#include "backend/data/internal/split_regex.h"
#include "backend/data/internal/utf8.h"
#include "backend/data/internal/json_util.h"
#include "mapping/base/file.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace data {
namespace internal {

struct ByteLevelStep {
  bool add_prefix_space = false;
  std::optional<SplitRegex> regex;  // set when use_regex
};
using PreTokenizerStep = std::variant<SplitRegex, ByteLevelStep>;

struct TokenizerPipeline {
  AddedTokenSplitter raw_added_tokens;         // normalized == false
  AddedTokenSplitter normalized_added_tokens;  // normalized == true
  absl::flat_hash_map<std::string, int64_t> added_token_ids;
  int64_t max_added_id = -1;
  bool nfc = false;
  std::vector<PreTokenizerStep> pre_tokenizer;
  std::optional<BpeModel> model;
  std::vector<int64_t> prefix_ids;  // the single template before $A
  std::vector<int64_t> suffix_ids;  // and after it
  bool template_starts_with_special = false;
};

}  // namespace internal

namespace {

using internal::AddedToken;
using internal::ByteLevelStep;
using internal::PreTokenizerStep;
using internal::TokenizerPipeline;
using Json = internal::TokenizerJson;
using internal::JsonBool;
using internal::JsonInt;
using internal::JsonMember;
using internal::JsonString;

absl::Status FieldError(absl::string_view path, absl::string_view field,
                        absl::string_view detail) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", field, ": ", detail));
}

std::string TypeOf(const Json& component) {
  return JsonString(component, "type").value_or("");
}

// The reference ignores the ids written in added_tokens: a token already in
// the model's vocabulary keeps that id, the others are numbered from the
// vocabulary's size on, in file order (the same ids for real files, whose
// vocabularies have no holes).
absl::Status ParseAddedTokens(const Json& root, absl::string_view path,
                              TokenizerPipeline* pipeline) {
  const Json* list = JsonMember(root, "added_tokens");
  if (list == nullptr || list->is_null()) return absl::OkStatus();
  if (!list->is_array()) return FieldError(path, "added_tokens", "expected an array");
  std::vector<AddedToken> tokens;
  int64_t next_id = pipeline->model->vocab_count();
  for (size_t i = 0; i < list->size(); ++i) {
    const Json& entry = (*list)[i];
    const std::string field = absl::StrCat("added_tokens[", i, "]");
    const auto id = JsonInt(entry, "id");
    const auto content = JsonString(entry, "content");
    if (!id.has_value() || *id < 0 || !content.has_value()) {
      return FieldError(path, field, "expected an object with a non-negative \"id\" "
                                     "and a string \"content\"");
    }
    AddedToken token;
    token.content = *content;
    if (token.content.empty()) continue;  // never matches; the reference skips it
    token.single_word = JsonBool(entry, "single_word").value_or(false);
    token.lstrip = JsonBool(entry, "lstrip").value_or(false);
    token.rstrip = JsonBool(entry, "rstrip").value_or(false);
    token.special = JsonBool(entry, "special").value_or(false);
    // The reference's default: special tokens are not normalized.
    token.normalized = JsonBool(entry, "normalized").value_or(!token.special);
    auto known = pipeline->added_token_ids.find(token.content);
    if (known != pipeline->added_token_ids.end()) {
      token.id = known->second;  // a repeated token: the last entry's flags win
      tokens.erase(std::remove_if(tokens.begin(), tokens.end(),
                                  [&](const AddedToken& t) { return t.content == token.content; }),
                   tokens.end());
    } else if (auto model_id = pipeline->model->TokenToId(token.content)) {
      token.id = *model_id;
    } else {
      token.id = next_id++;
    }
    pipeline->added_token_ids[token.content] = token.id;
    pipeline->max_added_id = std::max(pipeline->max_added_id, token.id);
    tokens.push_back(std::move(token));
  }
  std::vector<AddedToken> raw, normalized;
  for (AddedToken& token : tokens) {
    (token.normalized ? normalized : raw).push_back(std::move(token));
  }
  pipeline->raw_added_tokens = internal::AddedTokenSplitter(std::move(raw));
  pipeline->normalized_added_tokens = internal::AddedTokenSplitter(std::move(normalized));
  return absl::OkStatus();
}

absl::Status ParseNormalizer(const Json& normalizer, absl::string_view path,
                             absl::string_view field, TokenizerPipeline* pipeline) {
  if (normalizer.is_null()) return absl::OkStatus();
  const std::string type = TypeOf(normalizer);
  if (type == "NFC") {
    pipeline->nfc = true;
    return absl::OkStatus();
  }
  if (type == "Sequence") {
    const Json* steps = JsonMember(normalizer, "normalizers");
    if (steps == nullptr || !steps->is_array()) {
      return FieldError(path, field, "Sequence without a \"normalizers\" array");
    }
    for (size_t i = 0; i < steps->size(); ++i) {
      WRING_RETURN_IF_ERROR(ParseNormalizer((*steps)[i], path,
                                            absl::StrCat(field, ".normalizers[", i, "]"),
                                            pipeline));
    }
    return absl::OkStatus();
  }
  return FieldError(path, field,
                    absl::StrCat("normalizer type \"", type,
                                 "\" is not supported (supported: NFC, Sequence)"));
}

absl::Status ParsePreTokenizer(const Json& pre_tokenizer, absl::string_view path,
                               absl::string_view field, TokenizerPipeline* pipeline) {
  if (pre_tokenizer.is_null()) return absl::OkStatus();
  const std::string type = TypeOf(pre_tokenizer);
  if (type == "Sequence") {
    const Json* steps = JsonMember(pre_tokenizer, "pretokenizers");
    if (steps == nullptr || !steps->is_array()) {
      return FieldError(path, field, "Sequence without a \"pretokenizers\" array");
    }
    for (size_t i = 0; i < steps->size(); ++i) {
      WRING_RETURN_IF_ERROR(ParsePreTokenizer(
          (*steps)[i], path, absl::StrCat(field, ".pretokenizers[", i, "]"), pipeline));
    }
    return absl::OkStatus();
  }
  if (type == "ByteLevel") {
    ByteLevelStep step;
    step.add_prefix_space = JsonBool(pre_tokenizer, "add_prefix_space").value_or(true);
    if (JsonBool(pre_tokenizer, "use_regex").value_or(true)) {
      WRING_ASSIGN_OR_RETURN(step.regex,
                             internal::SplitRegex::Compile(internal::kGpt2SplitPattern));
    }
    pipeline->pre_tokenizer.emplace_back(std::move(step));
    return absl::OkStatus();
  }
  if (type == "Split") {
    const std::string behavior = JsonString(pre_tokenizer, "behavior").value_or("");
    if (behavior != "Isolated") {
      return FieldError(path, field, absl::StrCat("Split behavior \"", behavior,
                                                  "\" is not supported (only Isolated)"));
    }
    if (JsonBool(pre_tokenizer, "invert").value_or(false)) {
      return FieldError(path, field, "Split with invert=true is not supported");
    }
    const Json* pattern = JsonMember(pre_tokenizer, "pattern");
    absl::StatusOr<internal::SplitRegex> regex =
        absl::InvalidArgumentError("expected pattern {\"Regex\": ...} or {\"String\": ...}");
    if (pattern != nullptr && JsonString(*pattern, "Regex")) {
      regex = internal::SplitRegex::Compile(*JsonString(*pattern, "Regex"));
    } else if (pattern != nullptr && JsonString(*pattern, "String")) {
      regex = internal::SplitRegex::Literal(*JsonString(*pattern, "String"));
    }
    if (!regex.ok()) return FieldError(path, field, regex.status().message());
    pipeline->pre_tokenizer.emplace_back(*std::move(regex));
    return absl::OkStatus();
  }
  return FieldError(path, field,
                    absl::StrCat("pre-tokenizer type \"", type,
                                 "\" is not supported (supported: ByteLevel, Split, "
                                 "Sequence)"));
}

absl::Status ParseTemplate(const Json& processor, absl::string_view path,
                           absl::string_view field, TokenizerPipeline* pipeline) {
  const Json* single = JsonMember(processor, "single");
  const Json* specials = JsonMember(processor, "special_tokens");
  if (single == nullptr || !single->is_array()) {
    return FieldError(path, field, "TemplateProcessing without a \"single\" array");
  }
  bool seen_sequence = false;
  for (size_t i = 0; i < single->size(); ++i) {
    const Json& piece = (*single)[i];
    if (const Json* sequence = JsonMember(piece, "Sequence")) {
      if (JsonString(*sequence, "id").value_or("") != "A" || seen_sequence) {
        return FieldError(path, field, "the single template must contain $A once");
      }
      seen_sequence = true;
      continue;
    }
    const Json* special = JsonMember(piece, "SpecialToken");
    const auto name = special ? JsonString(*special, "id") : std::nullopt;
    const Json* entry = name && specials ? JsonMember(*specials, *name) : nullptr;
    const Json* ids = entry ? JsonMember(*entry, "ids") : nullptr;
    if (ids == nullptr || !ids->is_array()) {
      return FieldError(path, absl::StrCat(field, ".single[", i, "]"),
                        "expected a SpecialToken listed in special_tokens with its ids");
    }
    if (i == 0) pipeline->template_starts_with_special = true;
    for (const Json& id : *ids) {
      if (!id.is_number_integer()) {
        return FieldError(path, field, absl::StrCat("special token \"", *name,
                                                    "\" has a non-integer id"));
      }
      (seen_sequence ? pipeline->suffix_ids : pipeline->prefix_ids).push_back(id.get<int64_t>());
    }
  }
  if (!seen_sequence) return FieldError(path, field, "the single template has no $A");
  return absl::OkStatus();
}

absl::Status ParsePostProcessor(const Json& processor, absl::string_view path,
                                absl::string_view field, TokenizerPipeline* pipeline) {
  if (processor.is_null()) return absl::OkStatus();
  const std::string type = TypeOf(processor);
  if (type == "ByteLevel") return absl::OkStatus();  // only changes offsets
  if (type == "TemplateProcessing") return ParseTemplate(processor, path, field, pipeline);
  if (type == "Sequence") {
    const Json* steps = JsonMember(processor, "processors");
    if (steps == nullptr || !steps->is_array()) {
      return FieldError(path, field, "Sequence without a \"processors\" array");
    }
    for (size_t i = 0; i < steps->size(); ++i) {
      WRING_RETURN_IF_ERROR(ParsePostProcessor(
          (*steps)[i], path, absl::StrCat(field, ".processors[", i, "]"), pipeline));
    }
    return absl::OkStatus();
  }
  return FieldError(path, field,
                    absl::StrCat("post-processor type \"", type,
                                 "\" is not supported (supported: ByteLevel, "
                                 "TemplateProcessing, Sequence)"));
}

// Runs the pre-tokenizer steps over one segment and the model over the words.
void EncodeSegment(const TokenizerPipeline& pipeline, absl::string_view segment,
                   std::vector<int64_t>* ids) {
  std::vector<std::string> pieces = {std::string(segment)};
  for (const PreTokenizerStep& step : pipeline.pre_tokenizer) {
    std::vector<std::string> next;
    for (std::string& piece : pieces) {
      if (const auto* split = std::get_if<internal::SplitRegex>(&step)) {
        for (absl::string_view part : split->SplitIsolated(piece)) next.emplace_back(part);
        continue;
      }
      const auto& byte_level = std::get<ByteLevelStep>(step);
      if (byte_level.add_prefix_space && piece.rfind(" ", 0) != 0) piece.insert(0, " ");
      if (byte_level.regex.has_value()) {
        for (absl::string_view part : byte_level.regex->SplitIsolated(piece)) {
          next.push_back(internal::ByteLevelEncode(part));
        }
      } else {
        next.push_back(internal::ByteLevelEncode(piece));
      }
    }
    pieces = std::move(next);
  }
  for (const std::string& word : pieces) pipeline.model->Tokenize(word, ids);
}

}  // namespace

absl::StatusOr<Tokenizer> Tokenizer::FromJson(absl::string_view tokenizer_json,
                                              absl::string_view path) {
  Json root = Json::parse(tokenizer_json.begin(), tokenizer_json.end(), nullptr,
                          /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not valid JSON (is it a Hugging Face tokenizer.json?)"));
  }
  if (!root.is_object()) return FieldError(path, "top level", "expected an object");
  auto pipeline = std::make_shared<TokenizerPipeline>();
  const Json null_json;
  auto member = [&](const char* key) -> const Json& {
    const Json* value = JsonMember(root, key);
    return value != nullptr ? *value : null_json;
  };
  WRING_ASSIGN_OR_RETURN(pipeline->model, internal::BpeModel::FromJson(member("model"), path));
  WRING_RETURN_IF_ERROR(ParseAddedTokens(root, path, pipeline.get()));
  WRING_RETURN_IF_ERROR(ParseNormalizer(member("normalizer"), path, "normalizer", pipeline.get()));
  WRING_RETURN_IF_ERROR(
      ParsePreTokenizer(member("pre_tokenizer"), path, "pre_tokenizer", pipeline.get()));
  WRING_RETURN_IF_ERROR(
      ParsePostProcessor(member("post_processor"), path, "post_processor", pipeline.get()));
  return Tokenizer(std::move(pipeline));
}

absl::StatusOr<Tokenizer> Tokenizer::FromFile(const std::string& path) {
  WRING_ASSIGN_OR_RETURN(std::string text, mapping::ReadFile(path, "tokenizer"));
  return FromJson(text, path);
}

absl::StatusOr<std::vector<int64_t>> Tokenizer::Encode(absl::string_view text,
                                                        bool add_special_tokens,
                                                        std::optional<int64_t> max_length) const {
  WRING_RETURN_IF_ERROR(internal::ValidateUtf8(text));
  const TokenizerPipeline& pipeline = *pipeline_;
  std::vector<int64_t> ids;
  for (const internal::Segment& raw : pipeline.raw_added_tokens.Split(text)) {
    if (raw.id.has_value()) {
      ids.push_back(*raw.id);
      continue;
    }
    const std::string normalized =
        pipeline.nfc ? internal::NormalizeNfc(raw.text) : std::string(raw.text);
    for (const internal::Segment& segment : pipeline.normalized_added_tokens.Split(normalized)) {
      if (segment.id.has_value()) {
        ids.push_back(*segment.id);
      } else {
        EncodeSegment(pipeline, segment.text, &ids);
      }
    }
  }
  if (max_length.has_value()) {
    const int64_t reserved = add_special_tokens ? num_special_tokens_to_add() : 0;
    if (*max_length < reserved) {
      return absl::InvalidArgumentError(absl::StrCat(
          "max_length ", *max_length, " leaves no room for the ", reserved,
          " special tokens the tokenizer adds"));
    }
    if (static_cast<int64_t>(ids.size()) > *max_length - reserved) {
      ids.resize(*max_length - reserved);
    }
  }
  if (!add_special_tokens) return ids;
  std::vector<int64_t> result = pipeline.prefix_ids;
  result.insert(result.end(), ids.begin(), ids.end());
  result.insert(result.end(), pipeline.suffix_ids.begin(), pipeline.suffix_ids.end());
  return result;
}

std::optional<int64_t> Tokenizer::bos_token_id() const {
  if (!pipeline_->template_starts_with_special || pipeline_->prefix_ids.empty()) {
    return std::nullopt;
  }
  return pipeline_->prefix_ids.front();
}

int64_t Tokenizer::num_special_tokens_to_add() const {
  return static_cast<int64_t>(pipeline_->prefix_ids.size() + pipeline_->suffix_ids.size());
}

int64_t Tokenizer::vocab_size() const {
  int64_t max_id = std::max(pipeline_->model->max_id(), pipeline_->max_added_id);
  for (int64_t id : pipeline_->prefix_ids) max_id = std::max(max_id, id);
  for (int64_t id : pipeline_->suffix_ids) max_id = std::max(max_id, id);
  return max_id + 1;
}

std::optional<int64_t> Tokenizer::TokenToId(absl::string_view token) const {
  auto it = pipeline_->added_token_ids.find(token);
  if (it != pipeline_->added_token_ids.end()) return it->second;
  return pipeline_->model->TokenToId(token);
}

}  // namespace data
}  // namespace backend
}  // namespace wring
