// `wring check` with a SmoothQuantModifier: its resolution in the report (and
// its JSON and text), upstream's errors as a would-fail verdict, and bad
// patterns as unusable input.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mapping/check/check.h"
#include "mapping/model/fixture_format.h"
#include "mapping/recipe/recipe_parser.h"
#include "mapping/report/render_text.h"
#include "mapping/report/report_json.h"
#include "mapping/testing/fixture_path.h"

namespace wring {
namespace mapping {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<report::CheckReport> Check(const std::string& fixture, const std::string& recipe_text) {
  auto doc = testing::LoadFixtureJson(fixture);
  if (!doc.ok()) return doc.status();
  auto model = ModelFromModuleDump(*doc, fixture);
  if (!model.ok()) return model.status();
  auto recipe = ParseRecipe(recipe_text, "recipe.yaml");
  if (!recipe.ok()) return recipe.status();
  return CheckRecipe(*std::move(model), &*recipe);
}

constexpr char kSmoothQuantGptq[] = R"(
quant_stage:
  quant_modifiers:
    SmoothQuantModifier: {smoothing_strength: 0.8}
    GPTQModifier: {targets: [Linear], ignore: [lm_head], scheme: W8A8}
)";

TEST(SmoothQuantStep, InferredMappingsResolvePerLayerInTheReport) {
  auto report = Check("LlamaForCausalLM", kSmoothQuantGptq);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->verdict().would_run()) << report->verdict().summary();
  EXPECT_THAT(report->verdict().summary(), HasSubstr("64 SmoothQuant mappings resolved"));
  const report::SmoothQuantReport& sq = report->smoothquant();
  EXPECT_EQ(sq.source(), "registry");
  EXPECT_EQ(sq.list_name(), "DEFAULT_SMOOTHQUANT_MAPPINGS");
  EXPECT_EQ(sq.smoothing_strength(), 0.8);
  EXPECT_EQ(sq.algorithm(), "smoothquant");
  ASSERT_EQ(sq.resolved_size(), 64);
  // Mapping by mapping, layer by layer, as upstream resolves them.
  EXPECT_EQ(sq.resolved(1).smooth(), "model.layers.1.input_layernorm");
  EXPECT_EQ(sq.resolved(32).smooth(), "model.layers.0.post_attention_layernorm");
  EXPECT_THAT(sq.resolved(32).balance(),
              ::testing::ElementsAre("model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj"));
  EXPECT_EQ(sq.log(0), "INFO No SmoothQuantModifier.mappings provided, inferring from model...");

  const std::string json = ReportToJson(*report);
  EXPECT_THAT(json, HasSubstr("\"smoothquant\""));
  EXPECT_THAT(json, HasSubstr("\"list_name\": \"DEFAULT_SMOOTHQUANT_MAPPINGS\""));
  const std::string text = RenderReportText(*report);
  EXPECT_THAT(text, HasSubstr("SmoothQuant mappings (registry: DEFAULT_SMOOTHQUANT_MAPPINGS; "
                              "smoothing_strength 0.8)"));
  EXPECT_THAT(text, HasSubstr("layers 0-31: input_layernorm -> "
                              "self_attn.q_proj,self_attn.k_proj,self_attn.v_proj"));
}

TEST(SmoothQuantStep, UpstreamsResolutionErrorMakesTheVerdictFail) {
  // Qwen3-Next's default mappings: q/k/v exist only in its full-attention
  // layers, so one set spans several input_layernorms.
  auto report = Check("Qwen3NextForCausalLM.linearized", kSmoothQuantGptq);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->verdict().would_run());
  EXPECT_EQ(report->verdict().exit_code(), 1);
  EXPECT_THAT(report->smoothquant().error(), HasSubstr("RuntimeError: Error resolving mappings"));
  EXPECT_THAT(report->smoothquant().cause(),
              HasSubstr("ValueError: SmoothQuant must match a single smooth layer"));
  bool explained = false;
  for (const auto& d : report->diagnostics()) {
    explained = explained || (d.code() == "smoothquant.multiple_smooth_layers" && !d.fix().empty());
  }
  EXPECT_TRUE(explained);
}

TEST(SmoothQuantStep, RecipeMappingsIgnoreAndSkipsAreReported) {
  auto report = Check("LlamaForCausalLM", R"(
quant_stage:
  quant_modifiers:
    SmoothQuantModifier:
      mappings: [[["re:.*q_proj", "re:.*k_proj", "re:.*v_proj"], "re:.*input_layernorm"]]
      ignore: ["re:model\\.layers\\.0\\..*"]
    GPTQModifier: {targets: [Linear], ignore: [lm_head], scheme: W8A8}
)");
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->verdict().would_run());
  const report::SmoothQuantReport& sq = report->smoothquant();
  EXPECT_EQ(sq.source(), "recipe");
  EXPECT_EQ(sq.resolved_size(), 31);
  ASSERT_EQ(sq.skipped_size(), 1);
  EXPECT_EQ(sq.skipped(0).smooth(), "model.layers.0.input_layernorm");
  EXPECT_EQ(sq.skipped(0).reason(), "all_ignored");
}

TEST(SmoothQuantStep, PatternsThatDoNotCompileAreUnusableInput) {
  auto report = Check("LlamaForCausalLM", R"(
quant_stage:
  quant_modifiers:
    SmoothQuantModifier:
      mappings: [[["re:.*(q_proj"], "re:.*input_layernorm"]]
    GPTQModifier: {targets: [Linear], scheme: W8A8}
)");
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(std::string(report.status().message()),
              HasSubstr("recipe.yaml:5: SmoothQuantModifier.mappings"));
}

}  // namespace
}  // namespace mapping
}  // namespace wring
