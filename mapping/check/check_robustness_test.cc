// Feeds mutated module dumps, module lists and recipes through the whole
// check pipeline: every input must end in an error status or a report,
// never a crash or a hang. (Run under ASan/UBSan for a deeper look.)
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "mapping/check/check.h"
#include "mapping/model/model_text.h"
#include "mapping/recipe/recipe_parser.h"
#include "mapping/testing/fixture_path.h"

namespace wring {
namespace mapping {
namespace {

std::string Mutate(const std::string& text, std::mt19937& rng) {
  std::string out = text;
  std::uniform_int_distribution<size_t> pos(0, out.empty() ? 0 : out.size() - 1);
  switch (rng() % 4) {
    case 0:  // truncate
      out.resize(pos(rng));
      break;
    case 1:  // flip bytes
      for (int i = 0; i < 8 && !out.empty(); ++i) out[pos(rng)] = static_cast<char>(rng() & 0xff);
      break;
    case 2:  // duplicate a slice (duplicate names, nesting)
      if (!out.empty()) {
        size_t a = pos(rng), b = pos(rng);
        if (a > b) std::swap(a, b);
        out.insert(pos(rng), out.substr(a, std::min<size_t>(b - a, 4096)));
      }
      break;
    default:  // swap structural characters
      for (char& c : out) {
        if ((c == '[' || c == '{' || c == '"' || c == '.') && rng() % 64 == 0) c = "]}:,"[rng() % 4];
      }
  }
  return out;
}

void RunCheck(const std::string& model_text, const std::string& recipe_text) {
  auto model = ModelFromText(model_text, "mutated");
  if (!model.ok()) {
    EXPECT_FALSE(model.status().message().empty());
    return;
  }
  auto recipe = ParseRecipe(recipe_text, "mutated.yaml");
  auto report = CheckRecipe(*std::move(model), recipe.ok() ? &*recipe : nullptr);
  if (report.ok()) {
    EXPECT_GE(report->verdict().exit_code(), 0);
    EXPECT_LE(report->verdict().exit_code(), 1);
  } else {
    EXPECT_FALSE(report.status().message().empty());
  }
}

TEST(CheckRobustnessTest, MutatedModulesAndRecipesNeverCrash) {
  auto dump = testing::ReadFixture("Phi3ForCausalLM");
  ASSERT_TRUE(dump.ok()) << dump.status();
  // A module list in the plain-text form, from the same model.
  auto doc = ParseJson(*dump, "phi3");
  ASSERT_TRUE(doc.ok());
  std::string list;
  for (const Json& m : (*doc)["modules"]) {
    list += m["name"].get<std::string>() + " " + m["class"].get<std::string>() + "\n";
  }
  const std::string recipe =
      "quant_stage:\n  quant_modifiers:\n    AWQModifier:\n      mappings:\n"
      "        - smooth_layer: \"re:.*input_layernorm$\"\n"
      "          balance_layers: [\"re:.*qkv_proj$\"]\n"
      "    QuantizationModifier: {scheme: W4A16, targets: [Linear], ignore: [lm_head]}\n";
  std::mt19937 rng(20261123);
  for (int i = 0; i < 150; ++i) {
    RunCheck(Mutate(*dump, rng), recipe);
    RunCheck(Mutate(list, rng), Mutate(recipe, rng));
  }
}

}  // namespace
}  // namespace mapping
}  // namespace wring
