#include "mapping/awq/awq_mapping.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mapping/base/python_repr.h"
#include "mapping/match/matchers.h"

namespace wring {
namespace mapping {
namespace {

AwqMapping M(std::string smooth, std::vector<std::string> balance) {
  return AwqMapping{std::move(smooth), std::move(balance), absl::nullopt};
}

// The lists below are llm-compressor's (mappings.py at the pinned revision),
// pattern for pattern; the comments say why a list deviates from the default.
const std::vector<AwqMappingList>& AllLists() {
  static const auto* lists = new std::vector<AwqMappingList>{
      {"default_mappings",
       {M("re:.*input_layernorm$", {"re:.*q_proj$", "re:.*k_proj$", "re:.*v_proj$"}),
        M("re:.*v_proj$", {"re:.*o_proj$"}),
        M("re:.*post_attention_layernorm$", {"re:.*gate_proj$", "re:.*up_proj$"}),
        M("re:.*up_proj$", {"re:.*down_proj$"})}},
      // The router is a balance layer of the post-attention norm.
      {"_moe_default_mappings",
       {M("re:.*input_layernorm$", {"re:.*q_proj$", "re:.*k_proj$", "re:.*v_proj$"}),
        M("re:.*v_proj$", {"re:.*o_proj$"}),
        M("re:.*post_attention_layernorm$",
          {"re:.*mlp.gate$", "re:.*mlp.experts.*.gate_proj$", "re:.*mlp.experts.*.up_proj$"}),
        M("re:.*up_proj$", {"re:.*down_proj$"})}},
      {"_llama4_default_mappings",
       {M("re:.*input_layernorm$", {"re:.*q_proj$", "re:.*k_proj$", "re:.*v_proj$"}),
        M("re:.*v_proj$", {"re:.*o_proj$"}),
        M("re:.*post_attention_layernorm$",
          {"re:.*feed_forward.router$", "re:.*feed_forward.*.gate_proj$",
           "re:.*feed_forward.*.up_proj$"}),
        M("re:.*up_proj$", {"re:.*down_proj$"})}},
      // Fused qkv_proj and gate_up_proj.
      {"_phi_mappings",
       {M("re:.*input_layernorm$", {"re:.*qkv_proj$"}),
        M("re:.*qkv_proj$", {"re:.*o_proj$"}),
        M("re:.*post_attention_layernorm$", {"re:.*gate_up_proj$"}),
        M("re:.*gate_up_proj$", {"re:.*down_proj$"})}},
      {"_gemma2_mappings",
       {M("re:.*input_layernorm$", {"re:.*q_proj$", "re:.*k_proj$", "re:.*v_proj$"}),
        M("re:.*v_proj$", {"re:.*o_proj$"}),
        M("re:.*pre_feedforward_layernorm$", {"re:.*gate_proj$", "re:.*up_proj$"}),
        M("re:.*up_proj$", {"re:.*down_proj$"})}},
      // No input_layernorm -> q/k/v: q_norm/k_norm make that smoothing hurt.
      {"_gemma3_mappings",
       {M("re:.*v_proj$", {"re:.*o_proj$"}),
        M("re:.*pre_feedforward_layernorm$", {"re:.*gate_proj$", "re:.*up_proj$"}),
        M("re:.*up_proj$", {"re:.*down_proj$"})}},
      // Parallel attention + MLP block: one norm feeds both.
      {"_cohere_mappings",
       {M("re:.*input_layernorm$",
          {"re:.*self_attn.q_proj$", "re:.*self_attn.k_proj$", "re:.*self_attn.v_proj$",
           "re:.*mlp.gate_proj$", "re:.*mlp.up_proj$"}),
        M("re:.*v_proj$", {"re:.*o_proj$"}),
        M("re:.*up_proj$", {"re:.*down_proj$"})}},
      {"_deepseek_mappings",
       {M("re:.*input_layernorm$", {"re:.*(q|q_a)_proj$", "re:.*kv_a_proj_with_mqa$"}),
        M("re:.*q_a_layernorm$", {"re:.*q_b_proj$"}),
        M("re:.*kv_a_layernorm$", {"re:.*kv_b_proj$"}),
        M("re:.*post_attention_layernorm$",
          {"re:.*mlp.gate$", "re:.*gate_proj$", "re:.*up_proj$"}),
        M("re:.*up_proj$", {"re:.*down_proj$"})}},
      // Without mlp.gate: dense first layers have none, which would merge
      // layer sets (see match_modules_set).
      {"_glm4_moe_lite_mappings",
       {M("re:.*input_layernorm$", {"re:.*(q|q_a)_proj$", "re:.*kv_a_proj_with_mqa$"}),
        M("re:.*q_a_layernorm$", {"re:.*q_b_proj$"}),
        M("re:.*kv_a_layernorm$", {"re:.*kv_b_proj$"}),
        M("re:.*post_attention_layernorm$", {"re:.*gate_proj$", "re:.*up_proj$"}),
        M("re:.*up_proj$", {"re:.*down_proj$"})}},
      {"_bloom_mappings",
       {M("re:.*input_layernorm$", {"re:.*query_key_value$"}),
        M("re:.*post_attention_layernorm$", {"re:.*dense_h_to_4h$"}),
        M("re:.*gelu_impl$", {"re:.*dense_4h_to_h$"})}},
      {"_exaone4_mappings",
       {M("re:.*v_proj$", {"re:.*o_proj$"}), M("re:.*up_proj$", {"re:.*down_proj$"})}},
      {"_afmoe_mappings",
       {M("re:.*input_layernorm$",
          {"re:.*self_attn.q_proj$", "re:.*self_attn.k_proj$", "re:.*self_attn.v_proj$",
           "re:.*self_attn.gate_proj$"}),
        M("re:.*v_proj$", {"re:.*o_proj$"}),
        M("re:.*pre_mlp_layernorm$",
          {"re:.*mlp.router$", "re:.*mlp.*gate_proj$", "re:.*mlp.*up_proj$"}),
        M("re:.*up_proj$", {"re:.*down_proj$"})}},
  };
  return *lists;
}

const AwqMappingList& ListNamed(absl::string_view name) {
  for (const AwqMappingList& list : AllLists()) {
    if (name == list.name) return list;
  }
  return AllLists()[0];  // unreachable: names below are all defined above
}

const std::map<std::string, const AwqMappingList*, std::less<>>& Registry() {
  static const auto* registry = [] {
    const std::pair<const char*, const char*> entries[] = {
        {"AfmoeForCausalLM", "_afmoe_mappings"},
        {"BloomForCausalLM", "_bloom_mappings"},
        {"CohereForCausalLM", "_cohere_mappings"},
        {"Cohere2ForCausalLM", "_cohere_mappings"},
        {"Cohere2VisionForConditionalGeneration", "_cohere_mappings"},
        {"DeepseekV3ForCausalLM", "_deepseek_mappings"},
        {"Ernie4_5_MoeForCausalLM", "default_mappings"},
        {"Exaone4ForCausalLM", "_exaone4_mappings"},
        {"Gemma2ForCausalLM", "_gemma2_mappings"},
        {"Gemma3ForCausalLM", "_gemma3_mappings"},
        {"Gemma3ForConditionalGeneration", "_gemma3_mappings"},
        {"Glm4MoeForCausalLM", "_moe_default_mappings"},
        {"Glm4MoeLiteForCausalLM", "_glm4_moe_lite_mappings"},
        {"GlmMoeDsaForCausalLM", "_glm4_moe_lite_mappings"},
        {"GraniteForCausalLM", "default_mappings"},
        {"LlamaForCausalLM", "default_mappings"},
        {"Llama4ForConditionalGeneration", "_llama4_default_mappings"},
        {"Mistral3ForConditionalGeneration", "default_mappings"},
        {"MistralForCausalLM", "default_mappings"},
        {"NanbeigeForCausalLM", "default_mappings"},
        {"OlmoForCausalLM", "_exaone4_mappings"},
        {"Olmo3ForCausalLM", "_exaone4_mappings"},
        {"Phi3ForCausalLM", "_phi_mappings"},
        {"Phi3VForCausalLM", "_phi_mappings"},
        {"Qwen2ForCausalLM", "default_mappings"},
        {"Qwen2_5OmniModel", "default_mappings"},
        {"Qwen2_5OmniThinkerForConditionalGeneration", "default_mappings"},
        {"Qwen2_5_VLForConditionalGeneration", "default_mappings"},
        {"Qwen2MoeForCausalLM", "_moe_default_mappings"},
        {"Qwen3ForCausalLM", "default_mappings"},
        {"Qwen3MoeForCausalLM", "_moe_default_mappings"},
        {"SeedOssForCausalLM", "default_mappings"},
    };
    auto* map = new std::map<std::string, const AwqMappingList*, std::less<>>();
    for (const auto& [arch, list] : entries) map->emplace(arch, &ListNamed(list));
    return map;
  }();
  return *registry;
}

}  // namespace

std::string AwqMappingRepr(const AwqMapping& mapping) {
  return absl::StrCat("AWQMapping(smooth_layer=", PythonStrRepr(mapping.smooth_layer),
                      ", balance_layers=", PythonListRepr(mapping.balance_layers),
                      ", activation_hook_target=",
                      mapping.activation_hook_target.has_value()
                          ? PythonStrRepr(*mapping.activation_hook_target)
                          : std::string("None"),
                      ")");
}

std::string AwqMappingListRepr(const std::vector<AwqMapping>& mappings) {
  return absl::StrCat("[",
                      absl::StrJoin(mappings, ", ",
                                    [](std::string* out, const AwqMapping& m) {
                                      out->append(AwqMappingRepr(m));
                                    }),
                      "]");
}

const AwqMappingList& DefaultAwqMappings() { return ListNamed("default_mappings"); }

const AwqMappingList* FindRegisteredAwqMappings(absl::string_view architecture) {
  auto it = Registry().find(architecture);
  return it == Registry().end() ? nullptr : it->second;
}

std::vector<std::pair<std::string, const AwqMappingList*>> AwqRegistryEntries() {
  return {Registry().begin(), Registry().end()};
}

}  // namespace mapping
}  // namespace wring
