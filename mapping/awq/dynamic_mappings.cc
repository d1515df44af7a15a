#include "mapping/awq/dynamic_mappings.h"

#include <algorithm>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "mapping/base/python_repr.h"
#include "mapping/match/matchers.h"
#include "re2/re2.h"

namespace wring {
namespace mapping {
namespace {

// _get_config_metadata: text_config's value when it has a non-null one,
// else the top level's.
const Json* ConfigField(const Json& config, absl::string_view field) {
  if (const Json* text = JsonMember(config, "text_config")) {
    const Json* value = JsonMember(*text, field);
    if (value != nullptr && !value->is_null()) return value;
  }
  const Json* value = JsonMember(config, field);
  return (value != nullptr && !value->is_null()) ? value : nullptr;
}

std::string JoinIndices(const std::vector<int64_t>& indices) {
  return absl::StrJoin(indices, "|");
}

AwqMapping M(std::string smooth, std::vector<std::string> balance) {
  return AwqMapping{std::move(smooth), std::move(balance), absl::nullopt};
}

// _detect_linear_attn_projections: in_proj_* submodules under any
// ".linear_attn.", first-seen order, deduplicated.
std::vector<std::string> DetectLinearAttentionProjections(const ModuleTree& tree) {
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const Module& m : tree.modules()) {
    if (!absl::StrContains(m.name, ".linear_attn.")) continue;
    size_t at = m.name.rfind("linear_attn.");
    std::string sub = m.name.substr(at + std::string("linear_attn.").size());
    if (absl::StartsWith(sub, "in_proj_") && seen.insert(sub).second) names.push_back(sub);
  }
  return names;
}

std::string PythonBool(bool b) { return b ? "True" : "False"; }

}  // namespace

const char* AwqMappingSourceName(AwqMappingSource source) {
  switch (source) {
    case AwqMappingSource::kDynamic:
      return "dynamic";
    case AwqMappingSource::kRegistry:
      return "registry";
    case AwqMappingSource::kDefault:
      return "default";
    case AwqMappingSource::kRecipe:
      return "recipe";
  }
  return "default";
}

absl::optional<std::vector<std::string>> GetConfigLayerTypes(const Json& config) {
  const Json* types = ConfigField(config, "layer_types");
  if (types == nullptr || !types->is_array()) return absl::nullopt;
  std::vector<std::string> out;
  for (const Json& t : *types) {
    out.push_back(t.is_string() ? t.get_ref<const std::string&>() : std::string());
  }
  return out;
}

absl::optional<HybridAttentionConfig> GetHybridAttentionConfig(const Json& config) {
  absl::optional<std::vector<std::string>> types = GetConfigLayerTypes(config);
  const Json* num_layers = ConfigField(config, "num_hidden_layers");
  if (!types.has_value() || num_layers == nullptr || !num_layers->is_number_integer()) {
    return absl::nullopt;
  }
  auto has = [&](absl::string_view t) {
    return std::find(types->begin(), types->end(), t) != types->end();
  };
  if (!has("full_attention") || !has("linear_attention")) return absl::nullopt;
  return HybridAttentionConfig{*std::move(types), num_layers->get<int64_t>()};
}

bool IsMoeModel(const ModuleTree& tree, const Json& config) {
  for (const Module& m : tree.modules()) {
    if (absl::StrContains(m.class_name, "MoE") || absl::StrContains(m.class_name, "Expert")) {
      return true;
    }
  }
  if (!config.is_object()) return false;
  for (auto it = config.begin(); it != config.end(); ++it) {
    if (absl::StartsWith(it.key(), "_")) continue;
    std::string key = absl::AsciiStrToLower(it.key());
    if (absl::StrContains(key, "moe") || absl::StrContains(key, "expert")) return true;
  }
  return false;
}

absl::StatusOr<absl::optional<std::vector<AwqMapping>>> BuildHybridAttentionMappings(
    const ModuleTree& tree, const Json& config, std::vector<std::string>* log) {
  absl::optional<HybridAttentionConfig> hybrid = GetHybridAttentionConfig(config);
  if (!hybrid.has_value()) return absl::optional<std::vector<AwqMapping>>();
  std::vector<int64_t> full, linear;
  for (int64_t i = 0; i < hybrid->num_hidden_layers; ++i) {
    if (i >= static_cast<int64_t>(hybrid->layer_types.size())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "IndexError: list index out of range (config.layer_types has ",
          hybrid->layer_types.size(), " entries but num_hidden_layers is ",
          hybrid->num_hidden_layers,
          "; llm-compressor's build_hybrid_attention_mappings reads one entry per layer). "
          "Fix config.json so layer_types lists every decoder layer."));
    }
    if (hybrid->layer_types[i] == "full_attention") full.push_back(i);
    if (hybrid->layer_types[i] == "linear_attention") linear.push_back(i);
  }
  if (full.empty() || linear.empty()) {
    log->push_back(
        "WARNING Hybrid attention model detected but could not find indices for both full "
        "and linear attention layers. Falling back.");
    return absl::optional<std::vector<AwqMapping>>();
  }
  std::vector<std::string> projections = DetectLinearAttentionProjections(tree);
  const bool moe = IsMoeModel(tree, config);
  std::vector<AwqMapping> mappings;
  mappings.push_back(M(absl::StrCat("re:.*layers\\.(", JoinIndices(full), ")\\.input_layernorm$"),
                       {"re:.*self_attn.q_proj$", "re:.*self_attn.k_proj$",
                        "re:.*self_attn.v_proj$"}));
  if (!projections.empty()) {
    std::vector<std::string> balance;
    for (const std::string& p : projections) balance.push_back(absl::StrCat("re:.*linear_attn.", p, "$"));
    mappings.push_back(
        M(absl::StrCat("re:.*layers\\.(", JoinIndices(linear), ")\\.input_layernorm$"),
          std::move(balance)));
  }
  if (moe) {
    mappings.push_back(M("re:.*post_attention_layernorm$",
                         {"re:.*mlp.experts.*.gate_proj$", "re:.*mlp.experts.*.up_proj$",
                          "re:.*mlp.shared_expert_gate$", "re:.*mlp.shared_expert.gate_proj$",
                          "re:.*mlp.shared_expert.up_proj$"}));
  } else {
    mappings.push_back(M("re:.*post_attention_layernorm$", {"re:.*gate_proj$", "re:.*up_proj$"}));
  }
  mappings.push_back(M("re:.*up_proj$", {"re:.*down_proj$"}));
  log->push_back(absl::StrCat("INFO Built dynamic hybrid attention AWQ mappings: ", full.size(),
                              " full-attention layers, ", linear.size(),
                              " linear-attention layers, linear projections: ",
                              PythonListRepr(projections), ", MoE: ", PythonBool(moe)));
  return absl::optional<std::vector<AwqMapping>>(std::move(mappings));
}

absl::optional<std::vector<AwqMapping>> BuildStep3p5Mappings(const ModuleTree& tree,
                                                             std::vector<std::string>* log) {
  // _STEP3P5_FFN_LAYER_PATTERN applied with re.search.
  static const RE2* pattern = new RE2(Step3p5FfnLayerPattern());
  std::set<int64_t> dense, moe;
  for (const Module& m : tree.modules()) {
    std::string index, ffn;
    if (!RE2::PartialMatch(m.name, *pattern, &index, &ffn)) continue;
    int64_t i = 0;
    if (!absl::SimpleAtoi(index, &i)) continue;
    (ffn == "mlp" ? dense : moe).insert(i);
  }
  if (dense.empty() && moe.empty()) {
    log->push_back(
        "WARNING Step3p5 model detected but dense/MoE FFN layer indices could not be "
        "inferred. Falling back.");
    return absl::nullopt;
  }
  std::vector<AwqMapping> mappings = {
      M("re:.*input_layernorm$", {"re:.*self_attn.q_proj$", "re:.*self_attn.k_proj$",
                                  "re:.*self_attn.v_proj$", "re:.*self_attn.g_proj$"}),
      M("re:.*self_attn.v_proj$", {"re:.*self_attn.o_proj$"}),
  };
  std::vector<int64_t> dense_list(dense.begin(), dense.end()), moe_list(moe.begin(), moe.end());
  if (!dense_list.empty()) {
    mappings.push_back(M(
        absl::StrCat("re:.*layers\\.(", JoinIndices(dense_list), ")\\.post_attention_layernorm$"),
        {"re:.*mlp.gate_proj$", "re:.*mlp.up_proj$"}));
  }
  if (!moe_list.empty()) {
    mappings.push_back(M(
        absl::StrCat("re:.*layers\\.(", JoinIndices(moe_list), ")\\.post_attention_layernorm$"),
        {"re:.*moe.gate$", "re:.*moe.gate_proj$", "re:.*moe.up_proj$",
         "re:.*share_expert.gate_proj$", "re:.*share_expert.up_proj$"}));
  }
  mappings.push_back(
      M("re:.*(mlp|share_expert).up_proj$", {"re:.*(mlp|share_expert).down_proj$"}));
  log->push_back(absl::StrCat("INFO Built dynamic Step3p5 AWQ mappings: ", dense_list.size(),
                              " dense layers, ", moe_list.size(), " MoE layers"));
  return mappings;
}

bool HasDynamicAwqBuilder(absl::string_view architecture) {
  return DynamicAwqBuilderName(architecture).has_value();
}

bool IsImplementedDynamicAwqBuilder(absl::string_view builder) {
  return builder == kHybridAttentionBuilder || builder == kStep3p5Builder;
}

absl::StatusOr<ChosenAwqMappings> ChooseAwqMappings(const ModuleTree& tree, const Json& config,
                                                     absl::string_view architecture) {
  ChosenAwqMappings chosen;
  if (absl::optional<std::string> builder = DynamicAwqBuilderName(architecture)) {
    absl::optional<std::vector<AwqMapping>> built;
    if (*builder == kStep3p5Builder) {
      built = BuildStep3p5Mappings(tree, &chosen.log);
    } else if (*builder == kHybridAttentionBuilder) {
      auto hybrid = BuildHybridAttentionMappings(tree, config, &chosen.log);
      if (!hybrid.ok()) return hybrid.status();
      built = *std::move(hybrid);
    } else {
      // Only a newer registry than wring implements gets here
      // (dynamic_mappings_test checks every builder the data names).
      return absl::UnimplementedError(
          absl::StrCat("llm-compressor builds the AWQ mappings of ", architecture, " with ",
                       *builder, ", which wring does not implement yet"));
    }
    chosen.list_name = *builder;
    if (built.has_value()) {
      chosen.source = AwqMappingSource::kDynamic;
      chosen.mappings = *std::move(built);
      return chosen;
    }
  }
  if (const AwqMappingList* list = FindRegisteredAwqMappings(architecture)) {
    chosen.source = AwqMappingSource::kRegistry;
    chosen.mappings = list->mappings;
    chosen.list_name = list->name;
    return chosen;
  }
  const AwqMappingList& fallback = DefaultAwqMappings();
  chosen.source = AwqMappingSource::kDefault;
  chosen.mappings = fallback.mappings;
  chosen.list_name = fallback.name;
  chosen.log.push_back(absl::StrCat("INFO Architecture ", architecture,
                                    " not found in mappings. Using default mappings: ",
                                    AwqMappingListRepr(fallback.mappings)));
  return chosen;
}

}  // namespace mapping
}  // namespace wring
