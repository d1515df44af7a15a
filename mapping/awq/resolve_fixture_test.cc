// AWQ mapping choice and resolution against llm-compressor's own answers on
// real transformers models (the non-fused fixtures; fused MoE structures are
// covered where the model sources linearize them).
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "mapping/awq/dynamic_mappings.h"
#include "mapping/awq/resolve.h"
#include "mapping/match/match_table.h"
#include "mapping/match/matchers.h"
#include "mapping/model/fixture_format.h"
#include "mapping/testing/fixture_path.h"

namespace wring {
namespace mapping {
namespace {

// The fixtures assume a scheme on ["Linear"] with ignore ["lm_head"].
std::vector<bool> DefaultTargeted(const ModuleTree& tree) {
  PatternRegistry registry;
  int linear = *registry.Add("Linear");
  int lm_head = *registry.Add("lm_head");
  MatchTable table = *MatchTable::Build(tree, registry);
  std::vector<bool> targeted(tree.size(), false);
  for (int m : MatchNamedModules(tree, table, {linear}, {lm_head}).modules) {
    targeted[m] = tree.IsInstance(m, "Linear") || tree.IsInstance(m, "Embedding");
  }
  return targeted;
}

class AwqFixtureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(AwqFixtureTest, MatchesLlmCompressor) {
  auto doc = testing::LoadFixtureJson(GetParam());
  ASSERT_TRUE(doc.ok()) << doc.status();
  auto model = ModelFromModuleDump(*doc, GetParam());
  ASSERT_TRUE(model.ok()) << model.status();
  auto chosen = ChooseAwqMappings(model->tree, model->config, model->architecture);
  ASSERT_TRUE(chosen.ok()) << chosen.status();
  EXPECT_EQ(AwqMappingSourceName(chosen->source), (*doc)["awq_source"].get<std::string>());
  const Json& expected_mappings = (*doc)["awq_mappings"];
  ASSERT_EQ(chosen->mappings.size(), expected_mappings.size());
  for (size_t i = 0; i < chosen->mappings.size(); ++i) {
    EXPECT_EQ(chosen->mappings[i].smooth_layer,
              expected_mappings[i]["smooth_layer"].get<std::string>());
    EXPECT_EQ(chosen->mappings[i].balance_layers,
              expected_mappings[i]["balance_layers"].get<std::vector<std::string>>());
  }
  auto resolution = ResolveAwqMappings(model->tree, chosen->mappings,
                                       DefaultTargeted(model->tree));
  ASSERT_TRUE(resolution.ok()) << resolution.status();
  if (doc->contains("awq_error")) {
    ASSERT_TRUE(resolution->error.has_value());
    EXPECT_EQ(*resolution->error, (*doc)["awq_error"].get<std::string>());
    return;
  }
  ASSERT_FALSE(resolution->error.has_value()) << *resolution->error;
  const Json& expected = (*doc)["awq_resolved"];
  ASSERT_EQ(resolution->resolved.size(), expected.size());
  const ModuleTree& tree = model->tree;
  for (size_t i = 0; i < expected.size(); ++i) {
    const ResolvedAwqMapping& r = resolution->resolved[i];
    SCOPED_TRACE(i);
    EXPECT_EQ(tree.module(r.smooth).name, expected[i]["smooth"].get<std::string>());
    std::vector<std::string> balance;
    for (int b : r.balance) balance.push_back(tree.module(b).name);
    EXPECT_EQ(balance, expected[i]["balance"].get<std::vector<std::string>>());
    EXPECT_EQ(tree.module(r.parent).name, expected[i]["parent"].get<std::string>());
    EXPECT_EQ(chosen->mappings[r.mapping_index].smooth_layer,
              expected[i]["mapping"].get<std::string>());
    EXPECT_TRUE(expected[i]["hook"].is_null());
  }
  const Json& skipped = (*doc)["awq_skipped"];
  ASSERT_EQ(resolution->skipped.size(), skipped.size());
  for (size_t i = 0; i < skipped.size(); ++i) {
    const SkippedAwqMapping& s = resolution->skipped[i];
    EXPECT_EQ(tree.module(s.smooth).name, skipped[i]["smooth"].get<std::string>());
    EXPECT_EQ(AwqSkipReasonName(s.reason), skipped[i]["reason"].get<std::string>());
    EXPECT_EQ(chosen->mappings[s.mapping_index].smooth_layer,
              skipped[i]["mapping"].get<std::string>());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, AwqFixtureTest,
    ::testing::Values("Gemma3ForCausalLM", "Gemma3ForConditionalGeneration", "LlamaForCausalLM",
                      "MistralForCausalLM", "Phi3ForCausalLM", "Qwen3ForCausalLM",
                      "Qwen3MoeForCausalLM.linearized", "Qwen3NextForCausalLM.linearized"),
    [](const ::testing::TestParamInfo<std::string>& info) {
      std::string name = info.param;
      for (char& c : name) {
        if (c == '.') c = '_';
      }
      return name;
    });

}  // namespace
}  // namespace mapping
}  // namespace wring
