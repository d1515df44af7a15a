#include "validator_wasm/validator_api.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/types/optional.h"
#include "mapping/archs/architectures.h"
#include "mapping/base/json.h"
#include "mapping/base/status_macros.h"
#include "mapping/check/check.h"
#include "mapping/check/version.h"
#include "mapping/model/model_input.h"
#include "mapping/model/model_text.h"
#include "mapping/model/safetensors.h"
#include "mapping/proto/recipe.pb.h"
#include "mapping/proto/report.pb.h"
#include "mapping/recipe/recipe_parser.h"
#include "mapping/report/report_json.h"

namespace wring {
namespace mapping {
namespace validator {
namespace {

// Names the inputs in messages; the page has no file paths.
constexpr char kModelSource[] = "model";
constexpr char kConfigSource[] = "config.json";
constexpr char kRecipeSource[] = "recipe";
constexpr char kHeadersSource[] = "safetensors headers";

// A config.json is small; a module dump is not. Only small JSON objects are
// worth a second look as a possible config given in place of the model.
constexpr size_t kMaxConfigBytes = size_t{1} << 20;

absl::StatusOr<Json> ParseConfig(absl::string_view text, absl::string_view source) {
  if (absl::StripAsciiWhitespace(text).empty()) return Json::object();
  WRING_ASSIGN_OR_RETURN(Json config, ParseJson(text, source));
  if (!config.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": config.json must be a JSON object, got ", JsonTypeName(config)));
  }
  return config;
}

absl::StatusOr<ModelInput> ModelFromInputs(absl::string_view model_text,
                                           absl::string_view config_text) {
  WRING_ASSIGN_OR_RETURN(Json config, ParseConfig(config_text, kConfigSource));
  absl::string_view trimmed = absl::StripAsciiWhitespace(model_text);
  if (trimmed.empty()) {
    if (config.empty()) {
      return absl::InvalidArgumentError(
          "no model given: give a module list, a module dump, "
          "model.safetensors.index.json or .safetensors files, or a config.json alone for a "
          "known architecture");
    }
    return ModelFromConfig(config, kConfigSource);
  }
  if (trimmed.front() == '{' && trimmed.size() <= kMaxConfigBytes) {
    absl::StatusOr<Json> document = ParseJson(trimmed, kModelSource);
    if (document.ok() && IsModelConfig(*document)) {
      return ModelFromConfig(*document, kModelSource);
    }
  }
  return ModelFromText(model_text, kModelSource, config);
}

// One element of the `headers` array, turned back into the file's first
// 8 + N bytes so the header goes through the same validation as a file's.
absl::StatusOr<SafetensorsHeader> ShardHeader(const Json& shard, size_t index) {
  const std::string where = absl::StrCat(kHeadersSource, "[", index, "]");
  if (!shard.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": expected an object {\"name\", \"header\", \"size\"}, got ",
        JsonTypeName(shard)));
  }
  absl::optional<std::string> name = JsonString(shard, "name");
  absl::optional<std::string> header = JsonString(shard, "header");
  absl::optional<int64_t> size = JsonInt(shard, "size");
  if (!name.has_value() || name->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".name: expected the shard's file name (a non-empty string)"));
  }
  if (!header.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ".header: expected the header's JSON text (the bytes after the 8-byte length) "
        "as a string"));
  }
  if (!size.has_value() || *size < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ".size: expected the file's size in bytes (a non-negative integer)"));
  }
  std::string prefix(8, '\0');
  uint64_t length = header->size();
  for (int i = 0; i < 8; ++i) prefix[i] = static_cast<char>((length >> (8 * i)) & 0xff);
  prefix += *header;
  return ParseSafetensorsHeader(prefix, static_cast<uint64_t>(*size), *name);
}

absl::StatusOr<ModelInput> ModelFromHeaders(absl::string_view headers_text,
                                            absl::string_view config_text) {
  WRING_ASSIGN_OR_RETURN(Json config, ParseConfig(config_text, kConfigSource));
  WRING_ASSIGN_OR_RETURN(Json headers, ParseJson(headers_text, kHeadersSource));
  if (!headers.is_array() || headers.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        kHeadersSource, ": expected a non-empty JSON array of {\"name\", \"header\", \"size\"}"));
  }
  std::vector<std::pair<std::string, SafetensorsHeader>> shards;
  for (size_t i = 0; i < headers.size(); ++i) {
    WRING_ASSIGN_OR_RETURN(SafetensorsHeader header, ShardHeader(headers[i], i));
    shards.emplace_back(*JsonString(headers[i], "name"), std::move(header));
  }
  // As for a checkpoint directory: shards in file-name order.
  std::stable_sort(shards.begin(), shards.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<SafetensorsHeader> ordered;
  ordered.reserve(shards.size());
  for (auto& shard : shards) ordered.push_back(std::move(shard.second));
  const std::string source = shards.size() == 1
                                 ? shards[0].first
                                 : absl::StrCat(shards.size(), " .safetensors files");
  return ModelFromSafetensorsHeaders(ordered, config, source);
}

double MillisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

// The check after the model is read; `timings`, when given, receives how long
// resolution (CheckRecipe) and the JSON report took.
std::string CheckModel(absl::StatusOr<ModelInput> model, absl::string_view recipe_text,
                       CheckTimings* timings = nullptr) {
  if (!model.ok()) return UnusableInputReport(model.status());
  absl::optional<recipe::Recipe> recipe;
  if (!absl::StripAsciiWhitespace(recipe_text).empty()) {
    auto parsed = ParseRecipe(recipe_text, kRecipeSource);
    if (!parsed.ok()) return UnusableInputReport(parsed.status());
    recipe = *std::move(parsed);
  }
  // The clock is read only when profiling: a plain check needs no timer.
  const int modules = model->tree.size();
  std::chrono::steady_clock::time_point start;
  if (timings != nullptr) start = std::chrono::steady_clock::now();
  auto report = CheckRecipe(*std::move(model), recipe.has_value() ? &*recipe : nullptr);
  if (timings != nullptr) {
    timings->resolve_ms = MillisecondsSince(start);
    timings->modules = modules;
  }
  if (!report.ok()) return UnusableInputReport(report.status());
  if (timings != nullptr) start = std::chrono::steady_clock::now();
  std::string json = ReportToJson(*report);
  if (timings != nullptr) {
    timings->report_ms = MillisecondsSince(start);
    timings->exit_code = report->verdict().exit_code();
    timings->resolved_awq_mappings = report->awq().resolved_size();
  }
  return json;
}

}  // namespace

std::string UnusableInputReport(const absl::Status& error) {
  return ReportToJson(mapping::UnusableInputReport(error));
}

std::string Check(absl::string_view model, absl::string_view config, absl::string_view recipe) {
  return CheckModel(ModelFromInputs(model, config), recipe);
}

CheckTimings ProfileCheck(absl::string_view model, absl::string_view config,
                          absl::string_view recipe) {
  CheckTimings timings;
  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<ModelInput> input = ModelFromInputs(model, config);
  timings.read_model_ms = MillisecondsSince(start);
  CheckModel(std::move(input), recipe, &timings);
  timings.total_ms = MillisecondsSince(start);
  return timings;
}

std::string CheckTimingsToJson(const CheckTimings& t) {
  return absl::StrFormat(
      "{\"read_model_ms\": %.3f, \"resolve_ms\": %.3f, \"report_ms\": %.3f, "
      "\"total_ms\": %.3f, \"modules\": %d, \"resolved_awq_mappings\": %d, "
      "\"exit_code\": %d}",
      t.read_model_ms, t.resolve_ms, t.report_ms, t.total_ms, t.modules,
      t.resolved_awq_mappings, t.exit_code);
}

std::string CheckSafetensors(absl::string_view headers, absl::string_view config,
                             absl::string_view recipe) {
  return CheckModel(ModelFromHeaders(headers, config), recipe);
}

std::string DefaultRecipe() { return DefaultAwqW4A16Recipe(); }

std::string KnownArchitecturesJson() {
  Json names = Json::array();
  for (const std::string& name : KnownArchitectures()) names.push_back(name);
  return names.dump();
}

std::string Version() { return kWringVersion; }

}  // namespace validator
}  // namespace mapping
}  // namespace wring
