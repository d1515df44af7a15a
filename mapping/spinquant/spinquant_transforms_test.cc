#include "mapping/spinquant/spinquant_transforms.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mapping/testing/decoder_trees.h"
#include "mapping/testing/python_sets.h"

namespace wring {
namespace mapping {
namespace spinquant {
namespace {

using ::wring::mapping::testing::BuildDecoderTree;
using ::wring::mapping::testing::DecoderShape;
using ::wring::mapping::testing::SameMessageUpToSetOrder;

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

Json Parse(const std::string& text) {
  absl::StatusOr<Json> json = ParseJson(text, "test");
  EXPECT_TRUE(json.ok()) << json.status();
  return json.ok() ? *json : Json();
}

// Key order does not matter when config.json is written (sort_keys).
nlohmann::json Unordered(const Json& json) {
  return nlohmann::json::parse(json.dump(), nullptr, /*allow_exceptions=*/false);
}

TEST(HeadDimFromConfigTest, PrefersExplicitHeadDim) {
  auto head_dim = HeadDimFromConfig(
      Parse(R"({"head_dim": 256, "hidden_size": 2048, "num_attention_heads": 16})"));
  ASSERT_TRUE(head_dim.ok()) << head_dim.status();
  EXPECT_EQ(*head_dim, 256);
}

TEST(HeadDimFromConfigTest, DerivesFromHiddenSizeAndHeads) {
  auto head_dim = HeadDimFromConfig(Parse(R"({"hidden_size": 3072, "num_attention_heads": 32})"));
  ASSERT_TRUE(head_dim.ok()) << head_dim.status();
  EXPECT_EQ(*head_dim, 96);
  // Floor division, as Python's //.
  head_dim = HeadDimFromConfig(Parse(R"({"hidden_size": 100, "num_attention_heads": 3})"));
  ASSERT_TRUE(head_dim.ok());
  EXPECT_EQ(*head_dim, 33);
}

TEST(HeadDimFromConfigTest, ExplicitNullIsNone) {
  auto head_dim = HeadDimFromConfig(
      Parse(R"({"head_dim": null, "hidden_size": 2048, "num_attention_heads": 16})"));
  ASSERT_TRUE(head_dim.ok()) << head_dim.status();
  EXPECT_FALSE(head_dim->has_value());
}

TEST(HeadDimFromConfigTest, NestedTextConfigIsNotRead) {
  auto head_dim = HeadDimFromConfig(
      Parse(R"({"text_config": {"head_dim": 256, "hidden_size": 2560}, "model_type": "gemma3"})"));
  ASSERT_FALSE(head_dim.ok());
  EXPECT_THAT(std::string(head_dim.status().message()),
              StartsWith("Cannot determine head_dim from config. Config must define either "
                         "`head_dim` or both `hidden_size` and `num_attention_heads`. "));
}

TEST(HeadDimFromConfigTest, ZeroHeadsIsZeroDivision) {
  auto head_dim = HeadDimFromConfig(Parse(R"({"hidden_size": 64, "num_attention_heads": 0})"));
  ASSERT_FALSE(head_dim.ok());
  EXPECT_EQ(head_dim.status().message(), "integer division or modulo by zero");
}

TEST(SpinQuantOptionsTest, Validation) {
  SpinQuantOptions options;
  options.rotations = {"r1", "R3"};
  EXPECT_TRUE(ValidateSpinQuantOptions(options).ok());

  options.rotations = {"R1", "R5"};
  absl::Status status = ValidateSpinQuantOptions(options);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("rotations[1]: 'R5'"));

  options.rotations = {"R1"};
  options.transform_type = "walsh";
  EXPECT_THAT(std::string(ValidateSpinQuantOptions(options).message()), HasSubstr("'walsh'"));

  // NotImplementedError escapes pydantic before other problems are reported.
  options.randomize = true;
  status = ValidateSpinQuantOptions(options);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(status.message(), "randomize is not supported as of now");
  options.randomize = false;
  options.learnable = true;
  EXPECT_EQ(ValidateSpinQuantOptions(options).message(), "learnable is not supported as of now");
}

TEST(TransformConfigTest, R1R2MatchesTheSavedConfigExample) {
  // llmcompressor-inventory §5.4: what config.json holds for R1+R2, hadamard,
  // block size 128 on a Llama model.
  const Json expected = Parse(R"({"config_groups": {
    "R1": {"apply": [{"ignore": [], "inverse": false, "location": "weight_output",
                      "targets": ["re:.*embed_tokens$", "re:.*o_proj$", "re:.*down_proj$"]},
                     {"ignore": [], "inverse": true, "location": "weight_input",
                      "targets": ["re:.*q_proj$", "re:.*k_proj$", "re:.*v_proj$",
                                  "re:.*up_proj$", "re:.*gate_proj$", "lm_head"]}],
           "head_dim": 128, "precision": "torch.float64", "randomize": false,
           "requires_grad": false, "type": "hadamard"},
    "R2": {"apply": [{"ignore": [], "inverse": false, "location": "weight_output",
                      "targets": ["re:.*v_proj$"]},
                     {"ignore": [], "inverse": true, "location": "weight_input",
                      "targets": ["re:.*o_proj$"]}],
           "head_dim": 128, "precision": "torch.float64", "randomize": false,
           "requires_grad": false, "type": "hadamard"}}})");
  SpinQuantOptions options;
  options.transform_block_size = 128;
  auto config = BuildTransformConfig(DefaultSpinQuantMapping(), options,
                                     Parse(R"({"head_dim": 128, "hidden_size": 4096})"));
  ASSERT_TRUE(config.ok()) << config.status();
  Json json = TransformConfigToJson(*config);
  EXPECT_EQ(Unordered(json), Unordered(expected));
  // pydantic's field order, before any key sorting.
  std::vector<std::string> keys;
  for (const auto& item : json["config_groups"]["R1"].items()) keys.push_back(item.key());
  EXPECT_THAT(keys,
              ElementsAre("type", "apply", "randomize", "requires_grad", "head_dim", "precision"));
}

TEST(TransformConfigTest, GroupsAlwaysInRotationOrder) {
  SpinQuantOptions options;
  options.rotations = {"r4", "R3", "r1"};
  auto config =
      BuildTransformConfig(DefaultSpinQuantMapping(), options, absl::optional<int64_t>(64));
  ASSERT_TRUE(config.ok()) << config.status();
  std::vector<std::string> names;
  for (const auto& group : config->config_groups) names.push_back(group.first);
  EXPECT_THAT(names, ElementsAre("R1", "R3", "R4"));

  const TransformScheme& r3 = config->config_groups[1].second;
  EXPECT_EQ(r3.head_dim, 64);  // model head dim
  ASSERT_EQ(r3.apply.size(), 2u);
  EXPECT_EQ(r3.apply[0].location, "q_attn");
  EXPECT_EQ(r3.apply[1].location, "k_cache");
  EXPECT_THAT(r3.apply[0].targets, ElementsAre("re:.*self_attn$"));

  const TransformScheme& r4 = config->config_groups[2].second;
  EXPECT_FALSE(r4.head_dim.has_value());  // transform_block_size unset
  EXPECT_EQ(r4.apply[0].location, "input");
  EXPECT_FALSE(r4.apply[0].inverse);
  EXPECT_EQ(r4.apply[1].location, "weight_input");
  EXPECT_TRUE(r4.apply[1].inverse);
  EXPECT_THAT(r4.apply[1].targets, ElementsAre("re:.*down_proj$"));
}

TEST(TransformConfigTest, HeadDimIsReadEvenForR1Only) {
  SpinQuantOptions options;
  options.rotations = {"R1"};
  auto config = BuildTransformConfig(DefaultSpinQuantMapping(), options,
                                     Parse(R"({"text_config": {"head_dim": 128}})"));
  EXPECT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()),
              StartsWith("Cannot determine head_dim from config."));
}

TransformConfig Build(const SpinQuantOptions& options, absl::optional<int64_t> head_dim) {
  auto config = BuildTransformConfig(DefaultSpinQuantMapping(), options, head_dim);
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : TransformConfig();
}

TEST(PlanTransformsTest, PlacesEveryTargetInApplicationOrder) {
  ModuleTree tree = BuildDecoderTree(DecoderShape{});
  auto plan = PlanTransforms(tree, Build(SpinQuantOptions{}, 16));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(plan->error.ok()) << plan->error;
  EXPECT_THAT(plan->notes, IsEmpty());
  // R1: embedding + 2 o_proj + 2 down_proj, then 2 x (q, k, v, gate, up) + lm_head;
  // R2: 2 v_proj, then 2 o_proj.
  ASSERT_EQ(plan->placements.size(), 5u + 11u + 4u);
  const TransformPlacement& first = plan->placements[0];
  EXPECT_EQ(tree.module(first.module).name, "model.embed_tokens");
  EXPECT_EQ(first.size, 64);  // embedding_dim, from the weight's shape
  EXPECT_EQ(tree.module(plan->placements[1].module).name, "model.layers.0.self_attn.o_proj");
  EXPECT_EQ(tree.module(plan->placements[2].module).name, "model.layers.0.mlp.down_proj");
  // apply[1] starts after every apply[0] module.
  EXPECT_EQ(plan->placements[5].apply_index, 1);
  EXPECT_EQ(tree.module(plan->placements[5].module).name, "model.layers.0.self_attn.q_proj");
  EXPECT_EQ(tree.module(plan->placements[8].module).name, "model.layers.0.mlp.gate_proj");
  const TransformPlacement& r2 = plan->placements[16];
  EXPECT_EQ(r2.scheme, "R2");
  EXPECT_EQ(tree.module(r2.module).name, "model.layers.0.self_attn.v_proj");
  EXPECT_EQ(r2.size, 16);  // per head
}

TEST(PlanTransformsTest, DeterministicHadamardNeedsPowersOfTwo) {
  // intermediate 96: R4 rotates down_proj's input at full size.
  ModuleTree tree = BuildDecoderTree(DecoderShape{});
  SpinQuantOptions options;
  options.rotations = {"R4"};
  auto plan = PlanTransforms(tree, Build(options, 16));
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->error.message(), "Cannot construct deterministic hadamard of size != 2^n");
  EXPECT_THAT(plan->placements, IsEmpty());

  // random-hadamard has a 12 x 2^3 construction for 96, random-matrix any size.
  options.transform_type = "random-hadamard";
  plan = PlanTransforms(tree, Build(options, 16));
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->error.ok()) << plan->error;
  EXPECT_EQ(plan->placements[0].size, 96);

  // A block size of 32 divides 96 and is a power of two.
  options.transform_type = "hadamard";
  options.transform_block_size = 32;
  plan = PlanTransforms(tree, Build(options, 16));
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->error.ok()) << plan->error;
  EXPECT_EQ(plan->placements.back().size, 32);
}

TEST(PlanTransformsTest, RandomHadamardNeedsAKnownDivisor) {
  DecoderShape shape;
  shape.intermediate = 260;  // 4 * 65, 20 * 13, 52 * 5: no K with 260 / K a power of 2
  ModuleTree tree = BuildDecoderTree(shape);
  SpinQuantOptions options;
  options.rotations = {"R4"};
  options.transform_type = "random-hadamard";
  auto plan = PlanTransforms(tree, Build(options, 16));
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->error.message(), "Cannot construct random hadamard matrix of size 260");

  options.transform_type = "random-matrix";
  plan = PlanTransforms(tree, Build(options, 16));
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->error.ok()) << plan->error;
}

TEST(PlanTransformsTest, BlockSizeMustDivideEveryTargetedLayer) {
  ModuleTree tree = BuildDecoderTree(DecoderShape{});
  SpinQuantOptions options;
  options.rotations = {"R1", "R4"};
  options.transform_block_size = 64;
  auto plan = PlanTransforms(tree, Build(options, 16));
  ASSERT_TRUE(plan.ok());
  // R1 fits everywhere (hidden 64); R4 reaches down_proj's 96 inputs.
  EXPECT_EQ(plan->error.message(),
            "64 must divide 96 for <class 'torch.nn.modules.linear.Linear'> at input");
  EXPECT_EQ(plan->placements.size(), 16u);
}

TEST(PlanTransformsTest, HeadDimMustDivideProjections) {
  DecoderShape shape;
  shape.kv_out = 40;  // not a multiple of the head dim 16
  ModuleTree tree = BuildDecoderTree(shape);
  SpinQuantOptions options;
  options.rotations = {"R2"};
  auto plan = PlanTransforms(tree, Build(options, 16));
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->error.message(),
            "16 must divide 40 for <class 'torch.nn.modules.linear.Linear'> at weight_output");
}

TEST(PlanTransformsTest, AttentionRotationNeedsAHeadDim) {
  ModuleTree tree = BuildDecoderTree(DecoderShape{});
  SpinQuantOptions options;
  options.rotations = {"R3"};
  auto plan = PlanTransforms(tree, Build(options, absl::nullopt));
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->error.code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(plan->error.message(),
            "Transforms on <class 'Attention'> are not supported without head_dim");

  plan = PlanTransforms(tree, Build(options, 16));
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->error.ok()) << plan->error;
  ASSERT_EQ(plan->placements.size(), 4u);
  EXPECT_EQ(plan->placements[0].location, "q_attn");
  EXPECT_EQ(plan->placements[2].location, "k_cache");
  EXPECT_EQ(plan->placements[0].size, 16);
}

TEST(PlanTransformsTest, UnknownEmbeddingSizeIsNotedNotFailed) {
  DecoderShape shape;
  shape.embedding_params = false;
  shape.hidden = 48;  // would fail the hadamard check if the size were known
  shape.q_out = 64;
  ModuleTree tree = BuildDecoderTree(shape);
  SpinQuantMapping mapping = DefaultSpinQuantMapping();
  TransformConfig config;
  TransformScheme scheme;
  scheme.type = "hadamard";
  scheme.apply.push_back({{mapping.embedding}, "weight_output", false, {}});
  config.config_groups.emplace_back("R1", scheme);
  auto plan = PlanTransforms(tree, config);
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->error.ok()) << plan->error;
  ASSERT_EQ(plan->placements.size(), 1u);
  EXPECT_FALSE(plan->placements[0].size.has_value());
  ASSERT_EQ(plan->notes.size(), 1u);
  EXPECT_THAT(plan->notes[0], HasSubstr("model.embed_tokens"));
}

TEST(PlanTransformsTest, IgnoreListIsHonoured) {
  ModuleTree tree = BuildDecoderTree(DecoderShape{});
  TransformConfig config;
  TransformScheme scheme;
  scheme.type = "random-matrix";
  scheme.apply.push_back({{"re:.*down_proj$"}, "input", false, {"model.layers.0.mlp.down_proj"}});
  config.config_groups.emplace_back("R4", scheme);
  auto plan = PlanTransforms(tree, config);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->placements.size(), 1u);
  EXPECT_EQ(tree.module(plan->placements[0].module).name, "model.layers.1.mlp.down_proj");
}

}  // namespace
}  // namespace spinquant
}  // namespace mapping
}  // namespace wring
