// ParseRecipe on mangled and hostile input: it must return OK or
// InvalidArgument, never crash, hang or exhaust the stack.
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mapping/recipe/recipe_parser.h"

namespace wring {
namespace mapping {
namespace {

using ::testing::HasSubstr;

const std::vector<std::string>& ValidRecipes() {
  static const std::vector<std::string>* recipes = [] {
    auto* out = new std::vector<std::string>;
    for (const char* name :
         {"awq_w4a16_sym_config_groups.yaml", "awq_nvfp4_scheme.yaml",
          "gptq_awq_non_uniform.yaml", "kv_cache_fp8.yaml",
          "fp8_dynamic_vision_ignores.yaml", "spinquant_w4a16.yaml",
          "nvfp4_fp8_mixed.yaml", "awq_w4a16.json"}) {
      std::ifstream in(std::string("mapping/recipe/testdata/") + name, std::ios::binary);
      std::stringstream buffer;
      buffer << in.rdbuf();
      out->push_back(buffer.str());
    }
    out->push_back(DefaultAwqW4A16Recipe());
    return out;
  }();
  return *recipes;
}

// OK or InvalidArgument; and a parsed recipe can be order-checked.
void ExpectHandled(const std::string& text) {
  absl::StatusOr<wring::recipe::Recipe> recipe = ParseRecipe(text, "fuzz.yaml");
  if (recipe.ok()) {
    EXPECT_GT(recipe->modifiers_size(), 0);
    absl::Status order = ValidateRecipeOrder(*recipe);
    EXPECT_TRUE(order.ok() || order.code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  EXPECT_EQ(recipe.status().code(), absl::StatusCode::kInvalidArgument)
      << recipe.status() << "\ninput: " << text.substr(0, 200);
  EXPECT_THAT(std::string(recipe.status().message()), ::testing::StartsWith("fuzz.yaml:"));
}

TEST(RecipeRobustnessTest, ValidRecipesParse) {
  for (const std::string& text : ValidRecipes()) {
    ASSERT_FALSE(text.empty());
    EXPECT_TRUE(ParseRecipe(text, "fuzz.yaml").ok()) << text;
  }
}

TEST(RecipeRobustnessTest, EveryTruncation) {
  for (const std::string& text : ValidRecipes()) {
    for (size_t length = 0; length <= text.size(); ++length) {
      ExpectHandled(text.substr(0, length));
    }
  }
}

TEST(RecipeRobustnessTest, RandomByteFlips) {
  std::mt19937 rng(20260822);
  // Bytes that matter to YAML plus arbitrary ones, NUL and invalid UTF-8.
  const std::string interesting = ":-[]{}&*!|>'\"#%@`,? \t\n\r\\0xX.eE~";
  for (int round = 0; round < 4000; ++round) {
    std::string text = ValidRecipes()[round % ValidRecipes().size()];
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips && !text.empty(); ++f) {
      const size_t at = rng() % text.size();
      text[at] = (rng() % 2) ? interesting[rng() % interesting.size()]
                             : static_cast<char>(rng() % 256);
    }
    ExpectHandled(text);
  }
}

TEST(RecipeRobustnessTest, RandomSpliceAndDuplicate) {
  std::mt19937 rng(7);
  for (int round = 0; round < 1000; ++round) {
    const std::string& a = ValidRecipes()[rng() % ValidRecipes().size()];
    const std::string& b = ValidRecipes()[rng() % ValidRecipes().size()];
    const size_t cut_a = rng() % (a.size() + 1);
    const size_t cut_b = rng() % (b.size() + 1);
    ExpectHandled(a.substr(0, cut_a) + b.substr(cut_b));
  }
}

// YAML 1.1 base-60 integers ("1:30" is 90) whose value has no int64: found
// by recipe_fuzzer as an undefined double-to-integer cast (UBSan).
TEST(RecipeRobustnessTest, BaseSixtyIntegersOutOfRange) {
  for (const char* value : {"11111111111111111111111:1", "1:-90", "-1:1e400"}) {
    const std::string text = absl::StrCat(
        "quant_stage:\n  quant_modifiers:\n    QuantizationModifier:\n"
        "      scheme: W4A16\n      targets: [Linear]\n      ignore: [lm_head]\n"
        "      sequential_targets: ", value, "\n");
    ExpectHandled(text);
  }
  ExpectHandled("\n\n[1111111111111111111111:1,11111exit_co1111111111,11110exit_code9}J111111");
}

TEST(RecipeRobustnessTest, TenThousandLevelsOfNesting) {
  const int kLevels = 10000;
  const std::string flow_lists =
      "quant_stage: " + std::string(kLevels, '[') + std::string(kLevels, ']') + "\n";
  std::string flow_maps = "quant_stage: ";
  for (int i = 0; i < kLevels; ++i) flow_maps += "{a: ";
  flow_maps += "1" + std::string(kLevels, '}') + "\n";
  std::string block_lists;
  for (int i = 0; i < kLevels; ++i) block_lists += "- ";
  block_lists += "x\n";
  const std::string unclosed = "a: " + std::string(kLevels, '{');
  for (const std::string* text :
       std::vector<const std::string*>{&flow_lists, &flow_maps, &block_lists, &unclosed}) {
    absl::StatusOr<wring::recipe::Recipe> recipe = ParseRecipe(*text, "deep.yaml");
    ASSERT_FALSE(recipe.ok());
    EXPECT_EQ(recipe.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(recipe.status().message()), HasSubstr("deeper than 64"));
  }
  // JSON-looking input takes the same bounded path.
  ExpectHandled(std::string(kLevels, '{') + std::string(kLevels, '}'));
}

TEST(RecipeRobustnessTest, HugeAliasFanOut) {
  // Wide: one anchor referenced 200k times.
  std::string wide = "a: &a [1, 2, 3, 4, 5]\nquant_stage: [";
  for (int i = 0; i < 200000; ++i) wide += i ? ", *a" : "*a";
  wide += "]\n";
  // Deep: each level references the previous one ten times.
  std::string laughs = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int level = 1; level <= 12; ++level) {
    const std::string prev = "l" + std::to_string(level - 1);
    laughs += "l" + std::to_string(level) + ": &l" + std::to_string(level) + " [";
    for (int i = 0; i < 10; ++i) laughs += (i ? ", *" : "*") + prev;
    laughs += "]\n";
  }
  // Aliases that nest: each alias adds depth without adding text.
  std::string stacked = "d0: &d0 [[[[[[[[[[x]]]]]]]]]]\n";
  for (int level = 1; level <= 10; ++level) {
    stacked += "d" + std::to_string(level) + ": &d" + std::to_string(level) +
               " [[[[[[[[[[*d" + std::to_string(level - 1) + "]]]]]]]]]]\n";
  }
  for (const std::string* text : std::vector<const std::string*>{&wide, &laughs, &stacked}) {
    absl::StatusOr<wring::recipe::Recipe> recipe = ParseRecipe(*text, "bomb.yaml");
    ASSERT_FALSE(recipe.ok());
    EXPECT_EQ(recipe.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(recipe.status().message()),
                ::testing::AnyOf(HasSubstr("alias bomb"), HasSubstr("deeper than 64")));
  }
}

TEST(RecipeRobustnessTest, AliasesInsideModifierFieldsStayBounded) {
  // Legal, moderately shared values must still parse and render.
  std::string text = "x: &x [a, b, c]\ny: &y [*x, *x, *x]\n"
                     "s_stage:\n  g_modifiers:\n    ConstantPruningModifier:\n"
                     "      targets: [*y, *y]\n";
  absl::StatusOr<wring::recipe::Recipe> recipe = ParseRecipe(text, "ok.yaml");
  ASSERT_TRUE(recipe.ok()) << recipe.status();
  EXPECT_THAT(recipe->modifiers(0).other().fields().at("targets"),
              HasSubstr("[[[\"a\", \"b\", \"c\"], [\"a\""));
}

}  // namespace
}  // namespace mapping
}  // namespace wring
