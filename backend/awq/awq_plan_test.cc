#include "backend/awq/awq_plan.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "mapping/archs/architectures.h"
#include "mapping/base/json.h"
#include "mapping/recipe/recipe_parser.h"

namespace wring {
namespace backend {
namespace awq {
namespace {

// Grouped-query attention: v_proj (64 outputs) cannot smooth o_proj (128
// inputs), so upstream skips that mapping.
constexpr char kTinyLlama[] = R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama",
  "hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 2,
  "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 32,
  "vocab_size": 256, "tie_word_embeddings": false, "torch_dtype": "bfloat16"})";

absl::StatusOr<absl::optional<AwqPlan>> Plan(const std::string& awq_fields) {
  auto json = mapping::ParseJson(kTinyLlama, "config.json");
  auto model = mapping::ModelFromConfig(*json, "config.json", "");
  EXPECT_TRUE(model.ok()) << model.status();
  const std::string text = absl::StrCat(
      "quant_stage:\n  quant_modifiers:\n    AWQModifier: ", awq_fields,
      "\n    QuantizationModifier: {targets: [Linear], ignore: [lm_head], scheme: W4A16}\n");
  auto recipe = mapping::ParseRecipe(text, "recipe.yaml");
  EXPECT_TRUE(recipe.ok()) << recipe.status();
  auto plan = pipeline::PlanCompression(*std::move(model), *recipe);
  EXPECT_TRUE(plan.ok()) << plan.status();
  auto config = model::ParseModelConfig(kTinyLlama, "config.json");
  EXPECT_TRUE(config.ok()) << config.status();
  return PlanAwq(*plan, *config, "recipe.yaml");
}

TEST(PlanAwq, DefaultLlamaMappingsPerLayerInUpstreamOrder) {
  auto plan = Plan("{}");
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_TRUE(plan->has_value());
  const AwqPlan& awq = **plan;
  EXPECT_EQ(awq.options.duo_scaling, DuoScaling::kTrue);
  EXPECT_EQ(awq.options.n_grid, 20);
  ASSERT_EQ(awq.layers.size(), 2u);
  const std::vector<PlannedMapping>& layer1 = awq.layers.at(1);
  ASSERT_EQ(layer1.size(), 3u);
  EXPECT_EQ(layer1[0].mapping.smooth, "model.layers.1.input_layernorm");
  EXPECT_EQ(layer1[0].mapping.parent, "model.layers.1.self_attn");
  ASSERT_EQ(layer1[0].mapping.balance.size(), 3u);
  EXPECT_EQ(layer1[0].mapping.balance[2].name, "model.layers.1.self_attn.v_proj");
  EXPECT_TRUE(layer1[0].mapping.balance[0].weight_args.has_value());
  EXPECT_EQ(layer1[0].mapping.balance[0].weight_args->group_size, 128);
  EXPECT_EQ(layer1[0].statistic_input, "model.layers.1.self_attn.q_proj");
  EXPECT_EQ(layer1[0].parent_input, "model.layers.1.self_attn.q_proj");
  EXPECT_EQ(layer1[1].mapping.smooth, "model.layers.1.post_attention_layernorm");
  EXPECT_EQ(layer1[1].parent_input, "model.layers.1.mlp.gate_proj");
  EXPECT_EQ(layer1[2].mapping.smooth, "model.layers.1.mlp.up_proj");
  EXPECT_EQ(layer1[2].mapping.parent, "model.layers.1.mlp.down_proj");
  EXPECT_EQ(layer1[2].statistic_input, "model.layers.1.mlp.down_proj");
}

TEST(PlanAwq, UnrunnableGridNamesTheField) {
  auto plan = Plan("{duo_scaling: true, n_grid: 2}");
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("recipe.yaml: AWQModifier.n_grid"), std::string::npos)
      << plan.status();
}

}  // namespace
}  // namespace awq
}  // namespace backend
}  // namespace wring
