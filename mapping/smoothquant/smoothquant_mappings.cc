#include "mapping/smoothquant/smoothquant_mappings.h"

#include <algorithm>
#include <map>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mapping/awq/dynamic_mappings.h"
#include "mapping/base/python_repr.h"
#include "mapping/match/matchers.h"

namespace wring {
namespace mapping {
namespace {

SmoothQuantMapping M(std::vector<std::string> balance, std::string smooth) {
  return SmoothQuantMapping{std::move(balance), std::move(smooth)};
}

struct NamedList {
  const char* name;
  std::vector<SmoothQuantMapping> mappings;
};

// utils.py's lists, pattern for pattern.
const std::map<std::string, NamedList>& Lists() {
  static const auto* lists = new std::map<std::string, NamedList>{
      {"DEFAULT_SMOOTHQUANT_MAPPINGS",
       {"DEFAULT_SMOOTHQUANT_MAPPINGS",
        {M({"re:.*q_proj", "re:.*k_proj", "re:.*v_proj"}, "re:.*input_layernorm"),
         M({"re:.*gate_proj", "re:.*up_proj"}, "re:.*post_attention_layernorm")}}},
      {"MIXTRAL_SMOOTHQUANT_MAPPINGS",
       {"MIXTRAL_SMOOTHQUANT_MAPPINGS",
        {M({"re:.*q_proj", "re:.*k_proj", "re:.*v_proj"}, "re:.*input_layernorm")}}},
      {"BLOOM_SMOOTHQUANT_MAPPINGS",
       {"BLOOM_SMOOTHQUANT_MAPPINGS",
        {M({"re:.*query_key_value"}, "re:.*input_layernorm"),
         M({"re:.*dense_h_to_4h"}, "re:.*post_attention_layernorm")}}},
      {"PHI3_VISION_SMOOTHQUANT_MAPPINGS",
       {"PHI3_VISION_SMOOTHQUANT_MAPPINGS",
        {M({"re:.*qkv_proj"}, "re:.*input_layernorm"),
         M({"re:.*gate_up_proj"}, "re:.*post_attention_layernorm")}}},
      {"WHISPER_V2_SMOOTHQUANT_MAPPINGS",
       {"WHISPER_V2_SMOOTHQUANT_MAPPINGS",
        {M({"re:.*k_proj", "re:.*v_proj", "re:.*q_proj"}, "re:.*self_attn_layer_norm"),
         M({"re:.*fc1"}, "re:.*final_layer_norm")}}},
      {"DEEPSEEK_V2_SMOOTHQUANT_MAPPINGS",
       {"DEEPSEEK_V2_SMOOTHQUANT_MAPPINGS",
        {M({"re:.*q(_a)?_proj$", "re:.*kv_a_proj_with_mqa"}, "re:.*input_layernorm")}}},
      // MLP smoothing is left out for MoE: one scale across all experts
      // unbalances them.
      {"QWEN_MOE_SMOOTHQUANT_MAPPINGS",
       {"QWEN_MOE_SMOOTHQUANT_MAPPINGS",
        {M({"re:.*q_proj$", "re:.*k_proj$", "re:.*v_proj$"}, "re:.*input_layernorm$")}}},
      // Parallel attention + MLP block: one norm feeds both.
      {"COHERE_SMOOTHQUANT_MAPPINGS",
       {"COHERE_SMOOTHQUANT_MAPPINGS",
        {M({"re:.*self_attn\\.q_proj$", "re:.*self_attn\\.k_proj$", "re:.*self_attn\\.v_proj$",
            "re:.*mlp\\.gate_proj$", "re:.*mlp\\.up_proj$"},
           "re:.*input_layernorm$")}}},
      // As Cohere, with every expert's gate/up balanced too (the router is not).
      {"COHERE2_MOE_SMOOTHQUANT_MAPPINGS",
       {"COHERE2_MOE_SMOOTHQUANT_MAPPINGS",
        {M({"re:.*self_attn\\.q_proj$", "re:.*self_attn\\.k_proj$", "re:.*self_attn\\.v_proj$",
            "re:.*gate_proj$", "re:.*up_proj$"},
           "re:.*input_layernorm$")}}},
      {"AFMOE_SMOOTHQUANT_MAPPINGS",
       {"AFMOE_SMOOTHQUANT_MAPPINGS",
        {M({"re:.*self_attn\\.q_proj", "re:.*self_attn\\.k_proj", "re:.*self_attn\\.v_proj",
            "re:.*self_attn\\.gate_proj"},
           "re:.*input_layernorm"),
         M({"re:.*mlp.*gate_proj", "re:.*mlp.*up_proj"}, "re:.*pre_mlp_layernorm")}}},
  };
  return *lists;
}

// MAPPINGS_REGISTRY: architecture -> list name.
const std::map<std::string, std::string>& Registry() {
  static const auto* registry = new std::map<std::string, std::string>{
      {"BloomForCausalLM", "BLOOM_SMOOTHQUANT_MAPPINGS"},
      {"ChatGLMForConditionalGeneration", "BLOOM_SMOOTHQUANT_MAPPINGS"},
      {"CohereForCausalLM", "COHERE_SMOOTHQUANT_MAPPINGS"},
      {"Cohere2ForCausalLM", "COHERE_SMOOTHQUANT_MAPPINGS"},
      {"Cohere2MoeForCausalLM", "COHERE2_MOE_SMOOTHQUANT_MAPPINGS"},
      {"Cohere2VisionForConditionalGeneration", "COHERE_SMOOTHQUANT_MAPPINGS"},
      {"DeepseekV2ForCausalLM", "DEEPSEEK_V2_SMOOTHQUANT_MAPPINGS"},
      {"DeepseekV3ForCausalLM", "DEEPSEEK_V2_SMOOTHQUANT_MAPPINGS"},
      {"Ernie4_5_MoeForCausalLM", "MIXTRAL_SMOOTHQUANT_MAPPINGS"},
      {"Gemma2ForCausalLM", "DEFAULT_SMOOTHQUANT_MAPPINGS"},
      {"Gemma3ForCausalLM", "DEFAULT_SMOOTHQUANT_MAPPINGS"},
      {"Gemma3ForConditionalGeneration", "DEFAULT_SMOOTHQUANT_MAPPINGS"},
      {"Glm4MoeForCausalLM", "DEFAULT_SMOOTHQUANT_MAPPINGS"},
      {"Glm4MoeLiteForCausalLM", "DEEPSEEK_V2_SMOOTHQUANT_MAPPINGS"},
      {"GlmMoeDsaForCausalLM", "DEEPSEEK_V2_SMOOTHQUANT_MAPPINGS"},
      {"GraniteForCausalLM", "DEFAULT_SMOOTHQUANT_MAPPINGS"},
      {"Llama4ForConditionalGeneration", "DEFAULT_SMOOTHQUANT_MAPPINGS"},
      {"LlamaForCausalLM", "DEFAULT_SMOOTHQUANT_MAPPINGS"},
      {"Mistral3ForConditionalGeneration", "DEFAULT_SMOOTHQUANT_MAPPINGS"},
      {"MistralForCausalLM", "DEFAULT_SMOOTHQUANT_MAPPINGS"},
      {"MixtralForCausalLM", "MIXTRAL_SMOOTHQUANT_MAPPINGS"},
      {"NanbeigeForCausalLM", "DEFAULT_SMOOTHQUANT_MAPPINGS"},
      {"Phi3ForCausalLM", "PHI3_VISION_SMOOTHQUANT_MAPPINGS"},
      {"Phi3VForCausalLM", "PHI3_VISION_SMOOTHQUANT_MAPPINGS"},
      {"Qwen2ForCausalLM", "DEFAULT_SMOOTHQUANT_MAPPINGS"},
      {"Qwen2_5OmniModel", "DEFAULT_SMOOTHQUANT_MAPPINGS"},
      {"Qwen2_5OmniThinkerForConditionalGeneration", "DEFAULT_SMOOTHQUANT_MAPPINGS"},
      {"Qwen2_5_VLForConditionalGeneration", "DEFAULT_SMOOTHQUANT_MAPPINGS"},
      {"Qwen3ForCausalLM", "DEFAULT_SMOOTHQUANT_MAPPINGS"},
      {"Qwen2MoeForCausalLM", "QWEN_MOE_SMOOTHQUANT_MAPPINGS"},
      {"Qwen3MoeForCausalLM", "QWEN_MOE_SMOOTHQUANT_MAPPINGS"},
      {"SeedOssForCausalLM", "DEFAULT_SMOOTHQUANT_MAPPINGS"},
      {"WhisperForConditionalGeneration", "WHISPER_V2_SMOOTHQUANT_MAPPINGS"},
      {"AfmoeForCausalLM", "AFMOE_SMOOTHQUANT_MAPPINGS"},
  };
  return *registry;
}

// SMOOTHQUANT_DYNAMIC_MAPPING_REGISTRY: architecture -> builder name; the
// builders differ only in the MLP balance layers.
const std::map<std::string, std::string>& DynamicRegistry() {
  static const auto* registry = new std::map<std::string, std::string>{
      {"Qwen3_5MoeForConditionalGeneration", "build_qwen3_5_moe_smoothquant_mappings"},
      {"Qwen3_5MoeForCausalLM", "build_qwen3_5_moe_smoothquant_mappings"},
      {"Qwen3_5ForCausalLM", "build_qwen3_5_dense_smoothquant_mappings"},
      {"Qwen3_5ForConditionalGeneration", "build_qwen3_5_dense_smoothquant_mappings"},
  };
  return *registry;
}

std::string QuotedList(const std::vector<std::string>& items) { return PythonListRepr(items); }

// _build_qwen3_5_smoothquant_mappings.
absl::StatusOr<std::vector<SmoothQuantMapping>> BuildQwen35(const Json& config, bool moe) {
  absl::optional<std::vector<std::string>> layer_types = GetConfigLayerTypes(config);
  if (!layer_types.has_value()) {
    return absl::FailedPreconditionError(
        "ValueError: Qwen3.5 SmoothQuant mappings require model.config.text_config.layer_types "
        "(or model.config.layer_types) to identify full_attention layers.");
  }
  std::vector<std::string> full;
  for (size_t i = 0; i < layer_types->size(); ++i) {
    if ((*layer_types)[i] == "full_attention") full.push_back(std::to_string(i));
  }
  if (full.empty()) {
    return absl::FailedPreconditionError(
        "ValueError: Qwen3.5 SmoothQuant mappings require at least one full_attention layer in "
        "layer_types.");
  }
  const std::string smooth = absl::StrCat("re:.*layers\\.(", absl::StrJoin(full, "|"),
                                          ")\\.input_layernorm$");
  std::vector<std::string> mlp =
      moe ? std::vector<std::string>{"re:.*mlp\\.shared_expert\\.gate_proj$",
                                     "re:.*mlp\\.shared_expert\\.up_proj$"}
          : std::vector<std::string>{"re:.*mlp\\.gate_proj$", "re:.*mlp\\.up_proj$"};
  return std::vector<SmoothQuantMapping>{
      M({"re:.*self_attn\\.q_proj$", "re:.*self_attn\\.k_proj$", "re:.*self_attn\\.v_proj$"},
        smooth),
      M(std::move(mlp), "re:.*post_attention_layernorm$")};
}

}  // namespace

std::string SmoothQuantMappingRepr(const SmoothQuantMapping& mapping, bool from_recipe) {
  if (from_recipe) {
    return absl::StrCat("[", QuotedList(mapping.balance_layers), ", ",
                        PythonStrRepr(mapping.smooth_layer), "]");
  }
  return absl::StrCat("LayerMap(balance_layers=", QuotedList(mapping.balance_layers),
                      ", smooth_layers=", PythonStrRepr(mapping.smooth_layer), ")");
}

const char* SmoothQuantMappingSourceName(SmoothQuantMappingSource source) {
  switch (source) {
    case SmoothQuantMappingSource::kDynamic: return "dynamic";
    case SmoothQuantMappingSource::kRegistry: return "registry";
    case SmoothQuantMappingSource::kDefault: return "default";
    case SmoothQuantMappingSource::kRecipe: return "recipe";
  }
  return "default";
}

const std::vector<SmoothQuantMapping>& DefaultSmoothQuantMappings() {
  return Lists().at("DEFAULT_SMOOTHQUANT_MAPPINGS").mappings;
}

absl::StatusOr<ChosenSmoothQuantMappings> ChooseSmoothQuantMappings(
    const Json& config, absl::string_view architecture) {
  ChosenSmoothQuantMappings chosen;
  const std::string arch(architecture);
  if (auto dynamic = DynamicRegistry().find(arch); dynamic != DynamicRegistry().end()) {
    absl::StatusOr<std::vector<SmoothQuantMapping>> built =
        BuildQwen35(config, dynamic->second == "build_qwen3_5_moe_smoothquant_mappings");
    if (!built.ok()) return built.status();
    chosen.source = SmoothQuantMappingSource::kDynamic;
    chosen.list_name = dynamic->second;
    chosen.mappings = *std::move(built);
    return chosen;
  }
  if (auto registered = Registry().find(arch); registered != Registry().end()) {
    chosen.source = SmoothQuantMappingSource::kRegistry;
    chosen.list_name = registered->second;
    chosen.mappings = Lists().at(registered->second).mappings;
    return chosen;
  }
  chosen.source = SmoothQuantMappingSource::kDefault;
  chosen.list_name = "DEFAULT_SMOOTHQUANT_MAPPINGS";
  chosen.mappings = DefaultSmoothQuantMappings();
  std::vector<std::string> reprs;
  for (const SmoothQuantMapping& m : chosen.mappings) {
    reprs.push_back(SmoothQuantMappingRepr(m, /*from_recipe=*/false));
  }
  chosen.log.push_back(absl::StrCat("INFO Architecture ", arch,
                                    " not found in mappings. Using default mappings: [",
                                    absl::StrJoin(reprs, ", "), "]"));
  return chosen;
}

std::vector<std::pair<std::string, std::string>> SmoothQuantRegistryEntries() {
  std::vector<std::pair<std::string, std::string>> out(Registry().begin(), Registry().end());
  out.insert(out.end(), DynamicRegistry().begin(), DynamicRegistry().end());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace mapping
}  // namespace wring
