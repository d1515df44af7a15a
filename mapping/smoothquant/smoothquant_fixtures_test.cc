// SmoothQuant mapping choice and resolution against llm-compressor's own
// answers on the mapping fixtures' architectures and on hand-written
// recipes (testdata/make_smoothquant_fixtures.py).
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "mapping/base/json.h"
#include "mapping/model/fixture_format.h"
#include "mapping/smoothquant/resolve.h"
#include "mapping/smoothquant/smoothquant_mappings.h"
#include "mapping/testing/fixture_path.h"
#include "mapping/testing/runfiles.h"

namespace wring {
namespace mapping {
namespace {

Json LoadAnswers() {
  const std::string path =
      testing::RunfilePath("mapping/smoothquant/testdata/smoothquant_fixtures.json");
  auto json = ParseJson(testing::ReadFileOrFail(path), path);
  EXPECT_TRUE(json.ok()) << json.status();
  return json.ok() ? *json : Json();
}

std::vector<std::string> Strings(const Json& list) {
  std::vector<std::string> out;
  if (list.is_array()) {
    for (const Json& item : list) out.push_back(item.get<std::string>());
  }
  return out;
}

// tree_leaves of a recipe mapping: every string, depth first.
void Leaves(const Json& value, std::vector<std::string>* out) {
  if (value.is_array()) {
    for (const Json& item : value) Leaves(item, out);
  } else {
    out->push_back(value.get<std::string>());
  }
}

TEST(SmoothQuantFixtures, ChoiceAndResolutionMatchLlmCompressor) {
  const Json answers = LoadAnswers();
  std::map<std::string, ModelInput> models;
  for (const Json& c : answers["cases"]) {
    const std::string name = c["name"].get<std::string>();
    SCOPED_TRACE(name);
    std::string fixture = c["fixture"].get<std::string>();
    fixture = fixture.substr(0, fixture.size() - std::string(".json.xz").size());
    if (models.count(fixture) == 0) {
      auto doc = testing::LoadFixtureJson(fixture);
      ASSERT_TRUE(doc.ok()) << doc.status();
      auto model = ModelFromModuleDump(*doc, fixture);
      ASSERT_TRUE(model.ok()) << model.status();
      models.emplace(fixture, *std::move(model));
    }
    const ModelInput& model = models.at(fixture);

    std::vector<SmoothQuantMapping> mappings;
    const bool from_recipe = c.contains("recipe_mappings");
    if (from_recipe) {
      for (const Json& m : c["recipe_mappings"]) {
        std::vector<std::string> leaves;
        Leaves(m, &leaves);
        SmoothQuantMapping mapping;
        mapping.smooth_layer = leaves.back();
        leaves.pop_back();
        mapping.balance_layers = leaves;
        mappings.push_back(mapping);
      }
    } else {
      auto chosen = ChooseSmoothQuantMappings(model.config, model.architecture);
      if (c.contains("error") && !c.contains("mappings")) {
        ASSERT_FALSE(chosen.ok());
        EXPECT_EQ(chosen.status().message(), c["error"].get<std::string>());
        continue;
      }
      ASSERT_TRUE(chosen.ok()) << chosen.status();
      mappings = chosen->mappings;
    }
    ASSERT_EQ(mappings.size(), c["mappings"].size());
    for (size_t i = 0; i < mappings.size(); ++i) {
      EXPECT_EQ(mappings[i].smooth_layer, c["mappings"][i]["smooth_layer"].get<std::string>());
      EXPECT_EQ(mappings[i].balance_layers, Strings(c["mappings"][i]["balance_layers"]));
    }

    auto resolution = ResolveSmoothQuantMappings(model.tree, mappings, Strings(c["ignore"]), from_recipe);
    ASSERT_TRUE(resolution.ok()) << resolution.status();
    if (c.contains("error")) {
      ASSERT_TRUE(resolution->error.has_value());
      EXPECT_EQ(*resolution->error, c["error"].get<std::string>());
      ASSERT_TRUE(resolution->cause.has_value());
      EXPECT_EQ(*resolution->cause, c["cause"].get<std::string>());
      continue;
    }
    EXPECT_FALSE(resolution->error.has_value()) << resolution->error.value_or("");
    ASSERT_EQ(resolution->resolved.size(), c["resolved"].size());
    for (size_t i = 0; i < resolution->resolved.size(); ++i) {
      const ResolvedSmoothQuantMapping& r = resolution->resolved[i];
      EXPECT_EQ(model.tree.module(r.smooth).name, c["resolved"][i]["smooth"].get<std::string>());
      std::vector<std::string> balance;
      for (int b : r.balance) balance.push_back(model.tree.module(b).name);
      EXPECT_EQ(balance, Strings(c["resolved"][i]["balance"]));
    }
    ASSERT_EQ(resolution->skipped.size(), c["skipped"].size());
    for (size_t i = 0; i < resolution->skipped.size(); ++i) {
      const SkippedSmoothQuantMapping& s = resolution->skipped[i];
      EXPECT_EQ(model.tree.module(s.smooth).name, c["skipped"][i]["smooth"].get<std::string>());
      const std::string reason = c["skipped"][i]["reason"].get<std::string>();
      EXPECT_EQ(s.reason == SmoothQuantSkipReason::kAllIgnored,
                reason == "all layers in the mapping are in the ignore list");
      EXPECT_NE(resolution->log[i].find(reason), std::string::npos) << resolution->log[i];
    }
  }
}

TEST(SmoothQuantMappings, QwenHybridBuildersNeedFullAttentionLayers) {
  auto none = ParseJson(R"({"num_hidden_layers": 2})", "config");
  ASSERT_TRUE(none.ok());
  auto missing = ChooseSmoothQuantMappings(*none, "Qwen3_5ForCausalLM");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("layer_types"), std::string::npos);
  auto linear = ParseJson(R"({"text_config": {"layer_types": ["linear_attention"]}})", "config");
  ASSERT_TRUE(linear.ok());
  EXPECT_FALSE(ChooseSmoothQuantMappings(*linear, "Qwen3_5MoeForCausalLM").ok());
  auto hybrid = ParseJson(
      R"({"text_config": {"layer_types": ["linear_attention", "full_attention", "linear_attention",
          "full_attention"]}})",
      "config");
  ASSERT_TRUE(hybrid.ok());
  auto moe = ChooseSmoothQuantMappings(*hybrid, "Qwen3_5MoeForCausalLM");
  ASSERT_TRUE(moe.ok()) << moe.status();
  EXPECT_EQ(moe->source, SmoothQuantMappingSource::kDynamic);
  EXPECT_EQ(moe->mappings[0].smooth_layer, "re:.*layers\\.(1|3)\\.input_layernorm$");
  EXPECT_EQ(moe->mappings[1].balance_layers[0], "re:.*mlp\\.shared_expert\\.gate_proj$");
  auto dense = ChooseSmoothQuantMappings(*hybrid, "Qwen3_5ForCausalLM");
  ASSERT_TRUE(dense.ok());
  EXPECT_EQ(dense->mappings[1].balance_layers[0], "re:.*mlp\\.gate_proj$");
}

TEST(SmoothQuantMappings, UnregisteredArchitecturesFallBackToTheDefaultAndSayItAsUpstreamDoes) {
  auto chosen = ChooseSmoothQuantMappings(Json::object(), "FooForCausalLM");
  ASSERT_TRUE(chosen.ok());
  EXPECT_EQ(chosen->source, SmoothQuantMappingSource::kDefault);
  ASSERT_EQ(chosen->log.size(), 1u);
  EXPECT_EQ(chosen->log[0],
            "INFO Architecture FooForCausalLM not found in mappings. Using default mappings: "
            "[LayerMap(balance_layers=['re:.*q_proj', 're:.*k_proj', 're:.*v_proj'], "
            "smooth_layers='re:.*input_layernorm'), LayerMap(balance_layers=['re:.*gate_proj', "
            "'re:.*up_proj'], smooth_layers='re:.*post_attention_layernorm')]");
  auto mixtral = ChooseSmoothQuantMappings(Json::object(), "MixtralForCausalLM");
  ASSERT_TRUE(mixtral.ok());
  EXPECT_EQ(mixtral->list_name, "MIXTRAL_SMOOTHQUANT_MAPPINGS");
  EXPECT_TRUE(mixtral->log.empty());
}

TEST(SmoothQuantResolve, InvalidPatternsAreUnusableInput) {
  ModuleTree tree;
  auto bad = ResolveSmoothQuantMappings(tree, {{{"re:(?!x)q"}, "re:.*norm"}}, {}, true);
  EXPECT_FALSE(bad.ok());
  auto bad_ignore = ResolveSmoothQuantMappings(tree, {}, {"re:("}, true);
  EXPECT_FALSE(bad_ignore.ok());
  EXPECT_NE(bad_ignore.status().message().find("SmoothQuantModifier.ignore"), std::string::npos);
}

}  // namespace
}  // namespace mapping
}  // namespace wring
