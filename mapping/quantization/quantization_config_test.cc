#include "mapping/quantization/quantization_config.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace wring {
namespace mapping {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Mixin = wring::recipe::QuantizationMixin;

std::vector<std::string> GroupNames(const ResolvedQuantizationConfig& config) {
  std::vector<std::string> names;
  for (const auto& group : config.config_groups) names.push_back(group.name);
  return names;
}

std::string ErrorOf(
    const Mixin& mixin,
    QuantizationModifierKind kind = QuantizationModifierKind::kQuantizationModifier) {
  auto config = ResolveQuantizationMixin(mixin, kind);
  EXPECT_FALSE(config.ok());
  return config.ok() ? "" : std::string(config.status().message());
}

TEST(ResolveQuantizationMixinTest, PresetSchemeUsesModifierTargets) {
  Mixin mixin;
  mixin.set_preset("w4a16");
  mixin.add_ignore("lm_head");
  auto config = ResolveQuantizationMixin(mixin);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->config_groups.size(), 1u);
  EXPECT_EQ(config->config_groups[0].name, "group_0");
  QuantizationScheme w4a16 = *PresetScheme("W4A16", {"Linear"});
  w4a16.weights->observer = "memoryless_minmax";  // the modifier's default
  EXPECT_EQ(config->config_groups[0].scheme, w4a16);
  EXPECT_EQ(config->ignore, std::vector<std::string>{"lm_head"});
  EXPECT_TRUE(config->has_config);
  EXPECT_FALSE(config->requires_calibration_data);  // weight-only: data-free
  EXPECT_EQ(config->ResolvedTargets(), std::vector<std::string>{"Linear"});
}

TEST(ResolveQuantizationMixinTest, PresetMapBecomesNumberedGroups) {
  Mixin mixin;
  auto* w4 = mixin.mutable_preset_map()->add_entries();
  w4->set_preset("W4A16");
  w4->add_targets("re:.*self_attn.*");
  auto* fp8 = mixin.mutable_preset_map()->add_entries();
  fp8->set_preset("FP8");
  fp8->add_targets("re:.*mlp.*");
  auto config = ResolveQuantizationMixin(mixin);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(GroupNames(*config), ElementsAre("group_0", "group_1"));
  EXPECT_EQ(config->config_groups[1].scheme.targets, std::vector<std::string>{"re:.*mlp.*"});
  // FP8 has static input activations, so calibration data is needed.
  EXPECT_TRUE(config->requires_calibration_data);
}

TEST(ResolveQuantizationMixinTest, ConfigGroupsKeepTheirNamesAndOrder) {
  Mixin mixin;
  mixin.set_has_config_groups(true);
  for (const char* name : {"late", "early"}) {
    auto* group = mixin.add_config_groups();
    group->set_name(name);
    group->mutable_scheme()->add_targets(std::string("re:.*") + name);
    group->mutable_scheme()->mutable_weights()->set_num_bits(4);
  }
  auto config = ResolveQuantizationMixin(mixin);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(GroupNames(*config), ElementsAre("late", "early"));
  EXPECT_EQ(config->config_groups[0].scheme.weights->observer, std::string("memoryless_minmax"));
}

TEST(ResolveQuantizationMixinTest, SchemeAndConfigGroupsAreExclusive) {
  Mixin mixin;
  mixin.set_preset("W8A8");
  mixin.set_has_config_groups(true);  // even `config_groups: {}` counts
  EXPECT_EQ(ErrorOf(mixin), "Please specify either `scheme` or `config_groups`");
}

TEST(ResolveQuantizationMixinTest, UnknownPresetNames) {
  Mixin mixin;
  mixin.set_preset("W4A17");
  EXPECT_EQ(ErrorOf(mixin),
            "`scheme` must either be a preset scheme name or a dictionary of preset scheme names");
  Mixin map;
  map.mutable_preset_map()->add_entries()->set_preset("W4A16");
  map.mutable_preset_map()->add_entries()->set_preset("nope");
  EXPECT_EQ(ErrorOf(map),
            "`scheme` must either be a preset scheme name or a dictionary of preset scheme names");
}

TEST(ResolveQuantizationMixinTest, NothingSpecified) {
  Mixin empty;
  EXPECT_EQ(ErrorOf(empty), "QuantizationModifier requires that quantization fields be specified");
  // Explicit default targets are still "nothing specified".
  empty.set_has_targets(true);
  empty.add_targets("Linear");
  EXPECT_EQ(ErrorOf(empty), "QuantizationModifier requires that quantization fields be specified");

  // GPTQ accepts it; the empty default scheme is resolved but not applied.
  auto gptq = ResolveQuantizationMixin(empty, QuantizationModifierKind::kGptqModifier);
  ASSERT_TRUE(gptq.ok());
  EXPECT_FALSE(gptq->has_config);
  EXPECT_TRUE(gptq->requires_calibration_data);

  // Only an ignore list: a group_0 scheme with no args at all.
  Mixin ignore_only;
  ignore_only.add_ignore("lm_head");
  auto config = ResolveQuantizationMixin(ignore_only);
  ASSERT_TRUE(config.ok());
  ASSERT_EQ(config->config_groups.size(), 1u);
  EXPECT_EQ(config->config_groups[0].scheme.targets, std::vector<std::string>{"Linear"});
  EXPECT_FALSE(config->config_groups[0].scheme.weights.has_value());
}

TEST(ResolveQuantizationMixinTest, ObserverOverrides) {
  Mixin mixin;
  mixin.set_preset("NVFP4");
  mixin.set_weight_observer("mse");
  mixin.set_input_observer("minmax");
  auto config = ResolveQuantizationMixin(mixin);
  ASSERT_TRUE(config.ok()) << config.status();
  const QuantizationScheme& scheme = config->config_groups[0].scheme;
  EXPECT_EQ(scheme.weights->observer, std::string("mse"));
  EXPECT_EQ(scheme.input_activations->observer, std::string("minmax"));

  Mixin dict;
  dict.set_preset("FP8_DYNAMIC");
  dict.set_has_observer(true);
  (*dict.mutable_observer())["weights"] = "memoryless_mse";
  (*dict.mutable_observer())["input"] = "mse";
  auto dynamic = ResolveQuantizationMixin(dict);
  ASSERT_TRUE(dynamic.ok());
  EXPECT_EQ(dynamic->config_groups[0].scheme.weights->observer, std::string("memoryless_mse"));
  // llm-compressor 0.14 assigns an override even to dynamic args.
  EXPECT_EQ(dynamic->config_groups[0].scheme.input_activations->observer, std::string("mse"));
  EXPECT_TRUE(dynamic->warnings.empty());
}

// Without an override: static args the recipe left without an observer get
// memoryless_minmax (weights) or minmax (activations); fully dynamic ones
// none; written observers stay.
TEST(ResolveQuantizationMixinTest, ObserverDefaults) {
  Mixin fp8;
  fp8.set_preset("FP8");  // the preset names static_minmax for its inputs
  auto config = ResolveQuantizationMixin(fp8);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->config_groups[0].scheme.weights->observer, std::string("memoryless_minmax"));
  EXPECT_EQ(config->config_groups[0].scheme.input_activations->observer,
            std::string("static_minmax"));

  Mixin groups;
  groups.set_has_config_groups(true);
  auto* scheme = groups.add_config_groups();
  scheme->set_name("group_0");
  scheme->mutable_scheme()->add_targets("Linear");
  scheme->mutable_scheme()->mutable_input_activations()->set_num_bits(8);
  scheme->mutable_scheme()->mutable_output_activations()->set_strategy("token");
  scheme->mutable_scheme()->mutable_output_activations()->set_dynamic("true");
  config = ResolveQuantizationMixin(groups);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->config_groups[0].scheme.input_activations->observer, std::string("minmax"));
  EXPECT_FALSE(config->config_groups[0].scheme.output_activations->observer.has_value());
}

TEST(ResolveQuantizationMixinTest, ObserverOverrideOnlyAssignsTheField) {
  // MXFP4 sets zp_dtype=uint8 on symmetric args; upstream assigns the
  // observer without validating again, so it stays.
  Mixin mixin;
  mixin.set_preset("MXFP4A16");
  EXPECT_EQ(ResolveQuantizationMixin(mixin)->config_groups[0].scheme.weights->zp_dtype, "uint8");
  mixin.set_weight_observer("minmax");
  auto config = ResolveQuantizationMixin(mixin);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->config_groups[0].scheme.weights->zp_dtype, "uint8");
  EXPECT_EQ(config->config_groups[0].scheme.weights->observer, std::string("minmax"));
}

TEST(ResolveQuantizationMixinTest, ObserverErrors) {
  Mixin both;
  both.set_preset("W4A16");
  both.set_weight_observer("mse");
  both.set_has_observer(true);
  (*both.mutable_observer())["weights"] = "mse";
  EXPECT_EQ(ErrorOf(both),
            "Cannot specify both individual observer parameters (weight_observer, "
            "input_observer, output_observer) and observer dict. Please use either individual "
            "parameters or the observer dict.");

  Mixin bad_key;
  bad_key.set_preset("W4A16");
  bad_key.set_has_observer(true);
  (*bad_key.mutable_observer())["weight"] = "mse";
  EXPECT_EQ(ErrorOf(bad_key),
            "Invalid observer key 'weight'. Valid keys are: {'weights', 'input', 'output'}");
}

TEST(ResolveQuantizationMixinTest, KvCacheScheme) {
  Mixin mixin;
  auto* kv = mixin.mutable_kv_cache_scheme();
  kv->set_num_bits(8);
  kv->set_type("float");
  kv->set_symmetric(false);
  kv->set_strategy("tensor");
  auto config = ResolveQuantizationMixin(mixin);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->has_config);
  EXPECT_TRUE(config->requires_calibration_data);
  ASSERT_TRUE(config->kv_cache_scheme.has_value());
  // The modifier leaves the KV-cache observer unset; calibration uses minmax.
  EXPECT_FALSE(config->kv_cache_scheme->observer.has_value());
  EXPECT_THAT(config->warnings,
              ElementsAre("vLLM does not support asymmetric kv cache quantization"));
  EXPECT_EQ(config->ResolvedTargets(),
            (std::vector<std::string>{"Linear", "re:.*(self_attn|attention)$"}));

  kv->set_strategy("token");
  EXPECT_EQ(ErrorOf(mixin), "Cannot perform static token quantization, please use `dynamic=True`");
}

TEST(ResolveQuantizationMixinTest, RequiresCalibrationData) {
  auto requires_data = [](const char* preset) {
    Mixin mixin;
    mixin.set_preset(preset);
    return ResolveQuantizationMixin(mixin)->requires_calibration_data;
  };
  EXPECT_FALSE(requires_data("W4A16"));
  EXPECT_FALSE(requires_data("W8A8"));         // dynamic inputs
  EXPECT_FALSE(requires_data("FP8_DYNAMIC"));
  EXPECT_TRUE(requires_data("FP8"));           // static inputs
  EXPECT_TRUE(requires_data("NVFP4"));         // "local" inputs
  EXPECT_FALSE(requires_data("NVFP4A16"));

  Mixin imatrix;
  imatrix.set_preset("W4A16");
  imatrix.set_weight_observer("imatrix_mse");
  EXPECT_TRUE(ResolveQuantizationMixin(imatrix)->requires_calibration_data);

  Mixin outputs;
  outputs.set_has_config_groups(true);
  auto* group = outputs.add_config_groups();
  group->set_name("group_0");
  group->mutable_scheme()->add_targets("Linear");
  group->mutable_scheme()->mutable_output_activations()->set_num_bits(8);
  EXPECT_TRUE(ResolveQuantizationMixin(outputs)->requires_calibration_data);
}

TEST(ResolveGptqModifierTest, DefaultActorderIsStaticOnWeightSchemes) {
  wring::recipe::GptqModifier gptq;
  gptq.mutable_quantization()->set_preset("W4A16");
  auto config = ResolveGptqModifier(gptq);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->config_groups[0].scheme.weights->actorder, ActivationOrdering::kStatic);
  EXPECT_EQ(QuantizationArgsToJson(*config->config_groups[0].scheme.weights)["actorder"],
            "static");

  gptq.set_actorder("null");  // `actorder: null` turns ordering off
  EXPECT_FALSE(ResolveGptqModifier(gptq)->config_groups[0].scheme.weights->actorder.has_value());
}

TEST(ResolveGptqModifierTest, ConflictingActorder) {
  wring::recipe::GptqModifier gptq;
  auto* mixin = gptq.mutable_quantization();
  mixin->set_has_config_groups(true);
  auto* group = mixin->add_config_groups();
  group->set_name("group_0");
  group->mutable_scheme()->add_targets("Linear");
  group->mutable_scheme()->mutable_weights()->set_group_size(128);
  group->mutable_scheme()->mutable_weights()->set_actorder("weight");
  gptq.set_actorder("static");
  auto config = ResolveGptqModifier(gptq);
  ASSERT_FALSE(config.ok());
  // Upstream compares the plain strings: static and weight differ here.
  EXPECT_EQ(config.status().message(),
            "Cannot resolve activation ordering when both `GPTQModifier.actorder` and "
            "`QuantizationScheme.actorder` are provided and differ (static, weight). Either "
            "unset `GPTQModifier.actorder` or remove `actorder` from config groups.");
  gptq.set_actorder("weight");
  auto same = ResolveGptqModifier(gptq);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(same->config_groups[0].scheme.weights->actorder, ActivationOrdering::kWeight);
}

// The modifier-level field is not validated by compressed-tensors again, so
// group ordering still passes through it, with any strategy.
TEST(ResolveGptqModifierTest, ModifierLevelGroupActorderPassesThrough) {
  wring::recipe::GptqModifier gptq;
  gptq.mutable_quantization()->set_preset("W8A8");  // channel weights
  gptq.set_actorder("group");
  auto config = ResolveGptqModifier(gptq);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->config_groups[0].scheme.weights->actorder, ActivationOrdering::kGroup);
  EXPECT_TRUE(config->warnings.empty());
}

}  // namespace
}  // namespace mapping
}  // namespace wring
