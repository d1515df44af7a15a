#include "backend/compress/quantization_config.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "mapping/base/json.h"
#include "mapping/proto/recipe.pb.h"
#include "mapping/quantization/apply.h"
#include "mapping/quantization/quantization_config.h"
#include "mapping/quantization/quantization_scheme.h"
#include "mapping/testing/decoder_trees.h"

namespace wring {
namespace backend {
namespace compress {
namespace {

using mapping::Json;

// `scheme: PRESET` with `targets`, resolved as QuantizationModifier does
// (observer defaults included), so the config is what a run would write.
mapping::NamedQuantizationScheme Group(const char* name, const char* preset, std::vector<std::string> targets) {
  wring::recipe::QuantizationMixin mixin;
  mixin.set_preset(preset);
  mixin.set_has_targets(true);
  for (const std::string& target : targets) mixin.add_targets(target);
  auto resolved = mapping::ResolveQuantizationMixin(mixin);
  EXPECT_TRUE(resolved.ok()) << resolved.status();
  if (!resolved.ok() || resolved->config_groups.size() != 1) return {name, {}};
  return {name, resolved->config_groups[0].scheme};
}

mapping::SchemeAssignments Assign(const mapping::ModuleTree& tree,
                                  std::vector<mapping::NamedQuantizationScheme> groups,
                                  std::vector<std::string> ignore) {
  mapping::ResolvedQuantizationConfig config;
  config.config_groups = std::move(groups);
  config.ignore = std::move(ignore);
  config.has_config = true;
  auto assignments = mapping::AssignSchemes(tree, {config});
  EXPECT_TRUE(assignments.ok()) << assignments.status();
  return *assignments;
}

Json Parse(const std::string& text) {
  auto json = mapping::ParseJson(text, "expected");
  EXPECT_TRUE(json.ok()) << json.status();
  return *json;
}

// Inventory §7.5, keys in json.dump(sort_keys=True) order.
constexpr char kW4A16Expected[] = R"({
  "config_groups": {"group_0": {
      "format": "pack-quantized", "input_activations": null, "output_activations": null,
      "targets": ["Linear"],
      "weights": {"actorder": null, "block_structure": null, "dynamic": false, "group_size": 128,
                  "num_bits": 4, "observer": "memoryless_minmax", "observer_kwargs": {},
                  "scale_dtype": null, "strategy": "group", "symmetric": true, "type": "int", "zp_dtype": null}}},
  "format": "pack-quantized", "global_compression_ratio": null, "ignore": ["lm_head"],
  "kv_cache_scheme": null, "quant_method": "compressed-tensors", "quantization_status": "compressed",
  "sparsity_config": {}, "transform_config": {}, "version": "0.19.0"})";

TEST(BuildQuantizationConfigTest, W4A16LlamaMatchesUpstreamLayoutAndKeyOrder) {
  const mapping::ModuleTree tree = mapping::testing::BuildDecoderTree(mapping::testing::LlamaShape());
  const auto assignments = Assign(tree, {Group("group_0", "W4A16", {"Linear"})}, {"lm_head"});
  const absl::optional<Json> config = BuildQuantizationConfig(tree, assignments);
  ASSERT_TRUE(config.has_value());
  // dump() of ordered JSON compares key order as well as content.
  EXPECT_EQ(config->dump(2), Parse(kW4A16Expected).dump(2));
}

TEST(BuildQuantizationConfigTest, IgnoreListsConcreteNamesNotRecipePatterns) {
  const mapping::ModuleTree tree = mapping::testing::BuildDecoderTree(mapping::testing::LlamaShape());
  const auto assignments =
      Assign(tree, {Group("group_0", "W4A16", {"Linear"})}, {"lm_head", "re:.*down_proj$"});
  const absl::optional<Json> config = BuildQuantizationConfig(tree, assignments);
  ASSERT_TRUE(config.has_value());
  EXPECT_EQ((*config)["ignore"].dump(),
            R"(["model.layers.0.mlp.down_proj","model.layers.1.mlp.down_proj","lm_head"])");
}

TEST(BuildQuantizationConfigTest, DistinctSchemesBecomeGroupsInModuleOrder) {
  const mapping::ModuleTree tree = mapping::testing::BuildDecoderTree(mapping::testing::LlamaShape());
  // The recipe lists the MLP group first, but q_proj precedes the MLP in
  // named_modules(), so the attention scheme becomes group_0.
  const auto assignments = Assign(tree,
                                  {Group("mlp", "W4A16", {"re:.*mlp\\..*_proj$"}),
                                   Group("attn", "W8A8", {"re:.*self_attn\\..*_proj$"})},
                                  {});
  const absl::optional<Json> config = BuildQuantizationConfig(tree, assignments);
  ASSERT_TRUE(config.has_value());
  const Json& groups = (*config)["config_groups"];
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups["group_0"]["format"], "int-quantized");
  EXPECT_EQ(groups["group_0"]["targets"].dump(), R"(["re:.*self_attn\\..*_proj$"])");
  EXPECT_EQ(groups["group_0"]["input_activations"]["strategy"], "token");
  EXPECT_EQ(groups["group_1"]["format"], "pack-quantized");
  EXPECT_EQ((*config)["format"], "mixed-precision");
  EXPECT_EQ((*config)["ignore"].dump(), R"(["lm_head"])");
}

TEST(BuildQuantizationConfigTest, OverrideFormatAppliesToGroupsAndModel) {
  const mapping::ModuleTree tree = mapping::testing::BuildDecoderTree(mapping::testing::LlamaShape());
  const auto assignments = Assign(tree, {Group("group_0", "W8A16", {"Linear"})}, {"lm_head"});
  QuantizationConfigOptions options;
  options.override_format = mapping::CompressionFormat::kNaiveQuantized;
  const absl::optional<Json> config = BuildQuantizationConfig(tree, assignments, options);
  ASSERT_TRUE(config.has_value());
  EXPECT_EQ((*config)["format"], "naive-quantized");
  EXPECT_EQ((*config)["config_groups"]["group_0"]["format"], "naive-quantized");
}

TEST(BuildQuantizationConfigTest, NothingQuantizedWritesNoConfig) {
  const mapping::ModuleTree tree = mapping::testing::BuildDecoderTree(mapping::testing::LlamaShape());
  mapping::SchemeAssignments none;
  none.index_by_module.assign(tree.size(), -1);
  EXPECT_FALSE(BuildQuantizationConfig(tree, none).has_value());
}

TEST(VllmModuleTypeTest, GatesAndRoutersCountAsLinear) {
  EXPECT_EQ(VllmModuleType("Glm4MoeTopkRouter"), "Linear");
  EXPECT_EQ(VllmModuleType("DeepseekV3Gate"), "Linear");
  EXPECT_EQ(VllmModuleType("MiniMaxGating"), "Linear");
  EXPECT_EQ(VllmModuleType("GateExpertMLP"), "GateExpertMLP");
  EXPECT_EQ(VllmModuleType("LlamaMLP"), "LlamaMLP");
  // compressed-tensors 0.19: "Gate" must not run on into a lower-case word.
  EXPECT_EQ(VllmModuleType("Qwen3NextGatedDeltaNet"), "Qwen3NextGatedDeltaNet");
  EXPECT_EQ(VllmModuleType("SharedExpertGateLinear"), "Linear");
  EXPECT_EQ(VllmModuleType("GatedGate"), "Linear");
}

TEST(SortKeysRecursivelyTest, SortsNestedObjectsInsideArrays) {
  const Json sorted = SortKeysRecursively(Parse(R"({"b": [{"z": 1, "a": {"y": 2, "x": 3}}], "a": null})"));
  EXPECT_EQ(sorted.dump(), R"({"a":null,"b":[{"a":{"x":3,"y":2},"z":1}]})");
}

}  // namespace
}  // namespace compress
}  // namespace backend
}  // namespace wring
