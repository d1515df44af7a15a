// The acceptance test for `wring check`'s fidelity: on every mapping fixture
// (real transformers models with llm-compressor's own answers), the report's
// JSON must give identical answers for every compared field, error cases
// included. Fused MoE fixtures carry the answers of the linearized model:
// the check must linearize them first, as oneshot does.
#include <algorithm>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "mapping/base/json.h"
#include "mapping/check/check.h"
#include "mapping/model/fixture_format.h"
#include "mapping/recipe/recipe_parser.h"
#include "mapping/report/report_json.h"
#include "mapping/testing/fixture_path.h"
#include "mapping/testing/python_sets.h"

namespace wring {
namespace mapping {
namespace {

const Json kNull = nullptr;

const Json& Get(const Json& object, const char* key) {
  const Json* v = JsonMember(object, key);
  return v == nullptr ? kNull : *v;
}

class CheckFixtureTest : public ::testing::TestWithParam<std::string> {};

// The default recipe with bypass_divisibility_checks: what the fixtures'
// AWQ answers assume when QuantizationModifier would stop first.
recipe::Recipe BypassingDefaultRecipe() {
  auto recipe = ParseRecipe(DefaultAwqW4A16Recipe(), "default");
  EXPECT_TRUE(recipe.ok()) << recipe.status();
  for (recipe::Modifier& modifier : *recipe->mutable_modifiers()) {
    if (modifier.has_quantization()) {
      modifier.mutable_quantization()->set_bypass_divisibility_checks(true);
    }
  }
  return *std::move(recipe);
}

TEST_P(CheckFixtureTest, ReportMatchesLlmCompressor) {
  auto doc = testing::LoadFixtureJson(GetParam());
  ASSERT_TRUE(doc.ok()) << doc.status();
  auto model = ModelFromModuleDump(*doc, GetParam());
  ASSERT_TRUE(model.ok()) << model.status();
  const bool indivisible = doc->contains("quantization_error");
  auto report = CheckRecipe(*std::move(model), /*recipe=*/nullptr);
  ASSERT_TRUE(report.ok()) << report.status();
  if (indivisible) {
    // The run would stop at QuantizationModifier's divisibility error...
    auto json = ParseJson(ReportToJson(*report), "report");
    ASSERT_TRUE(json.ok()) << json.status();
    EXPECT_EQ(Get(Get(*json, "verdict"), "exit_code"), 1);
    const Json& first = Get(*json, "diagnostics")[0];
    EXPECT_EQ(Get(first, "severity"), "error");
    EXPECT_EQ(Get(first, "message"), Get(*doc, "quantization_error"));
    // ...and with the check bypassed, AWQ resolves as upstream's answers say.
    recipe::Recipe bypassing = BypassingDefaultRecipe();
    auto again = ModelFromModuleDump(*doc, GetParam());
    ASSERT_TRUE(again.ok()) << again.status();
    report = CheckRecipe(*std::move(again), &bypassing);
    ASSERT_TRUE(report.ok()) << report.status();
  }
  auto json = ParseJson(ReportToJson(*report), "report");
  ASSERT_TRUE(json.ok()) << json.status();
  const Json& awq = Get(*json, "awq");

  EXPECT_EQ(Get(awq, "source"), Get(*doc, "awq_source"));
  // Mappings: the same list, activation_hook_target null when absent.
  const Json& mappings = Get(awq, "mappings");
  const Json& expected_mappings = Get(*doc, "awq_mappings");
  ASSERT_EQ(mappings.size(), expected_mappings.size());
  for (size_t i = 0; i < mappings.size(); ++i) {
    EXPECT_EQ(Get(mappings[i], "smooth_layer"), Get(expected_mappings[i], "smooth_layer"));
    EXPECT_EQ(Get(mappings[i], "balance_layers"), Get(expected_mappings[i], "balance_layers"));
    EXPECT_EQ(Get(mappings[i], "activation_hook_target"),
              Get(expected_mappings[i], "activation_hook_target"));
  }

  if (doc->contains("awq_error")) {
    EXPECT_EQ(Get(awq, "error"), Get(*doc, "awq_error"));
    EXPECT_FALSE(Get(Get(*json, "verdict"), "would_run").get<bool>());
    EXPECT_EQ(Get(Get(*json, "verdict"), "exit_code"), 1);
  } else {
    EXPECT_TRUE(Get(awq, "error").is_null()) << Get(awq, "error");
    const Json& resolved = Get(awq, "resolved");
    const Json& expected = Get(*doc, "awq_resolved");
    ASSERT_EQ(resolved.size(), expected.size());
    for (size_t i = 0; i < resolved.size(); ++i) {
      SCOPED_TRACE(i);
      for (const char* key : {"smooth", "balance", "parent", "hook", "mapping"}) {
        EXPECT_EQ(Get(resolved[i], key), Get(expected[i], key)) << key;
      }
    }
    EXPECT_EQ(Get(awq, "skipped"), Get(*doc, "awq_skipped"));
  }

  // SpinQuant: every field's patterns and matches; norm groups or errors.
  const Json& spinquant = Get(*json, "spinquant");
  const Json& expected_sq = Get(*doc, "spinquant");
  EXPECT_EQ(Get(spinquant, "head_dim"), Get(expected_sq, "head_dim"));
  const Json& fields = Get(expected_sq, "fields");
  ASSERT_EQ(Get(spinquant, "fields").size(), fields.size());
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    const Json& got = Get(Get(spinquant, "fields"), it.key().c_str());
    EXPECT_EQ(Get(got, "patterns"), Get(it.value(), "patterns")) << it.key();
    EXPECT_EQ(Get(got, "matches"), Get(it.value(), "matches")) << it.key();
  }
  const Json& norms = Get(spinquant, "norms");
  const Json& expected_norms = Get(expected_sq, "norms");
  ASSERT_EQ(norms.size(), expected_norms.size());
  for (size_t i = 0; i < norms.size(); ++i) {
    EXPECT_EQ(Get(norms[i], "norm"), Get(expected_norms[i], "norm"));
    EXPECT_EQ(Get(norms[i], "linears"), Get(expected_norms[i], "linears"));
    if (expected_norms[i].contains("error")) {
      ASSERT_TRUE(Get(norms[i], "error").is_string());
      // Python prints sets in hash order: compare them as sets.
      std::string why;
      EXPECT_TRUE(testing::SameMessageUpToSetOrder(Get(norms[i], "error").get<std::string>(),
                                                   Get(expected_norms[i], "error").get<std::string>(),
                                                   &why))
          << why;
    } else {
      EXPECT_EQ(Get(norms[i], "groups"), Get(expected_norms[i], "groups"));
    }
  }

  EXPECT_EQ(Get(*json, "targets"), Get(*doc, "w4a16_targets"));
  const bool fused = GetParam().find(".fused") != std::string::npos;
  EXPECT_EQ(Get(Get(*json, "model"), "linearized_experts").get<int>() > 0, fused);
}

// Protobuf seeds map iteration per instance; the report's map field must
// still print in one order, or the same input gives different bytes.
TEST(CheckReportJsonTest, SameInputGivesTheSameBytes) {
  auto doc = testing::LoadFixtureJson("LlamaForCausalLM");
  ASSERT_TRUE(doc.ok()) << doc.status();
  std::string first;
  for (int run = 0; run < 4; ++run) {
    auto model = ModelFromModuleDump(*doc, "LlamaForCausalLM");
    ASSERT_TRUE(model.ok());
    auto report = CheckRecipe(*std::move(model), nullptr);
    ASSERT_TRUE(report.ok());
    ASSERT_GT(report->spinquant().fields_size(), 1);
    std::string json = ReportToJson(*report);
    if (run == 0) {
      first = json;
    } else {
      EXPECT_EQ(json, first) << "run " << run;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllFixtures, CheckFixtureTest,
                         ::testing::ValuesIn(testing::FixtureNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '.', '_');
                           return name;
                         });

}  // namespace
}  // namespace mapping
}  // namespace wring
