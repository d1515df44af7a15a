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

bool IsModifierName(absl::string_view key) {
  return FindModifier(key) != nullptr || absl::EndsWith(key, "Modifier");
}

class RecipeBuilder {
 public:
  explicit RecipeBuilder(const ValueReader& reader) : reader_(reader) {}

  // llm-compressor's Recipe.from_dict reads '<name>_stage:' ->
  // '<group>_modifiers:' -> 'ModifierName:' and silently skips anything
  // else. Modifiers in other places are parsed all the same (so the check
  // can judge them) and recorded as a problem: upstream would not run them.
  absl::Status ReadStages(int root_id, wring::recipe::Recipe* recipe) {
    const YamlNode& root = reader_.node(root_id);
    for (const auto& [k, v] : root.entries) {
      const std::string& key = reader_.node(k).text;
      if (absl::EndsWith(key, "_stage")) {
        if (reader_.node(v).kind != YamlKind::kMapping) {
          WRING_RETURN_IF_ERROR(reader_.ExpectMapping(
              v, key, "a mapping of '<group>_modifiers:' keys, e.g. quant_modifiers:"));
        }
        WRING_RETURN_IF_ERROR(ReadStage(key, v, /*read_upstream=*/true, recipe));
      } else if (key == "args") {
        continue;
      } else if (IsModifierName(key)) {
        WRING_RETURN_IF_ERROR(ReadModifier("quant_stage", "quant", key, k, v, false, recipe));
        NotRead(k, key, "is at the top level", recipe);
      } else if (absl::EndsWith(key, "modifiers") && reader_.node(v).kind == YamlKind::kMapping) {
        WRING_RETURN_IF_ERROR(ReadGroup("quant_stage", GroupName(key), key, v, false, recipe));
        NotRead(k, key, "is a modifier group outside any '<name>_stage:'", recipe);
      } else if (reader_.node(v).kind == YamlKind::kMapping && HoldsModifiers(v)) {
        // e.g. `stage: {modifiers: {...}}`: a stage whose key lacks "_stage".
        WRING_RETURN_IF_ERROR(ReadStage(key, v, false, recipe));
        NotRead(k, key, "does not end in '_stage'", recipe);
      }
      // Other top-level keys (metadata) are ignored, as upstream does.
    }
    return absl::OkStatus();
  }

 private:
  static std::string GroupName(const std::string& key) {
    if (absl::EndsWith(key, "_modifiers")) return key.substr(0, key.size() - strlen("_modifiers"));
    return "quant";
  }

  // Whether a mapping holds modifiers, directly or one group down.
  bool HoldsModifiers(int id) const {
    for (const auto& [k, v] : reader_.node(id).entries) {
      const std::string& key = reader_.node(k).text;
      if (IsModifierName(key)) return true;
      if (reader_.node(v).kind == YamlKind::kMapping && absl::EndsWith(key, "modifiers")) {
        for (const auto& entry : reader_.node(v).entries) {
          if (IsModifierName(reader_.node(entry.first).text)) return true;
        }
      }
    }
    return false;
  }

  absl::Status ReadStage(const std::string& stage, int stage_id, bool read_upstream,
                         wring::recipe::Recipe* recipe) {
    for (const auto& [k, v] : reader_.node(stage_id).entries) {
      const std::string& key = reader_.node(k).text;
      const std::string path = JoinPath(stage, key);
      if (absl::EndsWith(key, "_modifiers")) {
        WRING_RETURN_IF_ERROR(ReadGroup(stage, GroupName(key), path, v, read_upstream, recipe));
      } else if (IsModifierName(key)) {
        WRING_RETURN_IF_ERROR(ReadModifier(stage, "quant", path, k, v, false, recipe));
        if (read_upstream) NotRead(k, path, "sits directly under a stage, not in a group", recipe);
      } else if (absl::EndsWith(key, "modifiers") &&
                 reader_.node(v).kind == YamlKind::kMapping) {
        WRING_RETURN_IF_ERROR(ReadGroup(stage, "quant", path, v, false, recipe));
        if (read_upstream) NotRead(k, path, "does not end in '_modifiers'", recipe);
      }
    }
    return absl::OkStatus();
  }

  absl::Status ReadGroup(const std::string& stage, const std::string& group,
                         const std::string& path, int group_id, bool read_upstream,
                         wring::recipe::Recipe* recipe) {
    WRING_RETURN_IF_ERROR(reader_.ExpectMapping(
        group_id, path,
        "a mapping from modifier class names to their fields, e.g. "
        "'AWQModifier: {duo_scaling: true}' (not a list)"));
    for (const auto& [k, v] : reader_.node(group_id).entries) {
      const std::string& type = reader_.node(k).text;
      WRING_RETURN_IF_ERROR(
          ReadModifier(stage, group, JoinPath(path, type), k, v, read_upstream, recipe));
    }
    return absl::OkStatus();
  }

  absl::Status ReadModifier(const std::string& stage, const std::string& group,
                            const std::string& modifier_path, int k, int v, bool read_upstream,
                            wring::recipe::Recipe* recipe) {
    const std::string& type = reader_.node(k).text;
    const ModifierSpec* spec = FindModifier(type);
    if (spec == nullptr || !reader_.node(k).is_string()) {
      const std::string suggestion = DidYouMean(type, KnownModifierNames());
      return reader_.Error(
          k, modifier_path,
          absl::StrCat("unknown modifier '", type, "' (llm-compressor: No modifier of type '",
                       type, "' found.); ",
                       suggestion.empty() ? "" : absl::StrCat(suggestion, " "),
                       "known modifiers: ", absl::StrJoin(KnownModifierNames(), ", ")));
    }
    if (!read_upstream) unread_.push_back({recipe->modifiers_size(), v});
    wring::recipe::Modifier* modifier = recipe->add_modifiers();
    modifier->set_type(type);
    modifier->set_stage(stage);
    modifier->set_group(group);
    *modifier->mutable_location() = reader_.Location(k);
    return recipe_internal::ParseModifierBody(reader_, *spec, v, modifier_path, modifier);
  }

  // Notes why the modifiers parsed since the last call are never read
  // upstream ("'quant_stage' ... sits directly under a stage").
  void NotRead(int key_id, const std::string& path, const std::string& why,
               wring::recipe::Recipe* recipe) {
    (void)recipe;
    if (unread_.size() == reported_) return;
    if (first_key_ < 0) first_key_ = key_id;
    reasons_.push_back(absl::StrCat("'", path, "' ", why));
    reported_ = unread_.size();
  }

 public:
  // One problem for every modifier llm-compressor would skip.
  void RecordUnread(wring::recipe::Recipe* recipe) {
    if (unread_.empty()) return;
    wring::recipe::RecipeProblem* problem = recipe->add_problems();
    problem->set_code("recipe.modifiers_not_read");
    *problem->mutable_location() = reader_.Location(first_key_);
    std::vector<std::string> names;
    for (const auto& [index, body] : unread_) {
      const auto& m = recipe->modifiers(index);
      problem->add_modifiers(index);
      names.push_back(absl::StrCat(m.type(), " (line ", m.location().line(), ")"));
    }
    problem->set_message(absl::StrCat(
        absl::StrJoin(reasons_, "; "),
        ": llm-compressor reads modifiers only under '<name>_stage:' -> "
        "'<group>_modifiers:' -> 'ModifierName:' and silently skips ",
        absl::StrJoin(names, ", "), "; the run would not apply ",
        unread_.size() == 1 ? "it" : "them"));
    std::string fix =
        "Nest the modifiers under a stage and a group:\n  quant_stage:\n    quant_modifiers:\n";
    for (const auto& [index, body] : unread_) {
      absl::StrAppend(&fix, "      ", recipe->modifiers(index).type(), ": ",
                      reader_.RenderFlow(body), "\n");
    }
    problem->set_fix(fix);
  }

 private:
  const ValueReader& reader_;
  std::vector<std::pair<int, int>> unread_;  // (modifier index, body node)
  size_t reported_ = 0;
  int first_key_ = -1;
  std::vector<std::string> reasons_;
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
  builder.RecordUnread(&recipe);
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
