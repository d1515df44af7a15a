#include "mapping/check/loose_regex.h"

#include <set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mapping/check/explain.h"
#include "mapping/match/pattern.h"
#include "mapping/report/layer_ranges.h"

namespace wring {
namespace mapping {
namespace {

bool IsQuantifier(char c) { return c == '*' || c == '+' || c == '?' || c == '{'; }

struct RecipePattern {
  std::string pattern;
  std::string where;     // "QuantizationModifier #2 ignore"
  bool linear_only;      // quantization targets/ignore concern Linear modules
  int modifier;
};

void CollectMixin(const recipe::QuantizationMixin& mixin, const std::string& label, int index,
                  std::vector<RecipePattern>* out) {
  for (const auto& t : mixin.targets()) out->push_back({t, label + " targets", true, index});
  for (const auto& t : mixin.ignore()) out->push_back({t, label + " ignore", true, index});
  for (const auto& group : mixin.config_groups()) {
    for (const auto& t : group.scheme().targets()) {
      out->push_back({t, absl::StrCat(label, " config_groups.", group.name(), ".targets"), true,
                      index});
    }
  }
  if (mixin.scheme_case() == recipe::QuantizationMixin::kPresetMap) {
    for (const auto& e : mixin.preset_map().entries()) {
      for (const auto& t : e.targets()) {
        out->push_back({t, absl::StrCat(label, " scheme.", e.preset()), true, index});
      }
    }
  }
}

}  // namespace

absl::optional<std::string> StrictDotVariant(absl::string_view regex) {
  std::string out;
  bool changed = false;
  bool in_class = false;
  for (size_t i = 0; i < regex.size(); ++i) {
    const char c = regex[i];
    if (c == '\\' && i + 1 < regex.size()) {
      out.push_back(c);
      out.push_back(regex[++i]);
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      out.push_back(c);
      continue;
    }
    if (c == '[') {
      in_class = true;
      out.push_back(c);
      continue;
    }
    if (c != '.') {
      out.push_back(c);
      continue;
    }
    const char prev = i > 0 ? regex[i - 1] : '\0';
    const char next = i + 1 < regex.size() ? regex[i + 1] : '\0';
    const bool name_before = absl::ascii_isalnum(prev) || prev == '_';
    if (IsQuantifier(next)) {
      // "layers.1.*": the layer number should end at a dot.
      if (absl::ascii_isdigit(prev)) {
        out.append("\\..");
        changed = true;
      } else {
        out.push_back('.');
      }
      continue;
    }
    const bool name_after = absl::ascii_isalnum(next) || next == '_';
    if (name_before && name_after) {
      out.append("\\.");
      changed = true;
    } else {
      out.push_back('.');
    }
  }
  if (!changed) return absl::nullopt;
  return out;
}

void WarnAboutLooseRegexes(const ModuleTree& tree, const recipe::Recipe& recipe,
                           DiagnosticList* diagnostics) {
  std::vector<RecipePattern> patterns;
  for (int i = 0; i < recipe.modifiers_size(); ++i) {
    const recipe::Modifier& m = recipe.modifiers(i);
    const std::string label = absl::StrCat(m.type(), " #", i + 1);
    if (m.kind_case() == recipe::Modifier::kQuantization) {
      CollectMixin(m.quantization(), label, i, &patterns);
    } else if (m.kind_case() == recipe::Modifier::kGptq) {
      CollectMixin(m.gptq().quantization(), label, i, &patterns);
    } else if (m.kind_case() == recipe::Modifier::kAwq) {
      for (const auto& mapping : m.awq().mappings().mappings()) {
        patterns.push_back({mapping.smooth_layer(), label + " mappings.smooth_layer", false, i});
        for (const auto& b : mapping.balance_layers()) {
          patterns.push_back({b, label + " mappings.balance_layers", false, i});
        }
      }
    }
  }
  std::set<std::string> seen;
  for (const RecipePattern& p : patterns) {
    if (!IsRegexTarget(p.pattern) || !seen.insert(p.where + "\n" + p.pattern).second) continue;
    absl::optional<std::string> strict = StrictDotVariant(p.pattern.substr(3));
    if (!strict.has_value()) continue;
    auto loose = Pattern::Compile(p.pattern);
    auto tight = Pattern::Compile(absl::StrCat("re:", *strict));
    if (!loose.ok() || !tight.ok()) continue;
    std::vector<std::string> extra;
    int matched = 0;
    for (int m = 0; m < tree.size(); ++m) {
      if (p.linear_only && !tree.IsLinear(m)) continue;
      const std::string& name = tree.module(m).name;
      if (!loose->MatchesName(name)) continue;
      ++matched;
      if (!tight->MatchesName(name)) extra.push_back(name);
    }
    if (extra.empty()) continue;
    std::vector<std::string> shown(extra.begin(), extra.begin() + std::min<size_t>(extra.size(), 5));
    diagnostics->Add(
        MakeDiagnostic(
            "warning", "recipe.loose_regex",
            absl::StrCat(p.where, ": '", p.pattern, "' also matches ", extra.size(), " ",
                         p.linear_only ? "Linear module" : "module", extra.size() == 1 ? "" : "s",
                         " its dots do not spell (", matched, " matched in all), e.g. ",
                         absl::StrJoin(shown, ", ")),
            "In a regex an unescaped `.` matches any character, so \"layers.1\" also matches "
            "\"layers.10\" .. \"layers.19\"; llm-compressor matches it as written, silently.",
            absl::StrCat("If you meant literal dots, write '", "re:", *strict,
                         "' instead (it matches ", matched - static_cast<int>(extra.size()),
                         " of them).")),
        Origin{Phase::kAdvice, p.modifier});
  }
}

}  // namespace mapping
}  // namespace wring
