#include "mapping/recipe/recipe_parser.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mapping/base/json.h"
#include "mapping/base/python_repr.h"
#include "mapping/base/status_macros.h"
#include "mapping/match/matchers.h"
#include "mapping/recipe/internal/modifier_catalog.h"
#include "mapping/recipe/internal/modifier_parsers.h"
#include "mapping/recipe/internal/value_reader.h"
#include "mapping/recipe/internal/yaml_tree.h"
#include "mapping/recipe/suggestion.h"

namespace wring {
namespace mapping {
namespace {

using recipe_internal::FindModifier;
using recipe_internal::JoinPath;
using recipe_internal::KnownModifierNames;
using recipe_internal::ModifierSpec;
using recipe_internal::ValueReader;
using recipe_internal::YamlDocument;
using recipe_internal::YamlKind;
using recipe_internal::YamlNode;

constexpr char kRecipeShape[] =
    "a recipe looks like:\n"
    "  quant_stage:\n"
    "    quant_modifiers:\n"
    "      AWQModifier: {}\n"
    "      QuantizationModifier:\n"
    "        scheme: W4A16\n"
    "        targets: [Linear]\n"
    "        ignore: [lm_head]";

// llm-compressor reads JSON with json.loads before trying YAML; only number
// syntax differs between the two for recipe-shaped input.
bool IsJson(absl::string_view text) {
  absl::string_view stripped = absl::StripLeadingAsciiWhitespace(text);
  if (stripped.empty() || (stripped[0] != '{' && stripped[0] != '[')) return false;
  // Hostile input (megabytes, or nesting the YAML reader rejects anyway)
  // never reaches the JSON parser.
  if (text.size() > (1 << 20)) return false;
  int depth = 0;
  for (char c : text) {
    if (c == '{' || c == '[') ++depth;
    if (c == '}' || c == ']') --depth;
    if (depth > recipe_internal::kMaxYamlDepth) return false;
  }
  return ParseJson(text, "recipe").ok();
}

bool LooksLikeModifier(absl::string_view key) {
  return FindModifier(key) != nullptr || absl::EndsWith(key, "Modifier") ||
         absl::EndsWith(key, "_modifiers");
}

class RecipeBuilder {
 public:
  explicit RecipeBuilder(const ValueReader& reader) : reader_(reader) {}

  absl::Status ReadStages(int root_id, wring::recipe::Recipe* recipe) {
    const YamlNode& root = reader_.node(root_id);
    for (const auto& [k, v] : root.entries) {
      const std::string& key = reader_.node(k).text;
      if (absl::EndsWith(key, "_stage")) {
        WRING_RETURN_IF_ERROR(ReadStage(key, v, recipe));
      } else if (key != "args" && LooksLikeModifier(key)) {
        return reader_.Error(
            k, key,
            absl::StrCat("'", key, "' is at the top level, where llm-compressor only "
                         "reads keys ending in '_stage' (it would silently skip "
                         "this); nest it:\n  quant_stage:\n",
                         absl::EndsWith(key, "_modifiers")
                             ? absl::StrCat("    ", key, ":\n      ...")
                             : absl::StrCat("    quant_modifiers:\n      ", key,
                                            ": ...")));
      }
      // Other top-level keys ("args", metadata) are ignored, as upstream does.
    }
    return absl::OkStatus();
  }

 private:
  absl::Status ReadStage(const std::string& stage, int stage_id,
                         wring::recipe::Recipe* recipe) {
    WRING_RETURN_IF_ERROR(reader_.ExpectMapping(
        stage_id, stage, "a mapping of '<group>_modifiers:' keys, e.g. quant_modifiers:"));
    for (const auto& [k, v] : reader_.node(stage_id).entries) {
      const std::string& key = reader_.node(k).text;
      const std::string path = JoinPath(stage, key);
      if (absl::EndsWith(key, "_modifiers")) {
        const std::string group = key.substr(0, key.size() - strlen("_modifiers"));
        WRING_RETURN_IF_ERROR(ReadGroup(stage, group, path, v, recipe));
      } else if (LooksLikeModifier(key)) {
        return reader_.Error(
            k, path,
            absl::StrCat("modifier '", key, "' sits directly under '", stage,
                         "', where llm-compressor only reads keys ending in "
                         "'_modifiers' (it would silently skip it); nest it:\n  ",
                         stage, ":\n    quant_modifiers:\n      ", key, ": ..."));
      }
    }
    return absl::OkStatus();
  }

  absl::Status ReadGroup(const std::string& stage, const std::string& group,
                         const std::string& path, int group_id,
                         wring::recipe::Recipe* recipe) {
    WRING_RETURN_IF_ERROR(reader_.ExpectMapping(
        group_id, path,
        "a mapping from modifier class names to their fields, e.g. "
        "'AWQModifier: {duo_scaling: true}' (not a list)"));
    for (const auto& [k, v] : reader_.node(group_id).entries) {
      const std::string& type = reader_.node(k).text;
      const std::string modifier_path = JoinPath(path, type);
      const ModifierSpec* spec = FindModifier(type);
      if (spec == nullptr || !reader_.node(k).is_string()) {
        const std::string suggestion = DidYouMean(type, KnownModifierNames());
        return reader_.Error(
            k, modifier_path,
            absl::StrCat("unknown modifier '", type,
                         "' (llm-compressor: No modifier of type '", type,
                         "' found.); ",
                         suggestion.empty() ? "" : absl::StrCat(suggestion, " "),
                         "known modifiers: ",
                         absl::StrJoin(KnownModifierNames(), ", ")));
      }
      wring::recipe::Modifier* modifier = recipe->add_modifiers();
      modifier->set_type(type);
      modifier->set_stage(stage);
      modifier->set_group(group);
      *modifier->mutable_location() = reader_.Location(k);
      WRING_RETURN_IF_ERROR(recipe_internal::ParseModifierBody(reader_, *spec, v,
                                                               modifier_path, modifier));
    }
    return absl::OkStatus();
  }

  const ValueReader& reader_;
};

absl::Status EmptyRecipeError(absl::string_view source, int line, int column,
                              absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(source, ":", line, ":", column, ": ",
                                                 what, "; ", kRecipeShape));
}

}  // namespace

absl::StatusOr<wring::recipe::Recipe> ParseRecipe(absl::string_view text,
                                                  absl::string_view source_name) {
  WRING_ASSIGN_OR_RETURN(YamlDocument doc,
                         YamlDocument::Parse(text, source_name, IsJson(text)));
  if (doc.empty()) {
    return EmptyRecipeError(source_name, 1, 1, "the recipe is empty");
  }
  ValueReader reader(doc, source_name);
  const YamlNode& root = doc.node(doc.root());
  if (root.kind != YamlKind::kMapping) {
    return reader.Error(
        doc.root(), "",
        absl::StrCat("a recipe must be a mapping of stages, got ",
                     reader.Describe(doc.root()),
                     " (llm-compressor: Could not parse recipe from string); ",
                     kRecipeShape));
  }
  wring::recipe::Recipe recipe;
  recipe.set_source_name(std::string(source_name));
  RecipeBuilder builder(reader);
  WRING_RETURN_IF_ERROR(builder.ReadStages(doc.root(), &recipe));
  if (recipe.modifiers().empty()) {
    return EmptyRecipeError(source_name, root.line, root.column,
                            "the recipe has no modifiers (llm-compressor reads only "
                            "'<name>_stage:' -> '<group>_modifiers:' -> "
                            "'ModifierName:')");
  }
  return recipe;
}

absl::Status ValidateRecipeOrder(const wring::recipe::Recipe& recipe) {
  std::vector<std::string> types;
  for (const auto& modifier : recipe.modifiers()) types.push_back(modifier.type());
  for (int i = 0; i < recipe.modifiers_size(); ++i) {
    if (recipe.modifiers(i).type() != "AWQModifier") continue;
    bool quantized_later = false;
    for (int j = i + 1; j < recipe.modifiers_size(); ++j) {
      const ModifierSpec* spec = FindModifier(recipe.modifiers(j).type());
      quantized_later = quantized_later || (spec != nullptr && spec->quantization_mixin);
    }
    if (!quantized_later) {
      return absl::InvalidArgumentError(
          absl::StrCat("Recipe includes AWQModifier with no subsequent quantization "
                       "modifier: ",
                       PythonListRepr(types),
                       ". AWQ must be run with a subsequent quantization modifier"));
    }
  }
  return absl::OkStatus();
}

const std::string& DefaultAwqW4A16Recipe() {
  static const std::string* text = new std::string(
      "# wring's default: AWQ smoothing (mappings inferred from the model), then\n"
      "# W4A16 (int4 symmetric, group 128) on every Linear except lm_head.\n"
      "default_stage:\n"
      "  default_modifiers:\n"
      "    AWQModifier: {}\n"
      "    QuantizationModifier:\n"
      "      scheme: W4A16\n"
      "      targets: [Linear]\n"
      "      ignore: [lm_head]\n");
  return *text;
}

}  // namespace mapping
}  // namespace wring
