// `wring check` on real configs that trip llm-compressor
// (tests/fixtures/check): every error in the order a run meets it, upstream's
// message verbatim, the rest of the report computed past it (and compared
// with what llm-compressor itself resolves once the fix is applied), and
// fixes that pass when applied.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "mapping/base/json.h"
#include "mapping/check/check.h"
#include "mapping/model/fixture_format.h"
#include "mapping/recipe/recipe_parser.h"
#include "mapping/testing/fixture_path.h"
#include "mapping/testing/runfiles.h"

namespace wring {
namespace mapping {
namespace {

Json LoadExample(const std::string& name) {
  const std::string path = absl::StrCat("tests/fixtures/check/", name, ".json");
  auto text = testing::ReadRunfile(path);
  EXPECT_TRUE(text.ok()) << text.status();
  auto json = ParseJson(text.ok() ? *text : "{}", path);
  EXPECT_TRUE(json.ok()) << json.status();
  return json.ok() ? *json : Json::object();
}

report::CheckReport Check(const Json& example, const std::string& recipe_text = "") {
  auto model = ModelFromModuleDump(example, "example");
  EXPECT_TRUE(model.ok()) << model.status();
  absl::optional<recipe::Recipe> recipe;
  if (!recipe_text.empty()) {
    auto parsed = ParseRecipe(recipe_text, "recipe.yaml");
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    recipe = *parsed;
  }
  auto report = CheckRecipe(*std::move(model), recipe.has_value() ? &*recipe : nullptr);
  EXPECT_TRUE(report.ok()) << report.status();
  return report.ok() ? *report : report::CheckReport();
}

std::vector<const report::Diagnostic*> WithCode(const report::CheckReport& report,
                                                const std::string& code) {
  std::vector<const report::Diagnostic*> out;
  for (const auto& d : report.diagnostics()) {
    if (d.code() == code) out.push_back(&d);
  }
  return out;
}

// The YAML list the divisibility fix proposes for `ignore`.
std::string ProposedIgnoreList(const report::Diagnostic& d) {
  const std::string& fix = d.fix();
  size_t open = fix.find('[');
  size_t close = fix.find(']', open);
  EXPECT_NE(open, std::string::npos) << fix;
  return fix.substr(open + 1, close - open - 1);
}

std::string W4A16Recipe(const std::string& extra_ignore, const std::string& extra = "") {
  return absl::StrCat(
      "quant_stage:\n  quant_modifiers:\n    AWQModifier: {}\n    QuantizationModifier:\n"
      "      scheme: W4A16\n      targets: [Linear]\n      ignore: [lm_head",
      extra_ignore.empty() ? "" : absl::StrCat(", ", extra_ignore), "]\n", extra);
}

class DivisibilityExampleTest : public ::testing::TestWithParam<std::string> {};

TEST_P(DivisibilityExampleTest, ReportsUpstreamErrorAndResolvesPastIt) {
  Json example = LoadExample(GetParam());
  report::CheckReport report = Check(example);
  EXPECT_EQ(report.verdict().exit_code(), 1);

  auto divisibility = WithCode(report, "quantization.group_size_divisibility");
  ASSERT_EQ(divisibility.size(), 1u);
  const report::Diagnostic& error = *divisibility[0];
  // Upstream's message verbatim, every listed layer included.
  EXPECT_EQ(error.message(), absl::StrCat("ValueError: ", example["divisibility_error"].get<std::string>()));
  EXPECT_TRUE(error.stops_run());
  EXPECT_EQ(error.phase(), "initialize");
  EXPECT_EQ(error.modifier(), "QuantizationModifier #2");
  EXPECT_EQ(&report.diagnostics(0), &error) << "the error a run stops at comes first";

  // The rest is computed past the error: the targets as the recipe writes
  // them, and AWQ's resolution as llm-compressor resolves it once the
  // indivisible layers are ignored.
  EXPECT_GT(report.targets_size(), static_cast<int>(example["indivisible"].size()));
  const Json& after = example["awq_after_fix"];
  EXPECT_EQ(report.awq().source(), after["source"].get<std::string>());
  ASSERT_TRUE(after.contains("resolved"));
  EXPECT_EQ(report.awq().resolved_size(), after["resolved"].get<int>());
  auto resolution = WithCode(report, "awq.resolution_after_fixes");
  ASSERT_EQ(resolution.size(), 1u);
  EXPECT_TRUE(absl::StrContains(
      resolution[0]->message(),
      absl::StrCat("AWQ would resolve ", after["resolved"].get<int>(), " mapping")))
      << resolution[0]->message();
  ASSERT_EQ(resolution[0]->assumes_fixed_size(), 1);
  EXPECT_EQ(resolution[0]->assumes_fixed(0), "quantization.group_size_divisibility");
  // No cascade blames the missing targets on anything but the fix.
  for (const auto* skipped : WithCode(report, "awq.skipped")) {
    EXPECT_TRUE(absl::StrContains(skipped->message(), "after adding the")) << skipped->message();
  }

  // The proposed ignore patterns pass, and leave AWQ's resolution as above.
  report::CheckReport fixed = Check(example, W4A16Recipe(ProposedIgnoreList(error)));
  EXPECT_TRUE(WithCode(fixed, "quantization.group_size_divisibility").empty());
  EXPECT_EQ(fixed.verdict().exit_code(), 0) << fixed.verdict().summary();
  EXPECT_EQ(fixed.awq().resolved_size(), after["resolved"].get<int>());
  EXPECT_EQ(fixed.targets_size(),
            report.targets_size() - static_cast<int>(example["indivisible"].size()));

  // So does the bypass; it is noted.
  report::CheckReport bypassed =
      Check(example, W4A16Recipe("", "      bypass_divisibility_checks: true\n"));
  EXPECT_EQ(bypassed.verdict().exit_code(), 0) << bypassed.verdict().summary();
  EXPECT_EQ(WithCode(bypassed, "quantization.divisibility_bypassed").size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(RealConfigs, DivisibilityExampleTest,
                         ::testing::Values("SmolLM2-135M", "Qwen3VLForConditionalGeneration"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

TEST(CheckTest, SmolLM2GroupSizeFixDivides) {
  Json example = LoadExample("SmolLM2-135M");
  report::CheckReport report = Check(example);
  auto errors = WithCode(report, "quantization.group_size_divisibility");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_TRUE(absl::StrContains(errors[0]->fix(), "`group_size: 64`")) << errors[0]->fix();
  EXPECT_TRUE(absl::StrContains(errors[0]->explanation(), "576 = 4 x 128 + 64"));
  report::CheckReport fixed = Check(
      example,
      "quant_stage:\n  quant_modifiers:\n    AWQModifier: {}\n    QuantizationModifier:\n"
      "      config_groups:\n        g:\n          targets: [Linear]\n"
      "          weights: {num_bits: 4, type: int, symmetric: true, strategy: group, "
      "group_size: 64}\n      ignore: [lm_head]\n");
  EXPECT_EQ(fixed.verdict().exit_code(), 0) << fixed.verdict().summary();
  // Every Linear but lm_head is targeted again, so AWQ smooths all of them.
  EXPECT_EQ(fixed.awq().resolved_size(), 90);
}

TEST(CheckTest, VisionTowerFixNamesTheTower) {
  Json example = LoadExample("Qwen3VLForConditionalGeneration");
  report::CheckReport report = Check(example);
  auto errors = WithCode(report, "quantization.group_size_divisibility");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_TRUE(absl::StrContains(errors[0]->fix(), R"('re:model\.visual\.blocks\.\d+\.mlp\.linear_fc2$')"))
      << errors[0]->fix();
  EXPECT_TRUE(absl::StrContains(errors[0]->fix(), R"('re:model\.visual\..*' ignores that whole tower)"))
      << errors[0]->fix();
  EXPECT_TRUE(absl::StrContains(errors[0]->fix(), "No power-of-two group_size from 32 up divides 4304"))
      << errors[0]->fix();
  // Qwen3-VL is not in AWQ's registry: the fallback is a warning naming it.
  auto fallback = WithCode(report, "awq.default_mappings");
  ASSERT_EQ(fallback.size(), 1u);
  EXPECT_TRUE(absl::StrContains(fallback[0]->message(), "Qwen3VLForConditionalGeneration"));
}

TEST(CheckTest, ErrorsInTheOrderARunMeetsThem) {
  Json example = LoadExample("SmolLM2-135M");
  // Recipe load (no quantization modifier after AWQ) < initialize (the
  // divisibility check of the modifier before it) < calibration start
  // (AWQ's resolution: a balance pattern that matches nothing).
  report::CheckReport report = Check(
      example,
      "quant_stage:\n  quant_modifiers:\n"
      "    QuantizationModifier: {scheme: W4A16, targets: [Linear], ignore: [lm_head]}\n"
      "    AWQModifier:\n      mappings:\n"
      "        - smooth_layer: 're:.*input_layernorm$'\n"
      "          balance_layers: ['re:.*nonexistent_proj$']\n");
  std::vector<std::string> codes;
  for (const auto& d : report.diagnostics()) {
    if (d.severity() == "error") codes.push_back(d.code());
  }
  EXPECT_EQ(codes, (std::vector<std::string>{"recipe.awq_without_quantization",
                                             "quantization.group_size_divisibility",
                                             "awq.incomplete_set"}));
  EXPECT_EQ(report.verdict().errors(), 3);
  EXPECT_TRUE(report.diagnostics(0).stops_run());
  EXPECT_FALSE(report.diagnostics(1).stops_run());
  EXPECT_EQ(report.diagnostics(2).assumes_fixed_size(), 2);
  EXPECT_TRUE(absl::StrContains(report.verdict().summary(), "the first of 3 errors"));
}

}  // namespace
}  // namespace mapping
}  // namespace wring
