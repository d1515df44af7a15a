#include "mapping/check/explain.h"

#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mapping/report/layer_ranges.h"
#include "re2/re2.h"

namespace wring {
namespace mapping {
namespace {

// The module names quoted in a "single smoothlayer" message.
std::vector<std::string> QuotedNames(const std::string& text) {
  std::vector<std::string> names;
  re2::StringPiece input(text);
  std::string name;
  static const RE2* quoted = new RE2(R"('([^']+)')");
  while (RE2::FindAndConsume(&input, *quoted, &name)) names.push_back(name);
  return names;
}

// Layer-stack prefixes ("model.language_model.layers.") and how many of
// `names` sit under each, most common first.
std::vector<std::pair<std::string, int>> StackPrefixes(const std::vector<std::string>& names) {
  std::map<std::string, int> counts;
  for (const std::string& n : names) {
    LayerName split = SplitLayerName(n);
    counts[split.layer.has_value() ? split.prefix : std::string()]++;
  }
  std::vector<std::pair<std::string, int>> out(counts.begin(), counts.end());
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

std::string MappingYaml(const AwqMapping& m) {
  std::vector<std::string> balance;
  for (const auto& b : m.balance_layers) balance.push_back(absl::StrCat("\"", b, "\""));
  return absl::StrCat("- smooth_layer: \"", m.smooth_layer, "\"\n  balance_layers: [",
                      absl::StrJoin(balance, ", "), "]");
}

}  // namespace

report::Diagnostic MakeDiagnostic(absl::string_view severity, absl::string_view code,
                                  absl::string_view message, absl::string_view explanation,
                                  absl::string_view fix) {
  report::Diagnostic d;
  d.set_severity(std::string(severity));
  d.set_code(std::string(code));
  d.set_message(std::string(message));
  d.set_explanation(std::string(explanation));
  d.set_fix(std::string(fix));
  return d;
}

std::string RestrictPatternToPrefix(absl::string_view pattern, absl::string_view prefix) {
  std::string escaped = RE2::QuoteMeta(re2::StringPiece(prefix.data(), prefix.size()));
  if (absl::StartsWith(pattern, "re:.*")) {
    return absl::StrCat("re:", escaped, ".*", pattern.substr(5));
  }
  if (absl::StartsWith(pattern, "re:")) return absl::StrCat("re:", escaped, ".*", pattern.substr(3));
  return std::string(pattern);
}

report::Diagnostic ExplainAwqError(const ModuleTree& tree, const AwqMapping& mapping,
                                   const std::string& error) {
  (void)tree;
  if (absl::StrContains(error, "AWQ needs to match a single smoothlayer")) {
    std::vector<std::string> names = QuotedNames(error.substr(0, error.find(" for mapping:")));
    auto stacks = StackPrefixes(names);
    std::string explanation = absl::StrCat(
        "match_modules_set groups a mapping's matches by parent module, but a set may widen "
        "freely until every pattern has matched once. Here ",
        names.size(), " modules matching ", mapping.smooth_layer,
        " fell into one set before its balance pattern matched");
    if (stacks.size() > 1) {
      std::vector<std::string> where;
      for (const auto& [prefix, count] : stacks) {
        where.push_back(absl::StrCat(count, " under ", prefix.empty() ? "<no layer stack>" : prefix));
      }
      absl::StrAppend(&explanation, ": the pattern also matches outside the text decoder (",
                      absl::StrJoin(where, ", "), ")");
    }
    absl::StrAppend(&explanation, ".");
    std::string fix;
    // Restrict the mapping to the stack with the most layers that hold the
    // balance layers too: usually the language model.
    std::string decoder;
    for (const auto& [prefix, count] : stacks) {
      if (!prefix.empty() && absl::StrContains(prefix, "language_model")) decoder = prefix;
    }
    if (decoder.empty() && !stacks.empty()) decoder = stacks.front().first;
    if (!decoder.empty()) {
      AwqMapping restricted = mapping;
      restricted.smooth_layer = RestrictPatternToPrefix(mapping.smooth_layer, decoder);
      for (auto& b : restricted.balance_layers) b = RestrictPatternToPrefix(b, decoder);
      fix = absl::StrCat(
          "Give AWQModifier explicit `mappings` whose patterns only match ", decoder,
          "*, e.g. replace this mapping with:\n", MappingYaml(restricted),
          "\n(and restrict the other mappings the same way).");
    } else {
      fix = "Give AWQModifier explicit `mappings` whose smooth_layer pattern matches exactly "
            "one module per decoder layer.";
    }
    return MakeDiagnostic("error", "awq.multiple_smooth_layers", error, explanation, fix);
  }
  if (absl::StrContains(error, "Found a final incomplete set")) {
    return MakeDiagnostic(
        "error", "awq.incomplete_set", error,
        absl::StrCat("Mapping ", AwqMappingRepr(mapping),
                     ": the patterns named after 'no matches found for keys' match nothing in "
                     "the last group of layers (or in the whole model) while the others do."),
        "Check the module names (`wring check --json` lists them per pattern) and fix or "
        "drop the pattern that matches nothing; a model-specific `mappings` list may be "
        "needed.");
  }
  if (absl::StrContains(error, "was matched with multiple targets")) {
    return MakeDiagnostic(
        "error", "awq.module_rematch", error,
        "One module matches two patterns of the same mapping (smooth and balance patterns "
        "overlap); match_modules_set refuses that.",
        "Make the patterns disjoint: anchor them with `$` and spell out the parent, e.g. "
        "\"re:.*self_attn\\.q_proj$\" instead of \"re:.*proj$\".");
  }
  if (absl::StartsWith(error, "AttributeError")) {
    return MakeDiagnostic(
        "error", "awq.hook_target_missing", error,
        absl::StrCat("activation_hook_target '", mapping.activation_hook_target.value_or(""),
                     "' is resolved as an attribute path from the mapping's parent (the "
                     "lowest common ancestor of its balance layers), and the parent has no "
                     "such submodule."),
        "Set activation_hook_target to a submodule path relative to that parent, or remove "
        "it to hook the first balance layer.");
  }
  return MakeDiagnostic("error", "awq.error", error);
}

}  // namespace mapping
}  // namespace wring
