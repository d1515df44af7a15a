#include "backend/pipeline/compression_plan.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "mapping/archs/architectures.h"
#include "mapping/base/json.h"
#include "mapping/recipe/recipe_parser.h"

namespace wring {
namespace backend {
namespace pipeline {
namespace {

constexpr char kTinyLlama[] = R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama",
  "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
  "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
  "vocab_size": 256, "tie_word_embeddings": false})";

mapping::ModelInput TinyLlama() {
  auto config = mapping::ParseJson(kTinyLlama, "config.json");
  EXPECT_TRUE(config.ok());
  auto model = mapping::ModelFromConfig(*config, "config.json", "");
  EXPECT_TRUE(model.ok()) << model.status();
  return *std::move(model);
}

// `modifiers` is a YAML block of modifiers at column 0; it is nested in a
// stage as llm-compressor recipes need.
absl::StatusOr<CompressionPlan> Plan(const std::string& modifiers) {
  std::string text = "quant_stage:\n  quant_modifiers:\n";
  for (absl::string_view line : absl::StrSplit(modifiers, '\n')) {
    if (!line.empty()) absl::StrAppend(&text, "    ", line, "\n");
  }
  auto recipe = mapping::ParseRecipe(text, "recipe.yaml");
  EXPECT_TRUE(recipe.ok()) << recipe.status();
  return PlanCompression(TinyLlama(), *recipe);
}

TEST(PlanCompression, W4A16PacksEveryLinearButTheIgnoredHead) {
  auto plan = Plan(
      "QuantizationModifier:\n  targets: [Linear]\n  scheme: W4A16\n  ignore: [lm_head]\n");
  ASSERT_TRUE(plan.ok()) << plan.status();
  // 7 Linear layers per decoder layer, lm_head ignored.
  EXPECT_EQ(plan->linears.size(), 14u);
  EXPECT_EQ(plan->FindLinear("lm_head"), nullptr);
  const PlannedModule* q = plan->FindLinear("model.layers.1.self_attn.q_proj");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->format, mapping::CompressionFormat::kPackQuantized);
  ASSERT_TRUE(q->scheme.weights.has_value());
  EXPECT_EQ(q->scheme.weights->num_bits, 4);
  EXPECT_TRUE(plan->kv_cache.empty());
  ASSERT_TRUE(plan->quantization_config.has_value());
  EXPECT_EQ((*plan->quantization_config)["format"].dump(),
            "\"pack-quantized\"");
}

TEST(PlanCompression, Fp8WithKvCacheSchemeMarksEveryAttention) {
  auto plan = Plan(
      "QuantizationModifier:\n  targets: [Linear]\n  scheme: FP8\n  ignore: [lm_head]\n"
      "  kv_cache_scheme: {num_bits: 8, type: float, strategy: tensor, dynamic: false, "
      "symmetric: true}\n");
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->linears.front().format, mapping::CompressionFormat::kFloatQuantized);
  ASSERT_EQ(plan->kv_cache.size(), 2u);
  EXPECT_EQ(plan->kv_cache.begin()->first, "model.layers.0.self_attn");
}

// llm-compressor picks its data-free pipeline for exactly these schemes.
TEST(RequiresCalibrationData, OnlySchemesThatObserveActivations) {
  auto with_scheme = [](const std::string& scheme, const std::string& extra = "") {
    auto plan = Plan(absl::StrCat("QuantizationModifier:\n  targets: [Linear]\n  scheme: ", scheme,
                                  "\n  ignore: [lm_head]\n", extra));
    EXPECT_TRUE(plan.ok()) << plan.status();
    return plan.ok() && RequiresCalibrationData(*plan);
  };
  EXPECT_FALSE(with_scheme("W4A16"));
  EXPECT_FALSE(with_scheme("W8A16"));
  EXPECT_FALSE(with_scheme("W8A8"));     // dynamic per-token activations
  EXPECT_FALSE(with_scheme("FP8_DYNAMIC"));
  EXPECT_TRUE(with_scheme("FP8"));       // static per-tensor activations
  EXPECT_TRUE(with_scheme("W4A16", "  kv_cache_scheme: {num_bits: 8, type: float, strategy: "
                                   "tensor, dynamic: false, symmetric: true}\n"));
}

TEST(PlanCompression, RefusesModifiersTheBackendDoesNotRun) {
  auto plan = Plan(
      "GPTQModifier:\n  targets: [Linear]\n  scheme: W4A16\n");
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(plan.status().message().find("modifier #1 (GPTQModifier)"), std::string::npos)
      << plan.status();
}

TEST(PlanCompression, CarriesTransformModifiers) {
  auto plan = Plan(
      "AWQModifier: {n_grid: 10}\nQuantizationModifier:\n  targets: [Linear]\n  scheme: W4A16\n");
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->awq.size(), 1u);
  EXPECT_EQ(plan->awq[0].n_grid(), 10);
  EXPECT_TRUE(plan->spinquant.empty());
  EXPECT_EQ(plan->linears.size(), 15u);  // lm_head too: nothing is ignored
}

TEST(PlanCompression, RefusesOutputActivations) {
  auto plan = Plan(
      "QuantizationModifier:\n  config_groups:\n    g:\n      targets: [Linear]\n"
      "      weights: {num_bits: 8}\n      output_activations: {num_bits: 8}\n");
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("output_activations"), std::string::npos)
      << plan.status();
}

}  // namespace
}  // namespace pipeline
}  // namespace backend
}  // namespace wring
