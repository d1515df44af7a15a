#include "mapping/spinquant/spinquant_mappings.h"

#include "absl/strings/str_cat.h"

namespace wring {
namespace mapping {
namespace spinquant {
namespace {

// Both upstream mapping sets differ only in mlp_in/mlp_out.
SpinQuantMapping StandardDecoderMapping(std::vector<std::string> mlp_in,
                                        std::vector<std::string> mlp_out) {
  SpinQuantMapping m;
  m.embedding = "re:.*embed_tokens$";
  m.attn = "re:.*self_attn$";
  m.attn_q = "re:.*q_proj$";
  m.attn_k = "re:.*k_proj$";
  m.attn_v = "re:.*v_proj$";
  m.attn_o = "re:.*o_proj$";
  m.mlp_in = std::move(mlp_in);
  m.mlp_out = std::move(mlp_out);
  m.lm_head = "lm_head";
  return m;
}

// Upstream's registries are dicts; a linear scan over two entries is what a
// lookup costs here.
template <typename Value>
const Value* FindEntry(const std::vector<std::pair<std::string, const Value*>>& registry,
                       absl::string_view architecture) {
  for (const auto& entry : registry) {
    if (entry.first == architecture) return entry.second;
  }
  return nullptr;
}

}  // namespace

bool SpinQuantMapping::operator==(const SpinQuantMapping& other) const {
  return embedding == other.embedding && attn == other.attn && attn_q == other.attn_q &&
         attn_k == other.attn_k && attn_v == other.attn_v && attn_o == other.attn_o &&
         attn_head_dim == other.attn_head_dim && mlp_in == other.mlp_in &&
         mlp_out == other.mlp_out && lm_head == other.lm_head;
}

std::vector<SpinQuantMappingField> MappingFields(const SpinQuantMapping& m) {
  return {
      {"embedding", {m.embedding}}, {"attn", {m.attn}},     {"attn_q", {m.attn_q}},
      {"attn_k", {m.attn_k}},       {"attn_v", {m.attn_v}}, {"attn_o", {m.attn_o}},
      {"mlp_in", m.mlp_in},         {"mlp_out", m.mlp_out}, {"lm_head", {m.lm_head}},
  };
}

const SpinQuantMapping& DefaultSpinQuantMapping() {
  static const SpinQuantMapping* const kMapping = new SpinQuantMapping(
      StandardDecoderMapping({"re:.*up_proj$", "re:.*gate_proj$"}, {"re:.*down_proj$"}));
  return *kMapping;
}

const SpinQuantMapping& Cohere2MoeSpinQuantMapping() {
  // The router (mlp.gate.linear, an nn.Linear after
  // prepare_cohere2_moe_for_spinquant) takes R1 so routing is unchanged.
  static const SpinQuantMapping* const kMapping = new SpinQuantMapping(StandardDecoderMapping(
      {"re:.*gate_proj$", "re:.*up_proj$", "re:.*mlp\\.gate\\.linear$"}, {"re:.*down_proj$"}));
  return *kMapping;
}

const std::vector<NormMapping>& DefaultNormMappings() {
  static const std::vector<NormMapping>* const kMappings = new std::vector<NormMapping>{
      {"re:.*input_layernorm$", {"re:.*q_proj$", "re:.*k_proj$", "re:.*v_proj$"}},
      {"re:.*post_attention_layernorm$", {"re:.*up_proj$", "re:.*gate_proj$"}},
      // An exact module name, not a regex: models whose final norm lives
      // elsewhere get "final incomplete set" here.
      {"model.norm", {"lm_head"}},
  };
  return *kMappings;
}

const std::vector<NormMapping>& Cohere2MoeNormMappings() {
  // Cohere2MoE's parallel block feeds attention, MLP and router from one
  // norm across parents; prepare_cohere2_moe_for_spinquant fuses those per
  // layer, leaving only the final norm here.
  static const std::vector<NormMapping>* const kMappings =
      new std::vector<NormMapping>{{"model.norm", {"lm_head"}}};
  return *kMappings;
}

const std::vector<std::pair<std::string, const SpinQuantMapping*>>& SpinQuantMappingRegistry() {
  static const auto* const kRegistry =
      new std::vector<std::pair<std::string, const SpinQuantMapping*>>{
          {"LlamaForCausalLM", &DefaultSpinQuantMapping()},
          {"Cohere2MoeForCausalLM", &Cohere2MoeSpinQuantMapping()},
      };
  return *kRegistry;
}

const std::vector<std::pair<std::string, const std::vector<NormMapping>*>>& NormMappingRegistry() {
  static const auto* const kRegistry =
      new std::vector<std::pair<std::string, const std::vector<NormMapping>*>>{
          {"LlamaForCausalLM", &DefaultNormMappings()},
          {"Cohere2MoeForCausalLM", &Cohere2MoeNormMappings()},
      };
  return *kRegistry;
}

std::string UnrecognizedArchitectureMessage(absl::string_view architecture) {
  return absl::StrCat("Unrecognized model architecture ", architecture,
                      ". Falling back to default mappings");
}

InferredSpinQuantMapping InferSpinQuantMapping(absl::string_view architecture) {
  if (const SpinQuantMapping* found = FindEntry(SpinQuantMappingRegistry(), architecture)) {
    return {found, false, absl::nullopt};
  }
  return {&DefaultSpinQuantMapping(), true, UnrecognizedArchitectureMessage(architecture)};
}

InferredNormMappings InferNormMappings(absl::string_view architecture) {
  if (const auto* found = FindEntry(NormMappingRegistry(), architecture)) {
    return {found, false, absl::nullopt};
  }
  return {&DefaultNormMappings(), true, UnrecognizedArchitectureMessage(architecture)};
}

}  // namespace spinquant
}  // namespace mapping
}  // namespace wring
