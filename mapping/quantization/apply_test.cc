#include "mapping/quantization/apply.h"

#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mapping/base/json.h"
#include "mapping/model/fixture_format.h"
#include "mapping/testing/decoder_trees.h"
#include "mapping/testing/runfiles.h"

namespace wring {
namespace mapping {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Mixin = wring::recipe::QuantizationMixin;

void AddGroup(Mixin& mixin, const std::string& name, std::vector<std::string> targets,
              int weight_bits) {
  mixin.set_has_config_groups(true);
  auto* group = mixin.add_config_groups();
  group->set_name(name);
  for (auto& t : targets) group->mutable_scheme()->add_targets(t);
  group->mutable_scheme()->mutable_weights()->set_num_bits(weight_bits);
}

ResolvedQuantizationConfig Resolve(const Mixin& mixin) {
  auto config = ResolveQuantizationMixin(mixin);
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : ResolvedQuantizationConfig();
}

ResolvedQuantizationConfig Preset(const char* preset, std::vector<std::string> targets,
                                  std::vector<std::string> ignore = {}) {
  Mixin mixin;
  mixin.set_preset(preset);
  mixin.set_has_targets(true);
  for (auto& t : targets) mixin.add_targets(t);
  for (auto& i : ignore) mixin.add_ignore(i);
  return Resolve(mixin);
}

SchemeAssignments Assign(const ModuleTree& tree,
                         const std::vector<ResolvedQuantizationConfig>& configs) {
  auto result = AssignSchemes(tree, configs);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *std::move(result) : SchemeAssignments();
}

const ModuleSchemeAssignment* Of(const ModuleTree& tree, const SchemeAssignments& a,
                                 const std::string& name) {
  auto index = tree.Find(name);
  EXPECT_TRUE(index.has_value()) << name;
  return index ? a.Find(*index) : nullptr;
}

int WeightBits(const ModuleTree& tree, const SchemeAssignments& a, const std::string& name) {
  const ModuleSchemeAssignment* m = Of(tree, a, name);
  if (m == nullptr || !a.scheme(*m).weights) return -1;
  return a.scheme(*m).weights->num_bits;
}

std::vector<std::string> AssignedNames(const ModuleTree& tree, const SchemeAssignments& a) {
  std::vector<std::string> names;
  for (const auto& m : a.modules) names.push_back(tree.module(m.module).name);
  return names;
}

// compressed-tensors' test_target_prioritization.
TEST(AssignSchemesTest, ExactNameBeatsRegexBeatsClass) {
  ModuleTree tree = testing::BuildDecoderTree(testing::LlamaShape());
  Mixin mixin;
  AddGroup(mixin, "group_1", {"Linear"}, 8);
  AddGroup(mixin, "group_2", {"re:.*down_proj"}, 4);
  AddGroup(mixin, "group_3", {"model.layers.0.mlp.down_proj"}, 2);
  SchemeAssignments a = Assign(tree, {Resolve(mixin)});

  for (int m = 0; m < tree.size(); ++m) {
    const std::string& name = tree.module(m).name;
    if (name == "model.layers.0.mlp.down_proj") {
      EXPECT_EQ(WeightBits(tree, a, name), 2);
      EXPECT_EQ(Of(tree, a, name)->decided_by, "model.layers.0.mlp.down_proj");
    } else if (absl::StrContains(name, "down_proj")) {
      EXPECT_EQ(WeightBits(tree, a, name), 4) << name;
      EXPECT_EQ(a.schemes[Of(tree, a, name)->applied_scheme].group_name, "group_2");
    } else if (tree.module(m).class_name == "Linear") {
      EXPECT_EQ(WeightBits(tree, a, name), 8) << name;
      EXPECT_EQ(Of(tree, a, name)->decided_by, "Linear");
    } else {
      EXPECT_EQ(a.Find(m), nullptr) << name;
    }
  }
  // "Linear" comes first in target order and is credited for every Linear,
  // so upstream warns about the other two although they decided schemes.
  ASSERT_EQ(a.unmatched_targets.size(), 2u);
  EXPECT_EQ(a.unmatched_targets[0].target, "re:.*down_proj");
  EXPECT_EQ(a.unmatched_targets[1].target, "model.layers.0.mlp.down_proj");
}

TEST(AssignSchemesTest, OverlappingRegexesResolveAlphabeticallyNotByGroupOrder) {
  ModuleTree tree = testing::BuildDecoderTree(testing::LlamaShape());
  Mixin mixin;
  // Listed first, but "re:.*mlp.*" sorts before "re:model..." ('.' < 'm').
  AddGroup(mixin, "layer_one", {"re:model.layers.1.*"}, 4);
  AddGroup(mixin, "mlp", {"re:.*mlp.*"}, 8);
  SchemeAssignments a = Assign(tree, {Resolve(mixin)});
  EXPECT_EQ(WeightBits(tree, a, "model.layers.1.mlp.up_proj"), 8);
  EXPECT_EQ(WeightBits(tree, a, "model.layers.1.self_attn.q_proj"), 4);
  EXPECT_EQ(WeightBits(tree, a, "model.layers.0.mlp.up_proj"), 8);
  EXPECT_EQ(Of(tree, a, "model.layers.0.self_attn.q_proj"), nullptr);
}

TEST(AssignSchemesTest, SameTargetInTwoGroupsBelongsToTheLaterGroup) {
  ModuleTree tree = testing::BuildDecoderTree(testing::LlamaShape());
  Mixin mixin;
  AddGroup(mixin, "first", {"Linear", "re:.*q_proj$"}, 8);
  AddGroup(mixin, "second", {"Linear"}, 4);
  SchemeAssignments a = Assign(tree, {Resolve(mixin)});
  EXPECT_EQ(WeightBits(tree, a, "model.layers.0.mlp.up_proj"), 4);
  EXPECT_EQ(WeightBits(tree, a, "model.layers.0.self_attn.q_proj"), 8);
}

TEST(AssignSchemesTest, IgnoreWinsAndUnmatchedTargetsAreReported) {
  ModuleTree tree = testing::BuildDecoderTree(testing::LlamaShape());
  Mixin mixin;
  // Only the first matching target of a module is credited: q_proj modules
  // take the regex's scheme, yet upstream still warns about the regex.
  AddGroup(mixin, "group_0", {"Linear", "re:.*q_proj$", "re:.*nonexistent"}, 4);
  mixin.add_ignore("lm_head");
  mixin.add_ignore("re:.*layers\\.1\\.mlp.*");
  SchemeAssignments a = Assign(tree, {Resolve(mixin)});
  EXPECT_EQ(Of(tree, a, "lm_head"), nullptr);
  EXPECT_EQ(Of(tree, a, "model.layers.1.mlp.down_proj"), nullptr);
  EXPECT_NE(Of(tree, a, "model.layers.0.mlp.down_proj"), nullptr);
  EXPECT_EQ(Of(tree, a, "model.layers.0.self_attn.q_proj")->decided_by, "re:.*q_proj$");
  ASSERT_EQ(a.unmatched_targets.size(), 2u);
  EXPECT_EQ(a.unmatched_targets[0].target, "re:.*q_proj$");
  EXPECT_EQ(a.unmatched_targets[1].message,
            "Could not match `re:.*nonexistent` in instance of LlamaForCausalLM");
  // 2 layers x 7 Linear, minus layer 1's 3 MLP projections.
  EXPECT_EQ(a.modules.size(), 11u);
}

TEST(AssignSchemesTest, OnlyLinearAndEmbeddingReceiveSchemes) {
  ModuleTree tree = testing::BuildDecoderTree(testing::LlamaShape());
  SchemeAssignments a = Assign(tree, {Preset("W8A16", {"re:.*"})});
  for (const auto& m : a.modules) {
    const Module& module = tree.module(m.module);
    EXPECT_TRUE(module.class_name == "Linear" || module.class_name == "Embedding") << module.name;
  }
  EXPECT_NE(Of(tree, a, "model.embed_tokens"), nullptr);
  EXPECT_EQ(Of(tree, a, "model.norm"), nullptr);
  // re:.* also matches each attention module's parent, so no attention quant.
  EXPECT_EQ(Of(tree, a, "model.layers.0.self_attn"), nullptr);
  EXPECT_EQ(a.modules.size(), 2u * 7u + 2u);

  // "Linear" never matches the Embedding; its class name does.
  SchemeAssignments linear = Assign(tree, {Preset("W8A16", {"Linear"})});
  EXPECT_EQ(Of(tree, linear, "model.embed_tokens"), nullptr);
  SchemeAssignments embedding = Assign(tree, {Preset("W8A16", {"Embedding"})});
  EXPECT_THAT(AssignedNames(tree, embedding), ElementsAre("model.embed_tokens"));
}

TEST(AssignSchemesTest, KvCacheAndAttentionQuantization) {
  ModuleTree tree = testing::BuildDecoderTree(testing::LlamaShape());
  Mixin kv;
  kv.mutable_kv_cache_scheme()->set_num_bits(8);
  kv.mutable_kv_cache_scheme()->set_type("float");
  SchemeAssignments a = Assign(tree, {Resolve(kv)});
  // The default group_0 scheme (no args) also lands on every Linear.
  for (int layer : {0, 1}) {
    const auto* attn = Of(tree, a, absl::StrCat("model.layers.", layer, ".self_attn"));
    ASSERT_NE(attn, nullptr);
    EXPECT_EQ(attn->attachment, SchemeAttachment::kKvCache);
    EXPECT_EQ(a.scheme(*attn).targets, std::vector<std::string>{kKvCacheTarget});
    EXPECT_EQ(a.scheme(*attn).input_activations->type, QuantizationType::kFloat);
  }

  // A config group narrowly matching the attention module replaces the
  // KV-cache scheme with attention quantization.
  Mixin attention;
  attention.set_has_config_groups(true);
  auto* group = attention.add_config_groups();
  group->set_name("attn");
  group->mutable_scheme()->add_targets("re:.*self_attn$");
  group->mutable_scheme()->mutable_input_activations()->set_num_bits(8);
  group->mutable_scheme()->mutable_input_activations()->set_type("float");
  *attention.mutable_kv_cache_scheme() = kv.kv_cache_scheme();
  SchemeAssignments b = Assign(tree, {Resolve(attention)});
  const auto* attn = Of(tree, b, "model.layers.1.self_attn");
  ASSERT_NE(attn, nullptr);
  EXPECT_EQ(attn->attachment, SchemeAttachment::kAttention);
  EXPECT_EQ(attn->decided_by, "re:.*self_attn$");
  EXPECT_EQ(Of(tree, b, "model.layers.1.self_attn.q_proj"), nullptr);
}

TEST(AssignSchemesTest, CachedAttentionNeedsAttentionClassAndKvChild) {
  ModuleTree tree = testing::BuildDecoderTree(testing::LlamaShape());
  EXPECT_TRUE(IsCachedAttentionModule(tree, *tree.Find("model.layers.0.self_attn")));
  EXPECT_FALSE(IsCachedAttentionModule(tree, *tree.Find("model.layers.0.mlp")));
  EXPECT_FALSE(IsCachedAttentionModule(tree, *tree.Find("model.layers.0")));
}

TEST(AssignSchemesTest, LaterModifierOverwritesEarlierOne) {
  ModuleTree tree = testing::BuildDecoderTree(testing::LlamaShape());
  SchemeAssignments a = Assign(tree, {Preset("W4A16", {"Linear"}, {"lm_head"}),
                                      Preset("W8A8", {"re:.*mlp\\.(down|gate|up)_proj$"})});
  const auto* up = Of(tree, a, "model.layers.0.mlp.up_proj");
  ASSERT_NE(up, nullptr);
  EXPECT_EQ(a.schemes[up->applied_scheme].config_index, 1);
  EXPECT_TRUE(a.scheme(*up).input_activations.has_value());
  const auto* q = Of(tree, a, "model.layers.0.self_attn.q_proj");
  EXPECT_EQ(a.schemes[q->applied_scheme].config_index, 0);
  EXPECT_EQ(WeightBits(tree, a, "model.layers.0.self_attn.q_proj"), 4);
  EXPECT_EQ(Of(tree, a, "lm_head"), nullptr);
}

TEST(AssignSchemesTest, GptqWithoutConfigAppliesNothing) {
  ModuleTree tree = testing::BuildDecoderTree(testing::LlamaShape());
  auto gptq = ResolveQuantizationMixin(Mixin(), QuantizationModifierKind::kGptqModifier);
  ASSERT_TRUE(gptq.ok());
  SchemeAssignments a = Assign(tree, {Preset("W4A16", {"Linear"}), *gptq});
  EXPECT_EQ(a.modules.size(), 2u * 7u + 1u);
  for (const auto& m : a.modules) EXPECT_EQ(a.schemes[m.applied_scheme].config_index, 0);
}

TEST(AssignSchemesTest, GroupSizeDivisibility) {
  testing::DecoderShape shape = testing::LlamaShape();
  shape.intermediate = 688;  // down_proj columns: 688 = 5 * 128 + 48
  ModuleTree tree = testing::BuildDecoderTree(shape);
  auto config = Preset("W4A16", {"Linear"}, {"lm_head"});
  auto result = AssignSchemes(tree, {config});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(),
            "The following layers have weight column counts not divisible by group_size. Group "
            "and tensor-group quantization require columns % group_size == 0; compressed-tensors "
            "will error when saving or running forward. Add these layer names to the modifier's "
            "`ignore` list and re-run, or set bypass_divisibility_checks=True if your runtime "
            "(e.g. vLLM) supports non-divisible dimensions.\n\n"
            "  - model.layers.0.mlp.down_proj (columns=688, group_size=128)\n"
            "  - model.layers.1.mlp.down_proj (columns=688, group_size=128)");

  config.bypass_divisibility_checks = true;
  EXPECT_TRUE(AssignSchemes(tree, {config}).ok());
  config.bypass_divisibility_checks = false;
  AssignSchemesOptions no_check;
  no_check.check_group_size_divisibility = false;
  auto unchecked = AssignSchemes(tree, {config}, no_check);
  ASSERT_TRUE(unchecked.ok());
  EXPECT_FALSE(ValidateGroupSizeDivisibility(tree, *unchecked, config).ok());

  // Fewer columns than the group size are not reported; per-channel is
  // never checked.
  testing::DecoderShape narrow = testing::LlamaShape();
  narrow.hidden = 64;
  narrow.q_out = 64;
  narrow.kv_out = 16;
  narrow.intermediate = 96;
  EXPECT_TRUE(AssignSchemes(testing::BuildDecoderTree(narrow), {config}).ok());
  EXPECT_TRUE(AssignSchemes(tree, {Preset("W8A8", {"Linear"})}).ok());
}

TEST(AssignSchemesTest, EmbeddingColumnsComeFromItsWeight) {
  testing::DecoderShape shape = testing::LlamaShape();
  shape.hidden = 200;
  ModuleTree tree = testing::BuildDecoderTree(shape);
  auto result = AssignSchemes(tree, {Preset("W4A16", {"Embedding"})});
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("  - model.embed_tokens (columns=200, group_size=128)"));
}

TEST(AssignSchemesTest, PythonOnlyRegexIsReported) {
  ModuleTree tree = testing::BuildDecoderTree(testing::LlamaShape());
  auto result =
      AssignSchemes(tree, {Preset("W4A16", {"Linear"}, {"re:model\\.layers\\.(?!0\\.).*"})});
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("(?!"));
}

// The fixtures hold which modules llm-compressor gave a W4A16 scheme on
// ["Linear"] with ignore ["lm_head"].
class FixtureTargetsTest : public ::testing::TestWithParam<std::string> {};

TEST_P(FixtureTargetsTest, MatchesLlmCompressor) {
  std::string path = absl::StrCat("tests/fixtures/mapping/", GetParam(), ".json");
  auto document = ParseJson(testing::ReadFileOrFail(path), path);
  ASSERT_TRUE(document.ok()) << document.status();
  auto model = ModelFromModuleDump(*document, path);
  ASSERT_TRUE(model.ok()) << model.status();
  const Json* expected_json = JsonMember(*document, "w4a16_targets");
  ASSERT_NE(expected_json, nullptr);
  std::vector<std::string> expected;
  for (const Json& name : *expected_json) {
    ASSERT_TRUE(name.is_string());
    expected.push_back(name.get_ref<const std::string&>());
  }

  auto start = std::chrono::steady_clock::now();
  auto result = AssignSchemes(model->tree, {Preset("W4A16", {"Linear"}, {"lm_head"})});
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(AssignedNames(model->tree, *result), expected);
  EXPECT_LT(seconds, 2.0);
}

INSTANTIATE_TEST_SUITE_P(RealModels, FixtureTargetsTest,
                         ::testing::Values("LlamaForCausalLM", "Qwen3MoeForCausalLM.linearized",
                                           "Qwen3NextForCausalLM.linearized"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '.') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace mapping
}  // namespace wring
