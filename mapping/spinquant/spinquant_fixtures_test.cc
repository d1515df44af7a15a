// Compares the SpinQuant resolution with llm-compressor's own answers stored
// in tests/fixtures/mapping (the `spinquant` object of each fixture).
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mapping/base/json.h"
#include "mapping/model/fixture_format.h"
#include "mapping/spinquant/spinquant_resolution.h"
#include "mapping/testing/decoder_trees.h"
#include "mapping/testing/python_sets.h"
#include "mapping/spinquant/spinquant_transforms.h"
#include "mapping/testing/fixture_path.h"

namespace wring {
namespace mapping {
namespace spinquant {
namespace {

using ::wring::mapping::testing::BuildDecoderTree;
using ::wring::mapping::testing::DecoderShape;
using ::wring::mapping::testing::SameMessageUpToSetOrder;


struct Loaded {
  Json fixture;
  ModelInput model;
};

Loaded Load(const std::string& name) {
  Loaded loaded;
  absl::StatusOr<Json> fixture = testing::LoadFixtureJson(name);
  EXPECT_TRUE(fixture.ok()) << fixture.status();
  if (!fixture.ok()) return loaded;
  absl::StatusOr<ModelInput> model = ModelFromModuleDump(*fixture, name);
  EXPECT_TRUE(model.ok()) << model.status();
  if (!model.ok()) return loaded;
  loaded.fixture = std::move(*fixture);
  loaded.model = std::move(*model);
  return loaded;
}

class SpinQuantFixtureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SpinQuantFixtureTest, ResolutionMatchesLlmCompressor) {
  Loaded loaded = Load(GetParam());
  ASSERT_TRUE(loaded.fixture.is_object());
  const Json* expected = JsonMember(loaded.fixture, "spinquant");
  ASSERT_NE(expected, nullptr);

  absl::StatusOr<SpinQuantResolution> resolution = ResolveSpinQuant(loaded.model.tree);
  ASSERT_TRUE(resolution.ok()) << resolution.status();
  Json actual = ResolutionToJson(loaded.model.tree, *resolution);

  EXPECT_EQ(actual["head_dim"], (*expected)["head_dim"]);
  // Fields: patterns and matches, exactly, and in the same field order.
  ASSERT_EQ(actual["fields"].size(), (*expected)["fields"].size());
  auto actual_field = actual["fields"].begin();
  for (const auto& item : (*expected)["fields"].items()) {
    EXPECT_EQ(actual_field.key(), item.key());
    EXPECT_EQ(actual_field.value()["patterns"], item.value()["patterns"]) << item.key();
    EXPECT_EQ(actual_field.value()["matches"], item.value()["matches"]) << item.key();
    ++actual_field;
  }
  // Norms: groups exactly; errors on content (their sets have hash order).
  const Json& expected_norms = (*expected)["norms"];
  ASSERT_EQ(actual["norms"].size(), expected_norms.size());
  for (size_t i = 0; i < expected_norms.size(); ++i) {
    const Json& want = expected_norms[i];
    const Json& got = actual["norms"][i];
    EXPECT_EQ(got["norm"], want["norm"]);
    EXPECT_EQ(got["linears"], want["linears"]);
    if (want.contains("error")) {
      ASSERT_TRUE(got.contains("error")) << want["norm"] << ": expected " << want["error"];
      std::string why;
      EXPECT_TRUE(SameMessageUpToSetOrder(got["error"].get<std::string>(),
                                          want["error"].get<std::string>(), &why))
          << why;
    } else {
      ASSERT_TRUE(got.contains("groups")) << want["norm"] << ": got " << got["error"];
      EXPECT_EQ(got["groups"], want["groups"]) << want["norm"];
    }
  }
}

// The fused MoE dumps need expert linearization first (handled elsewhere).
INSTANTIATE_TEST_SUITE_P(AllFixtures, SpinQuantFixtureTest,
                         ::testing::Values("Gemma3ForCausalLM", "Gemma3ForConditionalGeneration",
                                           "LlamaForCausalLM", "MistralForCausalLM",
                                           "Phi3ForCausalLM", "Qwen3ForCausalLM",
                                           "Qwen3MoeForCausalLM.linearized",
                                           "Qwen3NextForCausalLM.linearized"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '.') c = '_';
                           }
                           return name;
                         });

TransformPlan PlanDefaults(const Loaded& loaded, const SpinQuantOptions& options) {
  absl::StatusOr<SpinQuantResolution> resolution = ResolveSpinQuant(loaded.model.tree);
  EXPECT_TRUE(resolution.ok()) << resolution.status();
  absl::StatusOr<TransformConfig> config =
      BuildTransformConfig(resolution->mapping, options, loaded.model.config);
  EXPECT_TRUE(config.ok()) << config.status();
  absl::StatusOr<TransformPlan> plan = PlanTransforms(loaded.model.tree, *config);
  EXPECT_TRUE(plan.ok()) << plan.status();
  return plan.ok() ? *plan : TransformPlan();
}

TEST(SpinQuantFixtureTransformsTest, LlamaTakesDefaultRotations) {
  Loaded loaded = Load("LlamaForCausalLM");
  TransformPlan plan = PlanDefaults(loaded, SpinQuantOptions{});
  EXPECT_TRUE(plan.error.ok()) << plan.error;
  EXPECT_THAT(plan.notes, ::testing::IsEmpty());
  // 32 layers: R1 on embedding + 64 writers and 160 readers + lm_head; R2 on 64.
  EXPECT_EQ(plan.placements.size(), 1u + 64u + 160u + 1u + 64u);
  EXPECT_EQ(plan.placements[0].size, 4096);
}

TEST(SpinQuantFixtureTransformsTest, Phi3HiddenSizeIsNotAPowerOfTwo) {
  // Phi-3's 3072 hidden size breaks a full-size deterministic Hadamard R1 on
  // the very first placement (the embedding), and R2 reads head_dim 96 from
  // hidden_size // num_attention_heads.
  Loaded loaded = Load("Phi3ForCausalLM");
  TransformPlan plan = PlanDefaults(loaded, SpinQuantOptions{});
  EXPECT_EQ(plan.error.message(), "Cannot construct deterministic hadamard of size != 2^n");
  EXPECT_THAT(plan.placements, ::testing::IsEmpty());

  SpinQuantOptions options;
  options.transform_type = "random-hadamard";
  plan = PlanDefaults(loaded, options);
  EXPECT_TRUE(plan.error.ok()) << plan.error;
  EXPECT_EQ(plan.placements.back().scheme, "R2");
  EXPECT_EQ(plan.placements.back().size, 96);
}

TEST(SpinQuantFixtureTransformsTest, Gemma3MultimodalConfigHasNoTopLevelHeadDim) {
  Loaded loaded = Load("Gemma3ForConditionalGeneration");
  absl::StatusOr<TransformConfig> config =
      BuildTransformConfig(DefaultSpinQuantMapping(), SpinQuantOptions{}, loaded.model.config);
  ASSERT_FALSE(config.ok());
  EXPECT_TRUE(
      absl::StartsWith(config.status().message(), "Cannot determine head_dim from config."));
}

}  // namespace
}  // namespace spinquant
}  // namespace mapping
}  // namespace wring
