#include "mapping/match/matchers.h"

#include <algorithm>
#include "absl/types/optional.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mapping/base/python_repr.h"

namespace wring {
namespace mapping {

NamedModuleMatches MatchNamedModules(const ModuleTree& tree, const MatchTable& table,
                                     absl::Span<const int> targets,
                                     absl::Span<const int> ignore) {
  NamedModuleMatches result;
  std::vector<bool> used(targets.size(), false);
  const MatchTable::PatternMask any_target = table.Mask(targets);
  for (int m = 0; m < tree.size(); ++m) {
    if (!table.MatchesMask(m, any_target)) continue;
    for (size_t t = 0; t < targets.size(); ++t) {
      if (!table.Matches(m, targets[t])) continue;
      used[t] = true;
      if (!table.MatchesAny(m, ignore)) result.modules.push_back(m);
      break;
    }
  }
  for (size_t t = 0; t < targets.size(); ++t) {
    if (!used[t]) result.unmatched_targets.push_back(targets[t]);
  }
  return result;
}

absl::Status MatchModulesSet(const ModuleTree& tree, const MatchTable& table,
                             const PatternRegistry& registry, absl::Span<const int> targets,
                             absl::Span<const int> ignore,
                             const std::function<absl::Status(const ModuleSet&)>& on_set) {
  const size_t n = targets.size();
  // Upstream keys its state by target string, so a target listed twice is
  // one key: it matches (and counts) once per module.
  std::vector<size_t> key_of(n);
  std::vector<size_t> first_of_key;
  for (size_t t = 0; t < n; ++t) {
    key_of[t] = first_of_key.size();
    for (size_t u = 0; u < t; ++u) {
      if (targets[u] == targets[t]) {
        key_of[t] = key_of[u];
        break;
      }
    }
    if (key_of[t] == first_of_key.size()) first_of_key.push_back(t);
  }
  const size_t num_keys = first_of_key.size();

  std::vector<std::vector<int>> matches(num_keys);
  std::vector<bool> unmatched(num_keys, true);
  size_t num_unmatched = num_keys;
  // Views into module names, which the tree keeps alive.
  absl::optional<absl::string_view> context;

  auto emit = [&]() -> absl::Status {
    ModuleSet set(n);
    for (size_t t = 0; t < n; ++t) set[t] = matches[key_of[t]];
    return on_set(set);
  };

  std::vector<size_t> matched_here;
  // Most modules match none of the targets: one mask test skips them.
  const MatchTable::PatternMask any_target = table.Mask(targets);
  const MatchTable::PatternMask any_ignore = table.Mask(ignore);
  for (int m = 0; m < tree.size(); ++m) {
    if (!table.MatchesMask(m, any_target) || table.MatchesMask(m, any_ignore)) continue;
    matched_here.clear();
    const std::string& name = tree.module(m).name;
    for (size_t key = 0; key < num_keys; ++key) {
      if (!table.Matches(m, targets[first_of_key[key]])) continue;
      absl::string_view new_context =
          context.has_value() ? LowestCommonAncestorNameView(name, *context) : name;
      if (num_unmatched == 0 && new_context != *context) {
        absl::Status status = emit();
        if (!status.ok()) return status;
        for (auto& v : matches) v.clear();
        std::fill(unmatched.begin(), unmatched.end(), true);
        num_unmatched = num_keys;
        new_context = name;
      }
      matches[key].push_back(m);
      context = new_context;
      if (unmatched[key]) {
        unmatched[key] = false;
        --num_unmatched;
      }
      matched_here.push_back(key);
    }
    if (matched_here.size() > 1) {
      std::vector<std::string> names;
      for (size_t key : matched_here) names.push_back(registry.text(targets[first_of_key[key]]));
      return absl::InvalidArgumentError(absl::StrCat(
          "module: ", name, " was matched with multiple targets: ", PythonSetRepr(names),
          " which is unexpected disable this check by setting `error_on_module_rematch = "
          "False`"));
    }
  }
  if (num_unmatched == num_keys) return absl::OkStatus();
  if (num_unmatched == 0) return emit();
  std::vector<std::string> found, missing;
  for (size_t key = 0; key < num_keys; ++key) {
    (unmatched[key] ? missing : found).push_back(registry.text(targets[first_of_key[key]]));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "Found a final incomplete set with matches found for keys: ", PythonSetRepr(found),
      " but no matches found for keys: ", PythonSetRepr(missing)));
}

}  // namespace mapping
}  // namespace wring
