// SmoothQuant mapping choice and resolution against llm-compressor's own
// answers on the mapping fixtures' architectures and on hand-written
// recipes (testdata/make_smoothquant_fixtures.py). The registry data itself
// is checked by smoothquant_mappings_test.
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
namespace smoothquant {
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

    std::vector<LayerMap> mappings;
    const bool from_recipe = c.contains("recipe_mappings");
    if (from_recipe) {
      for (const Json& m : c["recipe_mappings"]) {
        std::vector<std::string> leaves;
        Leaves(m, &leaves);
        LayerMap mapping;
        mapping.smooth_layers = leaves.back();
        leaves.pop_back();
        mapping.balance_layers = leaves;
        mappings.push_back(mapping);
      }
    } else {
      ChosenSmoothQuantMappings chosen =
          ChooseSmoothQuantMappings(model.config, model.architecture);
      if (c.contains("error") && !c.contains("mappings")) {
        ASSERT_TRUE(chosen.error.has_value());
        EXPECT_EQ(*chosen.error, c["error"].get<std::string>());
        continue;
      }
      ASSERT_FALSE(chosen.error.has_value()) << *chosen.error;
      mappings = chosen.mappings;
    }
    ASSERT_EQ(mappings.size(), c["mappings"].size());
    for (size_t i = 0; i < mappings.size(); ++i) {
      EXPECT_EQ(mappings[i].smooth_layers, c["mappings"][i]["smooth_layer"].get<std::string>());
      EXPECT_EQ(mappings[i].balance_layers, Strings(c["mappings"][i]["balance_layers"]));
    }

    auto resolution =
        ResolveSmoothQuantMappings(model.tree, mappings, Strings(c["ignore"]), from_recipe);
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

TEST(SmoothQuantResolve, InvalidPatternsAreUnusableInput) {
  ModuleTree tree;
  auto bad = ResolveSmoothQuantMappings(tree, {{{"re:(?!x)q"}, "re:.*norm"}}, {}, true);
  EXPECT_FALSE(bad.ok());
  auto bad_ignore = ResolveSmoothQuantMappings(tree, {}, {"re:("}, true);
  EXPECT_FALSE(bad_ignore.ok());
  EXPECT_NE(bad_ignore.status().message().find("SmoothQuantModifier.ignore"), std::string::npos);
}

}  // namespace
}  // namespace smoothquant
}  // namespace mapping
}  // namespace wring
