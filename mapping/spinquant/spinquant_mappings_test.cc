#include "mapping/spinquant/spinquant_mappings.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace wring {
namespace mapping {
namespace spinquant {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

TEST(SpinQuantMappingsTest, DefaultMappingTargetsLlamaStyleNames) {
  const SpinQuantMapping& m = DefaultSpinQuantMapping();
  EXPECT_EQ(m.embedding, "re:.*embed_tokens$");
  EXPECT_EQ(m.attn, "re:.*self_attn$");
  EXPECT_EQ(m.attn_q, "re:.*q_proj$");
  EXPECT_EQ(m.attn_k, "re:.*k_proj$");
  EXPECT_EQ(m.attn_v, "re:.*v_proj$");
  EXPECT_EQ(m.attn_o, "re:.*o_proj$");
  EXPECT_FALSE(m.attn_head_dim.has_value());
  // up before gate: the order the R1 weight_input target list is written in.
  EXPECT_THAT(m.mlp_in, ElementsAre("re:.*up_proj$", "re:.*gate_proj$"));
  EXPECT_THAT(m.mlp_out, ElementsAre("re:.*down_proj$"));
  EXPECT_EQ(m.lm_head, "lm_head");
}

TEST(SpinQuantMappingsTest, Cohere2MoeAddsTheRouterToMlpIn) {
  const SpinQuantMapping& m = *InferSpinQuantMapping("Cohere2MoeForCausalLM").mapping;
  EXPECT_THAT(m.mlp_in,
              ElementsAre("re:.*gate_proj$", "re:.*up_proj$", "re:.*mlp\\.gate\\.linear$"));
  EXPECT_THAT(m.mlp_out, ElementsAre("re:.*down_proj$"));
  SpinQuantMapping without_mlp_in = m;
  without_mlp_in.mlp_in = DefaultSpinQuantMapping().mlp_in;
  EXPECT_EQ(without_mlp_in, DefaultSpinQuantMapping());
}

TEST(SpinQuantMappingsTest, MappingFieldsFollowDeclarationOrder) {
  std::vector<std::string> names;
  for (const SpinQuantMappingField& field : MappingFields(DefaultSpinQuantMapping())) {
    names.push_back(field.name);
  }
  EXPECT_THAT(names, ElementsAre("embedding", "attn", "attn_q", "attn_k", "attn_v", "attn_o",
                                 "mlp_in", "mlp_out", "lm_head"));
  EXPECT_THAT(MappingFields(DefaultSpinQuantMapping())[6].targets,
              ElementsAre("re:.*up_proj$", "re:.*gate_proj$"));
}

TEST(SpinQuantMappingsTest, DefaultNormMappings) {
  EXPECT_THAT(
      DefaultNormMappings(),
      ElementsAre(
          NormMapping{"re:.*input_layernorm$", {"re:.*q_proj$", "re:.*k_proj$", "re:.*v_proj$"}},
          NormMapping{"re:.*post_attention_layernorm$", {"re:.*up_proj$", "re:.*gate_proj$"}},
          NormMapping{"model.norm", {"lm_head"}}));
  // Cohere2MoE's parallel block fuses its input norms per layer elsewhere.
  EXPECT_THAT(*InferNormMappings("Cohere2MoeForCausalLM").mappings,
              ElementsAre(NormMapping{"model.norm", {"lm_head"}}));
}

TEST(SpinQuantMappingsTest, RegistriesHoldLlamaAndCohere2Moe) {
  std::vector<std::string> architectures, norm_architectures;
  for (const auto& entry : SpinQuantMappingRegistry()) architectures.push_back(entry.first);
  for (const auto& entry : NormMappingRegistry()) norm_architectures.push_back(entry.first);
  EXPECT_THAT(architectures, ElementsAre("LlamaForCausalLM", "Cohere2MoeForCausalLM"));
  EXPECT_THAT(norm_architectures, ElementsAre("LlamaForCausalLM", "Cohere2MoeForCausalLM"));
  // Llama is registered with the very default mappings (same object).
  EXPECT_EQ(SpinQuantMappingRegistry()[0].second, &DefaultSpinQuantMapping());
  EXPECT_EQ(NormMappingRegistry()[0].second, &DefaultNormMappings());
}

TEST(SpinQuantMappingsTest, RegisteredArchitectureDoesNotFallBack) {
  InferredSpinQuantMapping cohere = InferSpinQuantMapping("Cohere2MoeForCausalLM");
  EXPECT_NE(cohere.mapping, &DefaultSpinQuantMapping());
  EXPECT_FALSE(cohere.fell_back);
  EXPECT_FALSE(cohere.info_message.has_value());

  InferredNormMappings norms = InferNormMappings("Cohere2MoeForCausalLM");
  EXPECT_NE(norms.mappings, &DefaultNormMappings());
  EXPECT_FALSE(norms.fell_back);
}

TEST(SpinQuantMappingsTest, UnknownArchitectureFallsBackWithInfoMessage) {
  InferredSpinQuantMapping qwen = InferSpinQuantMapping("Qwen3ForCausalLM");
  EXPECT_EQ(qwen.mapping, &DefaultSpinQuantMapping());
  EXPECT_TRUE(qwen.fell_back);
  EXPECT_EQ(qwen.info_message,
            "Unrecognized model architecture Qwen3ForCausalLM. Falling back to default mappings");

  InferredNormMappings norms = InferNormMappings("Qwen3ForCausalLM");
  EXPECT_EQ(norms.mappings, &DefaultNormMappings());
  EXPECT_TRUE(norms.fell_back);
  EXPECT_EQ(norms.info_message, qwen.info_message);
}

TEST(SpinQuantMappingsTest, LookupIsByExactClassName) {
  // The registry is a dict keyed by __class__.__name__: no case folding.
  EXPECT_TRUE(InferSpinQuantMapping("llamaforcausallm").fell_back);
  EXPECT_TRUE(InferSpinQuantMapping("").fell_back);
  EXPECT_FALSE(InferSpinQuantMapping("LlamaForCausalLM").fell_back);
}

}  // namespace
}  // namespace spinquant
}  // namespace mapping
}  // namespace wring
