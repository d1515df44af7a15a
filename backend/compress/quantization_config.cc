#include "backend/compress/quantization_config.h"

#include <algorithm>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "mapping/quantization/format_inference.h"
#include "mapping/quantization/quantization_args.h"
#include "mapping/quantization/quantization_scheme.h"

namespace wring {
namespace backend {
namespace compress {

namespace {

using mapping::CompressionFormat;
using mapping::Json;
using mapping::ModuleSchemeAssignment;
using mapping::QuantizationScheme;
using mapping::SchemeAttachment;

// One config group: the first module (in named_modules order) holding a
// scheme equal to it decides the format written for it, because upstream
// keeps that module's scheme object in config_groups and
// infer_model_format sets `format` on it.
struct ConfigGroup {
  QuantizationScheme scheme;
  CompressionFormat format = CompressionFormat::kDense;
};

}  // namespace

namespace {

// re.search(r"Gate(?![a-z])", name): "Gate" not followed by a lower-case
// letter, so DeepseekV3Gate and GateUp count but GatedDeltaNet does not.
bool HasGateWord(absl::string_view name) {
  for (size_t at = name.find("Gate"); at != absl::string_view::npos;
       at = name.find("Gate", at + 1)) {
    const size_t next = at + 4;
    if (next >= name.size() || name[next] < 'a' || name[next] > 'z') return true;
  }
  return false;
}

}  // namespace

std::string VllmModuleType(absl::string_view class_name) {
  if (!absl::StrContains(class_name, "ExpertMLP") &&
      (absl::StrContains(class_name, "Router") || absl::StrContains(class_name, "Gating") ||
       HasGateWord(class_name))) {
    return "Linear";
  }
  return std::string(class_name);
}

Json SortKeysRecursively(const Json& value) {
  if (value.is_array()) {
    Json sorted = Json::array();
    for (const Json& element : value) sorted.push_back(SortKeysRecursively(element));
    return sorted;
  }
  if (!value.is_object()) return value;
  std::vector<std::string> keys;
  keys.reserve(value.size());
  for (auto it = value.begin(); it != value.end(); ++it) keys.push_back(it.key());
  std::sort(keys.begin(), keys.end());
  Json sorted = Json::object();
  for (const std::string& key : keys) {
    sorted[key] = SortKeysRecursively(*value.find(key));
  }
  return sorted;
}

absl::optional<Json> BuildQuantizationConfig(const mapping::ModuleTree& tree,
                                             const mapping::SchemeAssignments& assignments,
                                             const QuantizationConfigOptions& options) {
  std::vector<ConfigGroup> groups;
  std::vector<CompressionFormat> module_formats;
  std::vector<std::string> quantized_types;
  // Unquantized module names per vLLM type, types in first-seen order: the
  // ignore list is concatenated type by type, not in module order.
  std::vector<std::pair<std::string, std::vector<std::string>>> unquantized_by_type;
  absl::optional<Json> kv_cache_scheme;
  bool any_kv_cache = false;

  for (int index = 0; index < tree.size(); ++index) {
    const mapping::Module& module = tree.module(index);
    const std::string type = VllmModuleType(module.class_name);
    const ModuleSchemeAssignment* assignment = assignments.Find(index);
    // A cached attention module holding only the KV-cache scheme contributes
    // kv_cache_scheme, and a config group only with a hooked attention impl.
    const bool has_config_group =
        assignment != nullptr &&
        (assignment->attachment != SchemeAttachment::kKvCache || options.hooked_attention);

    if (assignment != nullptr) {
      const QuantizationScheme& scheme = assignments.scheme(*assignment);
      const CompressionFormat format = mapping::ResolveModuleFormat(
          mapping::IsCompressibleModuleType(module), scheme, options.override_format);
      module_formats.push_back(format);
      if (has_config_group) {
        if (std::find(quantized_types.begin(), quantized_types.end(), type) == quantized_types.end()) {
          quantized_types.push_back(type);
        }
        const bool seen = std::any_of(groups.begin(), groups.end(),
                                      [&](const ConfigGroup& group) { return group.scheme == scheme; });
        if (!seen) groups.push_back({scheme, format});
      }
      if (mapping::IsCachedAttentionModule(tree, index)) {
        any_kv_cache = true;
        kv_cache_scheme = scheme.input_activations
                              ? absl::optional<Json>(mapping::QuantizationArgsToJson(*scheme.input_activations))
                              : absl::nullopt;
      }
    }
    if (!has_config_group) {
      auto it = std::find_if(unquantized_by_type.begin(), unquantized_by_type.end(),
                             [&](const auto& entry) { return entry.first == type; });
      if (it == unquantized_by_type.end()) {
        unquantized_by_type.emplace_back(type, std::vector<std::string>());
        it = std::prev(unquantized_by_type.end());
      }
      it->second.push_back(module.name);
    }
  }
  if (groups.empty() && !any_kv_cache) return absl::nullopt;

  Json ignore = Json::array();
  for (const auto& [type, names] : unquantized_by_type) {
    if (std::find(quantized_types.begin(), quantized_types.end(), type) == quantized_types.end()) continue;
    for (const std::string& name : names) ignore.push_back(name);
  }

  Json config_groups = Json::object();
  for (size_t i = 0; i < groups.size(); ++i) {
    QuantizationScheme scheme = groups[i].scheme;
    scheme.format = groups[i].format;
    config_groups[absl::StrCat("group_", i)] = mapping::QuantizationSchemeToJson(scheme);
  }

  Json config = Json::object();
  config["version"] = options.version;
  config["quant_method"] = "compressed-tensors";
  config["sparsity_config"] = Json::object();
  config["transform_config"] = Json::object();
  config["config_groups"] = std::move(config_groups);
  config["kv_cache_scheme"] = kv_cache_scheme ? *kv_cache_scheme : Json(nullptr);
  config["format"] = std::string(mapping::CompressionFormatName(mapping::SummarizeModelFormat(module_formats)));
  config["quantization_status"] = "compressed";
  config["global_compression_ratio"] = nullptr;
  config["ignore"] = std::move(ignore);
  return SortKeysRecursively(config);
}

}  // namespace compress
}  // namespace backend
}  // namespace wring
