// Every error ParseRecipe / ValidateRecipeOrder reports, with its message.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mapping/recipe/recipe_parser.h"

namespace wring {
namespace mapping {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::ElementsAre;
using ::testing::StartsWith;
using wring::recipe::Recipe;

// The message of the InvalidArgument error ParseRecipe must return.
std::string ErrorOf(const std::string& text) {
  absl::StatusOr<Recipe> recipe = ParseRecipe(text, "r.yaml");
  EXPECT_FALSE(recipe.ok());
  if (recipe.ok()) return "";
  EXPECT_EQ(recipe.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(recipe.status().message());
}

// Wraps modifier lines in a stage and group (modifier keys at line 3).
std::string InGroup(const std::string& modifiers) {
  return "quant_stage:\n  quant_modifiers:\n" + modifiers;
}

TEST(RecipeErrorsTest, MalformedYamlNamesLibyamlProblemAndPosition) {
  EXPECT_THAT(ErrorOf(InGroup("    AWQModifier: {duo_scaling: true\n")),
              AllOf(StartsWith("r.yaml:4:1: malformed YAML: "),
                    HasSubstr("flow mapping")));
  EXPECT_THAT(ErrorOf("quant_stage:\n\tquant_modifiers: {}\n"),
              AllOf(StartsWith("r.yaml:2:1: malformed YAML"),
                    HasSubstr("indent with spaces")));
  EXPECT_THAT(ErrorOf("a: b: c\n"), StartsWith("r.yaml:1:5: malformed YAML: mapping "
                                               "values are not allowed"));
  EXPECT_THAT(ErrorOf(std::string("a: \x01\n")),
              AllOf(StartsWith("r.yaml:1:4: malformed YAML"), HasSubstr("UTF-8")));
}

TEST(RecipeErrorsTest, WrongValueTypes) {
  EXPECT_EQ(ErrorOf(InGroup("    QuantizationModifier:\n"
                            "      config_groups:\n"
                            "        group_0:\n"
                            "          targets: [Linear]\n"
                            "          weights: {num_bits: four}\n")),
            "r.yaml:7:31: quant_stage.quant_modifiers.QuantizationModifier."
            "config_groups.group_0.weights.num_bits: expected an integer, got a "
            "string ('four')");
  EXPECT_THAT(ErrorOf(InGroup("    QuantizationModifier: {scheme: W4A16, ignore: lm_head}\n")),
              AllOf(HasSubstr("QuantizationModifier.ignore: expected a list of strings"),
                    HasSubstr("write a list: [\"lm_head\"]")));
  EXPECT_THAT(ErrorOf(InGroup("    QuantizationModifier: {scheme: 4}\n")),
              HasSubstr("`scheme` must either be a preset scheme name or a dictionary "
                        "of preset scheme names"));
  EXPECT_THAT(ErrorOf(InGroup("    AWQModifier: {n_grid: 2.5}\n    GPTQModifier: {}\n")),
              HasSubstr("AWQModifier.n_grid: expected an integer, got a number (2.5)"));
  EXPECT_THAT(ErrorOf(InGroup("    QuantizationModifier:\n"
                              "      kv_cache_scheme: {num_bits: 8, type: 8}\n")),
              AllOf(HasSubstr("kv_cache_scheme.type: expected a string, got an integer"),
                    HasSubstr("quote it")));
  EXPECT_THAT(ErrorOf(InGroup("    QuantizationModifier: {bypass_divisibility_checks: maybe}\n")),
              HasSubstr("expected true or false, got a string ('maybe')"));
  EXPECT_THAT(ErrorOf(InGroup("    AWQModifier: {offload_device: 1}\n")),
              HasSubstr("expected a device name such as cpu"));
  EXPECT_THAT(ErrorOf(InGroup("    AWQModifier: {mappings: {smooth_layer: x}}\n")),
              HasSubstr("AWQModifier.mappings: expected a list of mappings"));
  EXPECT_THAT(ErrorOf(InGroup("    AWQModifier:\n      mappings:\n"
                              "        - {smooth_layer: x}\n")),
              HasSubstr("mappings[0]: missing required key 'balance_layers'"));
}

TEST(RecipeErrorsTest, EnumSpellingsUseUpstreamMessages) {
  EXPECT_THAT(ErrorOf(InGroup("    QuantizationModifier:\n"
                              "      kv_cache_scheme: {strategy: grop}\n")),
              HasSubstr("'grop' is not a valid QuantizationStrategy; use one of: tensor"));
  EXPECT_THAT(ErrorOf(InGroup("    QuantizationModifier:\n"
                              "      kv_cache_scheme: {dynamic: Global}\n")),
              HasSubstr("'global' is not a valid DynamicType"));
  EXPECT_THAT(ErrorOf(InGroup("    QuantizationModifier:\n"
                              "      kv_cache_scheme: {block_structure: [128]}\n")),
              HasSubstr("Invalid block_structure '[128]'. Must be a list of positive "
                        "ints [rows, cols]."));
  EXPECT_THAT(ErrorOf(InGroup("    QuantizationModifier:\n"
                              "      kv_cache_scheme: {block_structure: 8by16}\n")),
              HasSubstr("Invalid block_structure '8by16'."));
  // 0x8 is the YAML integer 8, as PyYAML reads it.
  EXPECT_THAT(ErrorOf(InGroup("    QuantizationModifier:\n"
                              "      kv_cache_scheme: {block_structure: 0x8}\n")),
              HasSubstr("Invalid block_structure '8'."));
  EXPECT_THAT(ErrorOf(InGroup("    QuantizationModifier: {observer: {weight: mse}}\n")),
              HasSubstr("Invalid observer key 'weight'. Valid keys are: {'weights', "
                        "'input', 'output'}"));
  EXPECT_THAT(ErrorOf(InGroup("    QuantizationModifier: {observer: {weights: 3}}\n")),
              HasSubstr("Observer value for 'weights' must be a string"));
  EXPECT_THAT(ErrorOf(InGroup("    QuantizationModifier: {observer: mse}\n")),
              HasSubstr("`observer` must be a dictionary"));
  EXPECT_THAT(ErrorOf(InGroup("    GPTQModifier: {scheme: W4A16, actorder: Group}\n")),
              HasSubstr("Input should be 'group', 'weight', 'dynamic' or 'static' "
                        "(got 'Group')"));
  EXPECT_THAT(ErrorOf(InGroup("    SpinQuantModifier: {rotations: [R1, R5]}\n")),
              HasSubstr("rotations[1]: Input should be 'R1', 'R2', 'R3' or 'R4'"));
  EXPECT_THAT(ErrorOf(InGroup("    SpinQuantModifier: {transform_type: fwht}\n")),
              HasSubstr("Input should be 'hadamard', 'random-hadamard' or "
                        "'random-matrix'"));
}

TEST(RecipeErrorsTest, UnknownModifierSuggestsClosestName) {
  EXPECT_EQ(ErrorOf(InGroup("    AWQModifer: {}\n")),
            "r.yaml:3:5: quant_stage.quant_modifiers.AWQModifer: unknown modifier "
            "'AWQModifer' (llm-compressor: No modifier of type 'AWQModifer' found.); "
            "did you mean 'AWQModifier'? known modifiers: AWQModifier, "
            "QuantizationModifier, GPTQModifier, SpinQuantModifier, AutoRoundModifier, "
            "SmoothQuantModifier, LogarithmicEqualizationModifier, QuIPModifier, "
            "SparseGPTModifier, WandaPruningModifier, MagnitudePruningModifier, "
            "ConstantPruningModifier, REAPPruningModifier");
  EXPECT_THAT(ErrorOf(InGroup("    gptqmodifier: {}\n")),
              HasSubstr("did you mean 'GPTQModifier'?"));
  // The deprecated shim is a function, not a class the factory finds.
  EXPECT_THAT(ErrorOf(InGroup("    Modifier: {}\n")), HasSubstr("unknown modifier"));
}

TEST(RecipeErrorsTest, UnknownKeySuggestsClosestKey) {
  EXPECT_THAT(ErrorOf(InGroup("    AWQModifier: {duo_scailng: true}\n")),
              AllOf(StartsWith("r.yaml:3:19: quant_stage.quant_modifiers.AWQModifier."
                               "duo_scailng: unknown key 'duo_scailng' for AWQModifier"),
                    HasSubstr("Extra inputs are not permitted"),
                    HasSubstr("did you mean 'duo_scaling'?"),
                    HasSubstr("valid keys: mappings, offload_device, duo_scaling")));
  EXPECT_THAT(ErrorOf(InGroup("    QuantizationModifier:\n"
                              "      kv_cache_scheme: {group-size: 8}\n")),
              AllOf(HasSubstr("unknown key 'group-size' for QuantizationArgs"),
                    HasSubstr("did you mean 'group_size'?")));
  EXPECT_THAT(ErrorOf(InGroup("    SmoothQuantModifier: {smoothing_strenght: 0.5}\n")),
              HasSubstr("did you mean 'smoothing_strength'?"));
  EXPECT_THAT(ErrorOf(InGroup("    QuantizationModifier:\n"
                              "      config_groups: {g: {targets: [a], weight: {}}}\n")),
              HasSubstr("unknown key 'weight' for QuantizationScheme"));
}

TEST(RecipeErrorsTest, MissingRequiredFields) {
  EXPECT_THAT(ErrorOf(InGroup("    ConstantPruningModifier: {start: 0}\n")),
              HasSubstr("missing required key 'targets' for ConstantPruningModifier "
                        "(llm-compressor: Field required)"));
  EXPECT_THAT(ErrorOf(InGroup("    QuantizationModifier:\n"
                              "      config_groups: {g: {weights: {num_bits: 4}}}\n")),
              HasSubstr("config_groups.g: missing required key 'targets'"));
}

TEST(RecipeErrorsTest, DuplicateKeys) {
  EXPECT_THAT(ErrorOf(InGroup("    QuantizationModifier: {scheme: W4A16}\n"
                              "    QuantizationModifier: {scheme: W8A8}\n")),
              AllOf(StartsWith("r.yaml:4:5: quant_stage.quant_modifiers: duplicate key "
                               "'QuantizationModifier' (first at line 3:5)"),
                    HasSubstr("quant_2_modifiers")));
  EXPECT_THAT(ErrorOf(InGroup("    QuantizationModifier:\n"
                              "      kv_cache_scheme: {num_bits: 8, num_bits: 4}\n")),
              AllOf(HasSubstr("kv_cache_scheme: duplicate key 'num_bits'"),
                    HasSubstr("remove one of them")));
}

TEST(RecipeErrorsTest, AliasesThatCouldBlowUp) {
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'j'; ++c) {
    const char prev = c - 1;
    bomb += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i) bomb += std::string(i ? ", *" : "*") + prev;
    bomb += "]\n";
  }
  EXPECT_THAT(ErrorOf(bomb), AllOf(StartsWith("r.yaml:"),
                                   HasSubstr("more than 100000 values (an alias bomb?)")));
  EXPECT_THAT(ErrorOf("a: &a [1, *a]\n"),
              HasSubstr("alias '*a' is used inside the node it names"));
  EXPECT_THAT(ErrorOf("a: *nope\n"), HasSubstr("found undefined alias 'nope'"));
  EXPECT_THAT(ErrorOf("a: &x 1\nb: &x 2\n"),
              HasSubstr("found duplicate anchor 'x'; first occurrence at line 1:4"));
  EXPECT_THAT(ErrorOf("base: &b {a: 1}\nq:\n  <<: *b\n"),
              HasSubstr("merge keys ('<<') are not supported"));
}

TEST(RecipeErrorsTest, DeepNestingIsRejected) {
  const std::string deep = "a: " + std::string(100, '[') + std::string(100, ']');
  EXPECT_THAT(ErrorOf(deep), HasSubstr("YAML nested deeper than 64 levels"));
}

TEST(RecipeErrorsTest, EmptyRecipes) {
  EXPECT_THAT(ErrorOf(""), AllOf(StartsWith("r.yaml:1:1: the recipe is empty"),
                                 HasSubstr("quant_modifiers:")));
  EXPECT_THAT(ErrorOf("# nothing here\n"), HasSubstr("the recipe is empty"));
  EXPECT_THAT(ErrorOf("~\n"), HasSubstr("the recipe is empty"));
  EXPECT_THAT(ErrorOf("quant_stage:\n  quant_modifiers: {}\n"),
              StartsWith("r.yaml:1:1: the recipe has no modifiers"));
  EXPECT_THAT(ErrorOf("- AWQModifier\n"),
              HasSubstr("a recipe must be a mapping of stages, got a list"));
  EXPECT_THAT(ErrorOf("quant_stage: null\n"),
              HasSubstr("quant_stage: expected a mapping, got null"));
}

// Shapes llm-compressor accepts and then runs no modifier from: parsed all
// the same, with a problem the check reports (exit 1), never unusable input.
TEST(RecipeErrorsTest, MisplacedModifiersAreParsedWithAProblem) {
  struct Case {
    std::string text;
    std::string where;
    int modifiers;
  };
  const std::vector<Case> cases = {
      {"AWQModifier: {}\nQuantizationModifier: {scheme: W4A16}\n", "'AWQModifier' is at the top level", 2},
      {"quant_modifiers: {AWQModifier: {}}\n", "outside any '<name>_stage:'", 1},
      {"quant_stage:\n  QuantizationModifier: {scheme: W4A16}\n", "sits directly under a stage", 1},
      {"stage:\n  modifiers:\n    QuantizationModifier: {scheme: W4A16}\n", "'stage' does not end in '_stage'", 1},
      {"quant_stage:\n  modifiers:\n    QuantizationModifier: {scheme: W4A16}\n", "does not end in '_modifiers'", 1},
  };
  for (const Case& c : cases) {
    auto recipe = ParseRecipe(c.text, "r.yaml");
    ASSERT_TRUE(recipe.ok()) << c.text << recipe.status();
    EXPECT_EQ(recipe->modifiers_size(), c.modifiers) << c.text;
    ASSERT_EQ(recipe->problems_size(), 1) << c.text;
    const auto& problem = recipe->problems(0);
    EXPECT_EQ(problem.code(), "recipe.modifiers_not_read");
    EXPECT_THAT(problem.message(), AllOf(HasSubstr(c.where), HasSubstr("silently skips")))
        << c.text;
    EXPECT_THAT(problem.fix(), HasSubstr("quant_stage:\n    quant_modifiers:\n      ")) << c.text;
    EXPECT_EQ(problem.modifiers_size(), c.modifiers);
  }
  // Only the misplaced one is a problem when others are nested correctly.
  auto mixed = ParseRecipe(
      "quant_stage:\n  quant_modifiers:\n    QuantizationModifier: {scheme: W4A16}\n"
      "  GPTQModifier: {scheme: W4A16}\n",
      "r.yaml");
  ASSERT_TRUE(mixed.ok()) << mixed.status();
  ASSERT_EQ(mixed->problems_size(), 1);
  EXPECT_THAT(mixed->problems(0).message(), HasSubstr("GPTQModifier (line 4)"));
  EXPECT_THAT(mixed->problems(0).modifiers(), ElementsAre(1));

  EXPECT_THAT(ErrorOf("quant_stage:\n  quant_modifiers:\n    - AWQModifier: {}\n"),
              HasSubstr("quant_stage.quant_modifiers: expected a mapping, got a list"));
  EXPECT_THAT(ErrorOf(InGroup("    AWQModifier:\n    GPTQModifier: {}\n")),
              HasSubstr("write 'AWQModifier: {}' to use every default"));
}

TEST(RecipeErrorsTest, GroupKeyInsideAModifier) {
  EXPECT_THAT(ErrorOf(InGroup("    QuantizationModifier: {scheme: W4A16, group: x}\n")),
              AllOf(StartsWith("r.yaml:3:43: quant_stage.quant_modifiers."
                               "QuantizationModifier.group: ModifierFactory.create() "
                               "got multiple values for keyword argument 'group'"),
                    HasSubstr("rename the '<group>_modifiers:' key")));
  // `group` is not offered as a valid key either.
  EXPECT_THAT(ErrorOf(InGroup("    AWQModifier: {n_gird: 3}\n")),
              HasSubstr("valid keys: mappings, offload_device, duo_scaling, n_grid, "
                        "index, start, end, update"));
}

TEST(RecipeErrorsTest, AwqWithQuantizationKeysExplainsTheMove) {
  const std::string message =
      ErrorOf(InGroup("    AWQModifier:\n"
                      "      duo_scaling: both\n"
                      "      scheme: W4A16_ASYM\n"
                      "      targets: [Linear]\n"
                      "      ignore: [lm_head]\n"));
  EXPECT_THAT(message, StartsWith("r.yaml:5:7: quant_stage.quant_modifiers.AWQModifier."
                                  "scheme: AWQModifier does not accept scheme, targets, "
                                  "ignore: in current llm-compressor AWQModifier is "
                                  "transform-only"));
  EXPECT_THAT(message, HasSubstr("    AWQModifier:\n      duo_scaling: \"both\"\n"
                                 "    QuantizationModifier:\n"
                                 "      scheme: \"W4A16_ASYM\"\n"
                                 "      targets: [\"Linear\"]\n"
                                 "      ignore: [\"lm_head\"]"));
  for (const char* key : {"config_groups: {}", "kv_cache_scheme: {}",
                          "weight_observer: mse", "input_observer: mse",
                          "output_observer: mse", "observer: {}",
                          "bypass_divisibility_checks: true"}) {
    EXPECT_THAT(ErrorOf(InGroup(std::string("    AWQModifier: {") + key + "}\n")),
                HasSubstr("AWQModifier is transform-only"))
        << key;
  }
}

TEST(RecipeErrorsTest, DuoScalingIsCaseSensitive) {
  EXPECT_THAT(ErrorOf(InGroup("    AWQModifier: {duo_scaling: Both}\n")),
              HasSubstr("AWQModifier.duo_scaling: duo_scaling must be True, False, or "
                        "'both', got 'Both'"));
  EXPECT_THAT(ErrorOf(InGroup("    AWQModifier: {duo_scaling: 2}\n")),
              HasSubstr("got 2"));
}

TEST(RecipeErrorsTest, SpinQuantUnimplementedFlags) {
  EXPECT_THAT(ErrorOf(InGroup("    SpinQuantModifier: {randomize: true}\n")),
              HasSubstr("randomize is not supported as of now"));
  EXPECT_THAT(ErrorOf(InGroup("    SpinQuantModifier: {learnable: yes}\n")),
              HasSubstr("learnable is not supported as of now"));
  // The upstream check runs before type coercion: a non-empty string is truthy.
  EXPECT_THAT(ErrorOf(InGroup("    SpinQuantModifier: {learnable: \"false\"}\n")),
              HasSubstr("learnable is not supported as of now"));
  EXPECT_THAT(ErrorOf(InGroup("    QuIPModifier: {randomize: true}\n")),
              HasSubstr("randomize is not supported right now"));
}

TEST(RecipeErrorsTest, YamlDocumentShape) {
  EXPECT_THAT(ErrorOf("a: 1\n---\nb: 2\n"),
              HasSubstr("expected a single document in the stream"));
  EXPECT_THAT(ErrorOf("a: !!python/object:os.system ls\n"),
              HasSubstr("unsupported YAML tag 'tag:yaml.org,2002:python/object:os.system'"));
  EXPECT_THAT(ErrorOf("? [a]\n: 1\n"), HasSubstr("a mapping key must be a plain value"));
}

Recipe Modifiers(std::initializer_list<const char*> types) {
  Recipe recipe;
  for (const char* type : types) recipe.add_modifiers()->set_type(type);
  return recipe;
}

TEST(ValidateRecipeOrderTest, AwqNeedsALaterQuantizationMixin) {
  EXPECT_TRUE(ValidateRecipeOrder(Modifiers({"AWQModifier", "GPTQModifier"})).ok());
  EXPECT_TRUE(ValidateRecipeOrder(Modifiers({"AWQModifier", "AutoRoundModifier"})).ok());
  EXPECT_TRUE(ValidateRecipeOrder(Modifiers({"QuantizationModifier"})).ok());
  EXPECT_TRUE(ValidateRecipeOrder(Modifiers({})).ok());
  absl::Status status =
      ValidateRecipeOrder(Modifiers({"QuantizationModifier", "AWQModifier"}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "Recipe includes AWQModifier with no subsequent quantization modifier: "
            "['QuantizationModifier', 'AWQModifier']. AWQ must be run with a "
            "subsequent quantization modifier");
  EXPECT_FALSE(ValidateRecipeOrder(Modifiers({"AWQModifier"})).ok());
  EXPECT_FALSE(
      ValidateRecipeOrder(Modifiers({"AWQModifier", "SmoothQuantModifier"})).ok());
  // A second AWQ after the only quantization modifier is also unquantized.
  EXPECT_FALSE(ValidateRecipeOrder(Modifiers(
                   {"AWQModifier", "QuantizationModifier", "AWQModifier"}))
                   .ok());
}

}  // namespace
}  // namespace mapping
}  // namespace wring
