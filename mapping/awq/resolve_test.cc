#include "mapping/awq/resolve.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace wring {
namespace mapping {
namespace {

Module M(std::string name, std::vector<std::string> mro, int64_t in = -1, int64_t out = -1) {
  Module m;
  m.name = std::move(name);
  m.mro = std::move(mro);
  m.class_name = m.mro[0];
  m.in_features = in;
  m.out_features = out;
  return m;
}

// One decoder layer with GQA attention (v_proj narrower than o_proj's input),
// a fused qkv variant and a MoE block.
ModuleTree Layer() {
  return *ModuleTree::Create({
      M("", {"Model"}),
      M("layers", {"ModuleList"}),
      M("layers.0", {"DecoderLayer"}),
      M("layers.0.self_attn", {"Attention"}),
      M("layers.0.self_attn.q_proj", {"Linear"}, 64, 64),
      M("layers.0.self_attn.v_proj", {"Linear"}, 64, 16),
      M("layers.0.self_attn.o_proj", {"Linear"}, 64, 64),
      M("layers.0.self_attn.qkv_proj", {"Linear"}, 64, 192),
      M("layers.0.mlp", {"SparseMoeBlock"}),
      M("layers.0.mlp.experts", {"LinearExperts2D", "ModuleList"}),
      M("layers.0.mlp.experts.0", {"ExpertMLPWithGate"}),
      M("layers.0.mlp.experts.0.up_proj", {"Linear"}, 64, 32),
      M("layers.0.mlp.experts.0.down_proj", {"Linear"}, 32, 64),
      M("layers.0.mlp.experts.1", {"ExpertMLPWithGate"}),
      M("layers.0.mlp.experts.1.up_proj", {"Linear"}, 64, 32),
      M("layers.0.mlp.experts.1.down_proj", {"Linear"}, 32, 64),
      M("layers.0.input_layernorm", {"RMSNorm"}),
      M("layers.0.post_attention_layernorm", {"RMSNorm"}),
  });
}

std::vector<bool> AllLinear(const ModuleTree& tree) {
  std::vector<bool> t(tree.size());
  for (int i = 0; i < tree.size(); ++i) t[i] = tree.IsLinear(i);
  return t;
}

AwqMapping Map(std::string smooth, std::vector<std::string> balance,
               absl::optional<std::string> hook = absl::nullopt) {
  return AwqMapping{std::move(smooth), std::move(balance), std::move(hook)};
}

TEST(ResolveAwqTest, ParentIsTheBalanceLcaAboveModuleLists) {
  ModuleTree tree = Layer();
  auto r = ResolveAwqMappings(
      tree, {Map("re:.*post_attention_layernorm$", {"re:.*experts.*.up_proj$"})}, AllLinear(tree));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->resolved.size(), 1u);
  EXPECT_EQ(tree.module(r->resolved[0].parent).name, "layers.0.mlp");
  EXPECT_EQ(r->resolved[0].balance.size(), 2u);
}

TEST(ResolveAwqTest, GqaValueToOutputProjectionIsSkippedAsIncompatible) {
  ModuleTree tree = Layer();
  auto r = ResolveAwqMappings(tree, {Map("re:.*\\.v_proj$", {"re:.*o_proj$"})}, AllLinear(tree));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->resolved.empty());
  ASSERT_EQ(r->skipped.size(), 1u);
  EXPECT_EQ(r->skipped[0].reason, AwqSkipReason::kIncompatible);
  EXPECT_EQ(r->log.back(),
            "WARNING 1 mappings were skipped due to incompatible shapes. Set logging to DEBUG "
            "to view full list.");
}

TEST(ResolveAwqTest, FusedQkvNeedsThreeTimesTheOutputInput) {
  ModuleTree tree = Layer();  // qkv out 192 == 3 * o_proj in 64: compatible
  auto r = ResolveAwqMappings(tree, {Map("re:.*qkv_proj$", {"re:.*o_proj$"})}, AllLinear(tree));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->resolved.size(), 1u);
  // The single balance layer is its own parent.
  EXPECT_EQ(tree.module(r->resolved[0].parent).name, "layers.0.self_attn.o_proj");
}

TEST(ResolveAwqTest, UntargetedSetsAreSkippedWithUpstreamWarning) {
  ModuleTree tree = Layer();
  std::vector<bool> none(tree.size(), false);
  auto r = ResolveAwqMappings(tree, {Map("re:.*input_layernorm$", {"re:.*q_proj$"})}, none);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->skipped.size(), 1u);
  EXPECT_EQ(r->skipped[0].reason, AwqSkipReason::kNotTargeted);
  EXPECT_EQ(r->log[0],
            "WARNING Skipping layers.0.input_layernorm for mapping "
            "AWQMapping(smooth_layer='re:.*input_layernorm$', balance_layers=['re:.*q_proj$'], "
            "activation_hook_target=None) because no layers are targeted for quantization.");
}

TEST(ResolveAwqTest, EmptyBalanceListIsSkipped) {
  ModuleTree tree = Layer();
  auto r = ResolveAwqMappings(tree, {Map("re:.*input_layernorm$", {})}, AllLinear(tree));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->skipped.size(), 1u);
  EXPECT_EQ(r->skipped[0].reason, AwqSkipReason::kNoBalance);
}

TEST(ResolveAwqTest, ActivationHookTargetIsResolvedFromTheParent) {
  ModuleTree tree = Layer();
  auto r = ResolveAwqMappings(
      tree, {Map("re:.*input_layernorm$", {"re:.*q_proj$", "re:.*experts.*.up_proj$"}, "mlp")},
      AllLinear(tree));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->resolved.size(), 1u);
  EXPECT_EQ(tree.module(r->resolved[0].parent).name, "layers.0");
  ASSERT_TRUE(r->resolved[0].hook.has_value());
  EXPECT_EQ(tree.module(*r->resolved[0].hook).name, "layers.0.mlp");
}

TEST(ResolveAwqTest, MissingActivationHookTargetRaisesAttributeError) {
  ModuleTree tree = Layer();
  auto r = ResolveAwqMappings(
      tree, {Map("re:.*input_layernorm$", {"re:.*q_proj$", "re:.*experts.*.up_proj$"}, "feed_forward")},
      AllLinear(tree));
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->error.has_value());
  EXPECT_EQ(*r->error, "AttributeError: DecoderLayer(...) object has no attribute feed_forward");
  EXPECT_TRUE(r->resolved.empty());
}

TEST(ResolveAwqTest, SmoothPatternMatchingTwiceInASetRaises) {
  ModuleTree tree = Layer();
  // Both norms match the smooth pattern before the balance layer closes
  // the set.
  auto r = ResolveAwqMappings(tree, {Map("re:.*layernorm$", {"re:.*experts.1.down_proj$"})},
                              AllLinear(tree));
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->error.has_value());
  EXPECT_EQ(*r->error,
            "ValueError: AWQ needs to match a single smoothlayer for each mapping but got "
            "['layers.0.input_layernorm', 'layers.0.post_attention_layernorm'] for mapping: "
            "AWQMapping(smooth_layer='re:.*layernorm$', "
            "balance_layers=['re:.*experts.1.down_proj$'], activation_hook_target=None)");
}

TEST(ResolveAwqTest, InvalidPatternIsUnusableInput) {
  ModuleTree tree = Layer();
  auto r = ResolveAwqMappings(tree, {Map("re:.*(?<=x)norm$", {"re:.*q_proj$"})}, AllLinear(tree));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("lookbehind"), std::string::npos);
}

}  // namespace
}  // namespace mapping
}  // namespace wring
