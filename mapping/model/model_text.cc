#include "mapping/model/model_text.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "mapping/base/status_macros.h"
#include "mapping/model/fixture_format.h"
#include "mapping/model/module_list.h"
#include "mapping/model/tensor_names.h"

namespace wring {
namespace mapping {
namespace {

std::string ArchitectureOf(const Json& config) {
  if (const Json* archs = JsonMember(config, "architectures")) {
    if (archs->is_array() && !archs->empty() && (*archs)[0].is_string()) {
      return (*archs)[0].get<std::string>();
    }
  }
  return "";
}

bool LooksLikeSafetensorsFile(absl::string_view text) {
  if (text.size() < 10 || text[8] != '{') return false;
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(text[i]);
  return n >= 2 && n <= kMaxSafetensorsHeaderBytes;
}

}  // namespace

absl::StatusOr<ModelInput> ModelFromSafetensorsHeaders(absl::Span<const SafetensorsHeader> shards,
                                                       const Json& config,
                                                       absl::string_view source) {
  std::vector<NamedTensor> tensors;
  for (const SafetensorsHeader& shard : shards) {
    for (const SafetensorsTensor& t : shard.tensors) tensors.push_back({t.name, t.shape, true});
  }
  return ModelFromTensorNames(tensors, config, source);
}

absl::StatusOr<ModelInput> ModelFromText(absl::string_view text, absl::string_view source,
                                         const Json& config) {
  const Json& cfg = config.is_object() ? config : Json::object();
  if (LooksLikeSafetensorsFile(text)) {
    WRING_ASSIGN_OR_RETURN(SafetensorsHeader header,
                           ParseSafetensorsHeader(text, text.size(), source));
    return ModelFromSafetensorsHeaders({header}, cfg, source);
  }
  absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(text);
  if (trimmed.size() >= 3 && trimmed.substr(0, 3) == "\xEF\xBB\xBF") trimmed.remove_prefix(3);
  if (!trimmed.empty() && (trimmed[0] == '{' || trimmed[0] == '[')) {
    WRING_ASSIGN_OR_RETURN(Json document, ParseJson(trimmed, source));
    if (IsModuleDump(document)) {
      WRING_ASSIGN_OR_RETURN(ModelInput model, ModelFromModuleDump(document, source));
      if (JsonMember(document, "config") == nullptr) model.config = cfg;
      if (model.architecture.empty()) model.architecture = ArchitectureOf(cfg);
      return model;
    }
    if (IsSafetensorsIndex(document)) {
      WRING_ASSIGN_OR_RETURN(SafetensorsIndex index, ParseSafetensorsIndex(document, source));
      std::vector<NamedTensor> tensors;
      tensors.reserve(index.weight_map.size());
      for (const auto& entry : index.weight_map) tensors.push_back({entry.first, {}, false});
      return ModelFromTensorNames(tensors, cfg, source);
    }
    if (JsonMember(document, "architectures") != nullptr ||
        JsonMember(document, "model_type") != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          source,
          ": this is a config.json, which holds no module structure; give the model's "
          "directory, its .safetensors files or model.safetensors.index.json, or a module list "
          "(one named_modules() name per line)"));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": unrecognized JSON (", JsonTypeName(document),
        "): expected a module dump (an object with \"modules\") or "
        "model.safetensors.index.json (an object with \"weight_map\")"));
  }
  WRING_ASSIGN_OR_RETURN(ModelInput model, ModelFromModuleList(text, source, ArchitectureOf(cfg)));
  model.config = cfg;
  return model;
}

}  // namespace mapping
}  // namespace wring
