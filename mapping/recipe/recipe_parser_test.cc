#include "mapping/recipe/recipe_parser.h"

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace wring {
namespace mapping {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using wring::recipe::Recipe;

std::string ReadTestdata(const std::string& name) {
  std::ifstream in("mapping/recipe/testdata/" + name, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

Recipe ParseOk(const std::string& text, const std::string& source = "recipe.yaml") {
  absl::StatusOr<Recipe> recipe = ParseRecipe(text, source);
  EXPECT_TRUE(recipe.ok()) << recipe.status();
  return recipe.ok() ? *recipe : Recipe();
}

Recipe ParseFile(const std::string& name) {
  const std::string text = ReadTestdata(name);
  EXPECT_FALSE(text.empty()) << name;
  return ParseOk(text, name);
}

TEST(ParseRecipeTest, AwqThenConfigGroupsW4A16) {
  Recipe recipe = ParseFile("awq_w4a16_sym_config_groups.yaml");
  ASSERT_EQ(recipe.modifiers_size(), 2);
  EXPECT_EQ(recipe.source_name(), "awq_w4a16_sym_config_groups.yaml");

  const auto& awq = recipe.modifiers(0);
  EXPECT_EQ(awq.type(), "AWQModifier");
  EXPECT_EQ(awq.stage(), "quant_stage");
  EXPECT_EQ(awq.group(), "quant");
  EXPECT_EQ(awq.location().line(), 5);
  EXPECT_EQ(awq.location().column(), 5);
  ASSERT_TRUE(awq.has_awq());
  EXPECT_EQ(awq.awq().duo_scaling(), "both");
  EXPECT_FALSE(awq.awq().has_mappings());  // inferred from the model
  EXPECT_FALSE(awq.awq().has_offload_device());
  EXPECT_FALSE(awq.awq().has_n_grid());

  const auto& quant = recipe.modifiers(1);
  ASSERT_TRUE(quant.has_quantization());
  const auto& mixin = quant.quantization();
  EXPECT_THAT(mixin.ignore(), ElementsAre("lm_head"));
  EXPECT_FALSE(mixin.has_targets());
  EXPECT_TRUE(mixin.has_config_groups());
  ASSERT_EQ(mixin.config_groups_size(), 1);
  EXPECT_EQ(mixin.config_groups(0).name(), "group_0");
  const auto& scheme = mixin.config_groups(0).scheme();
  EXPECT_THAT(scheme.targets(), ElementsAre("Linear"));
  EXPECT_EQ(scheme.weights().num_bits(), 4);
  EXPECT_EQ(scheme.weights().type(), "int");
  EXPECT_TRUE(scheme.weights().symmetric());
  EXPECT_EQ(scheme.weights().strategy(), "group");
  EXPECT_EQ(scheme.weights().group_size(), 128);
  EXPECT_FALSE(scheme.weights().has_dynamic());
  EXPECT_FALSE(scheme.has_input_activations());
  EXPECT_EQ(scheme.weights().location().line(), 13);
  EXPECT_EQ(mixin.scheme_case(), wring::recipe::QuantizationMixin::SCHEME_NOT_SET);
  EXPECT_TRUE(ValidateRecipeOrder(recipe).ok());
}

TEST(ParseRecipeTest, NvFp4Preset) {
  Recipe recipe = ParseFile("awq_nvfp4_scheme.yaml");
  ASSERT_EQ(recipe.modifiers_size(), 2);
  EXPECT_EQ(recipe.modifiers(0).awq().duo_scaling(), "both");
  const auto& mixin = recipe.modifiers(1).quantization();
  EXPECT_EQ(mixin.preset(), "NVFP4");
  EXPECT_TRUE(mixin.has_targets());
  EXPECT_THAT(mixin.targets(), ElementsAre("Linear"));
  EXPECT_THAT(mixin.ignore(), ElementsAre("lm_head"));
  EXPECT_FALSE(mixin.has_config_groups());
}

TEST(ParseRecipeTest, GptqAndAwqNonUniformWithExplicitMappings) {
  Recipe recipe = ParseFile("gptq_awq_non_uniform.yaml");
  ASSERT_EQ(recipe.modifiers_size(), 3);
  const auto& awq = recipe.modifiers(0).awq();
  EXPECT_EQ(awq.duo_scaling(), "true");
  EXPECT_EQ(awq.n_grid(), 10);
  EXPECT_EQ(awq.offload_device(), "none");
  ASSERT_EQ(awq.mappings().mappings_size(), 2);
  const auto& first = awq.mappings().mappings(0);
  EXPECT_EQ(first.smooth_layer(), "re:.*input_layernorm$");
  EXPECT_THAT(first.balance_layers(),
              ElementsAre("re:.*q_proj$", "re:.*k_proj$", "re:.*v_proj$"));
  EXPECT_FALSE(first.has_activation_hook_target());
  EXPECT_EQ(first.location().line(), 10);
  EXPECT_EQ(awq.mappings().mappings(1).smooth_layer(), "re:.*v_proj$");
  EXPECT_FALSE(awq.mappings().mappings(1).has_activation_hook_target());

  const auto& quant = recipe.modifiers(1).quantization();
  EXPECT_EQ(quant.preset(), "W4A16");
  // The YAML escape "\\." is one backslash in the pattern.
  EXPECT_THAT(quant.targets(), ElementsAre("re:.*self_attn\\.(k|q|o|v)_proj$"));

  ASSERT_TRUE(recipe.modifiers(2).has_gptq());
  const auto& gptq = recipe.modifiers(2).gptq();
  EXPECT_EQ(gptq.quantization().preset(), "W8A8");
  EXPECT_THAT(gptq.quantization().targets(),
              ElementsAre("re:.*mlp\\.(down|gate|up)_proj$"));
  EXPECT_EQ(gptq.block_size(), 64);
  EXPECT_DOUBLE_EQ(gptq.dampening_frac(), 0.001);
  EXPECT_EQ(gptq.actorder(), "none");  // explicit null, not the default
  ASSERT_TRUE(gptq.has_batched_quantization());
  EXPECT_EQ(gptq.batched_quantization().batch_size(), 4);
  EXPECT_TRUE(ValidateRecipeOrder(recipe).ok());
}

// GPTQModifier's llm-compressor 0.14 fields: batched_quantization is "auto",
// a positive integer or null; offload_hessians is gone.
TEST(ParseRecipeTest, GptqBatchedQuantization) {
  auto parse = [](const std::string& value) {
    return ParseRecipe(absl::StrCat("s_stage:\n  g_modifiers:\n    GPTQModifier: {scheme: W4A16, "
                                    "batched_quantization: ",
                                    value, "}\n"),
                       "r.yaml");
  };
  auto automatic = parse("auto");
  ASSERT_TRUE(automatic.ok()) << automatic.status();
  EXPECT_TRUE(automatic->modifiers(0).gptq().batched_quantization().auto_());
  auto disabled = parse("null");
  ASSERT_TRUE(disabled.ok()) << disabled.status();
  EXPECT_TRUE(disabled->modifiers(0).gptq().batched_quantization().disabled());
  auto sized = parse("8");
  ASSERT_TRUE(sized.ok()) << sized.status();
  EXPECT_EQ(sized->modifiers(0).gptq().batched_quantization().batch_size(), 8);
  EXPECT_THAT(parse("0").status().message(),
              HasSubstr("batched_quantization must be a positive integer"));
  EXPECT_THAT(parse("often").status().message(), HasSubstr("expected \"auto\""));
  auto old = ParseRecipe(
      "s_stage:\n  g_modifiers:\n    GPTQModifier: {scheme: W4A16, offload_hessians: true}\n",
      "r.yaml");
  EXPECT_THAT(old.status().message(),
              AllOf(HasSubstr("llm-compressor 0.14 removed it"), HasSubstr("delete the line")));
}

TEST(ParseRecipeTest, KvCacheOnly) {
  Recipe recipe = ParseFile("kv_cache_fp8.yaml");
  ASSERT_EQ(recipe.modifiers_size(), 1);
  const auto& mixin = recipe.modifiers(0).quantization();
  ASSERT_TRUE(mixin.has_kv_cache_scheme());
  EXPECT_EQ(mixin.kv_cache_scheme().num_bits(), 8);
  EXPECT_EQ(mixin.kv_cache_scheme().type(), "float");
  EXPECT_TRUE(mixin.kv_cache_scheme().symmetric());
  EXPECT_EQ(mixin.kv_cache_scheme().strategy(), "tensor");
  EXPECT_FALSE(mixin.has_config_groups());
  EXPECT_EQ(mixin.scheme_case(), wring::recipe::QuantizationMixin::SCHEME_NOT_SET);
}

TEST(ParseRecipeTest, Fp8DynamicWithRegexIgnores) {
  Recipe recipe = ParseFile("fp8_dynamic_vision_ignores.yaml");
  const auto& mixin = recipe.modifiers(0).quantization();
  EXPECT_THAT(mixin.ignore(), ElementsAre("lm_head", "re:vision_tower.*",
                                          "re:.*multi_modal_projector.*"));
  const auto& scheme = mixin.config_groups(0).scheme();
  EXPECT_EQ(scheme.weights().strategy(), "channel");
  EXPECT_EQ(scheme.weights().dynamic(), "false");
  EXPECT_EQ(scheme.input_activations().strategy(), "token");
  EXPECT_EQ(scheme.input_activations().dynamic(), "true");
  EXPECT_EQ(scheme.input_activations().type(), "float");
}

TEST(ParseRecipeTest, SpinQuantThenQuantizationAcrossStages) {
  Recipe recipe = ParseFile("spinquant_w4a16.yaml");
  ASSERT_EQ(recipe.modifiers_size(), 2);
  EXPECT_EQ(recipe.modifiers(0).stage(), "rotation_stage");
  EXPECT_EQ(recipe.modifiers(0).group(), "transform");
  const auto& spin = recipe.modifiers(0).spinquant();
  EXPECT_TRUE(spin.has_rotations());
  EXPECT_THAT(spin.rotations(), ElementsAre("R1", "R2", "R4"));
  EXPECT_EQ(spin.transform_type(), "hadamard");
  EXPECT_EQ(spin.transform_block_size(), 128);
  EXPECT_TRUE(spin.has_randomize());
  EXPECT_FALSE(spin.randomize());
  EXPECT_FALSE(spin.has_precision());
  EXPECT_EQ(recipe.modifiers(1).stage(), "quant_stage");
  // `targets: Linear` (a bare string) becomes a one-element list.
  EXPECT_THAT(recipe.modifiers(1).quantization().targets(), ElementsAre("Linear"));
  EXPECT_TRUE(recipe.modifiers(1).quantization().has_targets());
}

TEST(ParseRecipeTest, MixedNvFp4AndFp8ConfigGroupsKeepOrder) {
  Recipe recipe = ParseFile("nvfp4_fp8_mixed.yaml");
  const auto& mixin = recipe.modifiers(0).quantization();
  ASSERT_EQ(mixin.config_groups_size(), 2);
  EXPECT_EQ(mixin.config_groups(0).name(), "fp8_down");
  EXPECT_EQ(mixin.config_groups(1).name(), "nvfp4_rest");
  const auto& nvfp4 = mixin.config_groups(1).scheme();
  EXPECT_THAT(nvfp4.targets(), ElementsAre("re:.*self_attn\\.(k|o|q|v)_proj$",
                                           "re:.*\\.(gate|up)_proj$"));
  EXPECT_EQ(nvfp4.weights().scale_dtype(), "float8_e4m3fn");
  EXPECT_EQ(nvfp4.weights().strategy(), "tensor_group");
  EXPECT_EQ(nvfp4.weights().group_size(), 16);
  EXPECT_EQ(nvfp4.input_activations().dynamic(), "local");
}

TEST(ParseRecipeTest, JsonRecipeUsesJsonNumbers) {
  Recipe recipe = ParseFile("awq_w4a16.json");
  ASSERT_EQ(recipe.modifiers_size(), 2);
  EXPECT_EQ(recipe.modifiers(0).awq().duo_scaling(), "false");
  EXPECT_EQ(recipe.modifiers(0).awq().n_grid(), 20);  // 2e1 is a JSON float
  const auto& gptq = recipe.modifiers(1).gptq();
  ASSERT_EQ(gptq.quantization().preset_map().entries_size(), 1);
  EXPECT_EQ(gptq.quantization().preset_map().entries(0).preset(), "W4A16");
  EXPECT_THAT(gptq.quantization().preset_map().entries(0).targets(),
              ElementsAre("Linear"));
  EXPECT_DOUBLE_EQ(gptq.dampening_frac(), 0.01);
  EXPECT_EQ(gptq.actorder(), "weight");
  EXPECT_TRUE(ValidateRecipeOrder(recipe).ok());
}

TEST(ParseRecipeTest, DefaultRecipeIsAwqThenW4A16) {
  Recipe recipe = ParseOk(DefaultAwqW4A16Recipe(), "default");
  ASSERT_EQ(recipe.modifiers_size(), 2);
  EXPECT_TRUE(recipe.modifiers(0).has_awq());
  EXPECT_FALSE(recipe.modifiers(0).awq().has_mappings());
  const auto& mixin = recipe.modifiers(1).quantization();
  EXPECT_EQ(mixin.preset(), "W4A16");
  EXPECT_THAT(mixin.targets(), ElementsAre("Linear"));
  EXPECT_THAT(mixin.ignore(), ElementsAre("lm_head"));
  EXPECT_TRUE(ValidateRecipeOrder(recipe).ok());
}

TEST(ParseRecipeTest, OtherModifiersKeepTheirFieldsAsYamlText) {
  Recipe recipe = ParseOk(R"(
test_stage:
  pruning_modifiers:
    ConstantPruningModifier:
      start: 0.0
      end: 2.0
      targets: ['re:.*weight']
  smoothing_modifiers:
    SmoothQuantModifier:
      smoothing_strength: 0.8
      mappings: [[["re:.*q_proj"], "re:.*input_layernorm"]]
)");
  ASSERT_EQ(recipe.modifiers_size(), 2);
  const auto& pruning = recipe.modifiers(0);
  EXPECT_EQ(pruning.group(), "pruning");
  ASSERT_TRUE(pruning.has_other());
  EXPECT_EQ(pruning.other().fields().at("targets"), "[\"re:.*weight\"]");
  EXPECT_EQ(pruning.other().fields().at("end"), "2.0");
  const auto& smooth = recipe.modifiers(1).other();
  EXPECT_EQ(smooth.fields().at("smoothing_strength"), "0.8");
  EXPECT_EQ(smooth.fields().at("mappings"),
            "[[[\"re:.*q_proj\"], \"re:.*input_layernorm\"]]");
}

TEST(ParseRecipeTest, PyYamlScalarTypingAndPydanticCoercions) {
  Recipe recipe = ParseOk(R"(
s_stage:
  g_modifiers:
    GPTQModifier:
      block_size: "256"
      batched_quantization: 0x10
      config_groups:
        g:
          targets: [Linear]
          weights:
            num_bits: 0x4
            symmetric: off
            group_size: 1_28
            strategy: BLOCK
            block_structure: 128x64
            actorder: true
            dynamic: Local
            observer_kwargs: {maxshrink: 0.2, grid: 100}
)");
  const auto& gptq = recipe.modifiers(0).gptq();
  EXPECT_EQ(gptq.block_size(), 256);
  EXPECT_EQ(gptq.batched_quantization().batch_size(), 16);
  const auto& w = gptq.quantization().config_groups(0).scheme().weights();
  EXPECT_EQ(w.num_bits(), 4);
  EXPECT_FALSE(w.symmetric());
  EXPECT_EQ(w.group_size(), 128);
  EXPECT_EQ(w.strategy(), "BLOCK");  // as written; validation lower-cases
  EXPECT_THAT(w.block_structure(), ElementsAre(128, 64));
  EXPECT_EQ(w.actorder(), "true");
  EXPECT_EQ(w.dynamic(), "local");
  EXPECT_EQ(w.observer_kwargs().at("maxshrink"), "0.2");
  EXPECT_EQ(w.observer_kwargs().at("grid"), "100");
}

TEST(ParseRecipeTest, AnchorsAndAliasesShareValues) {
  Recipe recipe = ParseOk(R"(
quant_stage:
  quant_modifiers:
    QuantizationModifier:
      config_groups:
        a: {targets: [q_proj], weights: &int4 {num_bits: 4, strategy: group, group_size: 64}}
        b: {targets: [k_proj], weights: *int4}
)");
  const auto& groups = recipe.modifiers(0).quantization().config_groups();
  ASSERT_EQ(groups.size(), 2);
  EXPECT_EQ(groups[1].scheme().weights().group_size(), 64);
  EXPECT_EQ(groups[1].scheme().weights().num_bits(), 4);
}

TEST(ParseRecipeTest, ModifiersFollowFileOrderAcrossStagesAndGroups) {
  Recipe recipe = ParseOk(R"(
first_stage:
  a_modifiers:
    SpinQuantModifier: {}
  b_modifiers:
    QuantizationModifier: {scheme: FP8_DYNAMIC}
second_stage:
  c_modifiers:
    AWQModifier: {}
    GPTQModifier: {scheme: W4A16}
args: {anything: 1}
notes: ignored like upstream
)");
  ASSERT_EQ(recipe.modifiers_size(), 4);
  EXPECT_EQ(recipe.modifiers(0).type(), "SpinQuantModifier");
  EXPECT_FALSE(recipe.modifiers(0).spinquant().has_rotations());
  EXPECT_EQ(recipe.modifiers(1).group(), "b");
  EXPECT_EQ(recipe.modifiers(2).stage(), "second_stage");
  EXPECT_EQ(recipe.modifiers(3).type(), "GPTQModifier");
  EXPECT_FALSE(recipe.modifiers(3).gptq().has_actorder());
}

}  // namespace
}  // namespace mapping
}  // namespace wring
