#include "mapping/quantization/apply.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mapping/base/status_macros.h"
#include "mapping/match/match_table.h"
#include "mapping/match/matchers.h"

namespace wring {
namespace mapping {
namespace {

// Weight column counts, for the divisibility check.
class ColumnLookup {
 public:
  explicit ColumnLookup(const ModuleTree& tree) : tree_(tree) {}

  absl::optional<int64_t> Columns(int module) {
    const Module& m = tree_.module(module);
    if (m.in_features >= 0) return m.in_features;
    if (!indexed_) {
      for (int i = 0; i < static_cast<int>(tree_.parameters().size()); ++i) {
        weight_params_[tree_.parameters()[i].name] = i;
      }
      indexed_ = true;
    }
    auto it = weight_params_.find(absl::StrCat(m.name, ".weight"));
    if (it == weight_params_.end()) return absl::nullopt;
    const auto& shape = tree_.parameters()[it->second].shape;
    if (shape.empty()) return absl::nullopt;
    return shape.back();
  }

 private:
  const ModuleTree& tree_;
  bool indexed_ = false;
  absl::flat_hash_map<std::string, int> weight_params_;
};

using SchemeOf = std::function<const QuantizationScheme*(int module)>;

std::vector<IndivisibleLayer> CollectIndivisible(const ModuleTree& tree,
                                                 const MatchTable& table,
                                                 absl::Span<const int> targets,
                                                 absl::Span<const int> ignore,
                                                 const SchemeOf& scheme_of,
                                                 ColumnLookup& columns) {
  std::vector<IndivisibleLayer> out;
  for (int m : MatchNamedModules(tree, table, targets, ignore).modules) {
    const QuantizationScheme* scheme = scheme_of(m);
    if (scheme == nullptr || !scheme->weights) continue;
    const QuantizationArgs& w = *scheme->weights;
    if (w.strategy != QuantizationStrategy::kGroup &&
        w.strategy != QuantizationStrategy::kTensorGroup) {
      continue;
    }
    if (!w.group_size) continue;
    absl::optional<int64_t> cols = columns.Columns(m);
    if (!cols) continue;
    int64_t group_size = *w.group_size;
    if (*cols >= group_size && *cols % group_size != 0) out.push_back({m, *cols, group_size});
  }
  return out;
}

absl::Status CheckDivisibility(const ModuleTree& tree, const MatchTable& table,
                               absl::Span<const int> targets, absl::Span<const int> ignore,
                               const SchemeOf& scheme_of, ColumnLookup& columns) {
  std::vector<IndivisibleLayer> layers =
      CollectIndivisible(tree, table, targets, ignore, scheme_of, columns);
  if (layers.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(GroupSizeDivisibilityMessage(tree, layers));
}

struct ConfigPatterns {
  std::vector<int> targets;        // target_to_scheme keys, first-seen order
  std::vector<int> target_groups;  // parallel: the (last) group listing it
  std::vector<int> by_priority;    // targets sorted by ("re:" in t, t)
  std::vector<int> ignore;
  std::vector<int> resolved_targets;
};

absl::StatusOr<ConfigPatterns> RegisterConfig(const ResolvedQuantizationConfig& config,
                                              PatternRegistry& registry) {
  ConfigPatterns p;
  absl::flat_hash_map<int, int> position;
  for (int g = 0; g < static_cast<int>(config.config_groups.size()); ++g) {
    for (const std::string& target : config.config_groups[g].scheme.targets) {
      WRING_ASSIGN_OR_RETURN(int id, registry.Add(target));
      auto inserted = position.emplace(id, static_cast<int>(p.targets.size()));
      if (inserted.second) {
        p.targets.push_back(id);
        p.target_groups.push_back(g);
      } else {
        p.target_groups[inserted.first->second] = g;  // a later group wins
      }
    }
  }
  p.by_priority = p.targets;
  std::sort(p.by_priority.begin(), p.by_priority.end(), [&](int a, int b) {
    bool a_regex = absl::StrContains(registry.text(a), "re:");
    bool b_regex = absl::StrContains(registry.text(b), "re:");
    if (a_regex != b_regex) return !a_regex;
    return registry.text(a) < registry.text(b);
  });
  WRING_ASSIGN_OR_RETURN(p.ignore, registry.AddAll(config.ignore));
  WRING_ASSIGN_OR_RETURN(p.resolved_targets, registry.AddAll(config.ResolvedTargets()));
  return p;
}

// is_narrow_match(model, targets, name): some target matches the module but
// neither its parent nor any descendant. The "parent" is the name before
// the last dot, so a top-level module counts as its own parent.
bool IsNarrowMatch(const ModuleTree& tree, const MatchTable& table, int module,
                   absl::Span<const int> targets) {
  const std::string& name = tree.module(module).name;
  int parent = name.find('.') == std::string::npos ? module : tree.parent(module);
  for (int t : targets) {
    if (!table.Matches(module, t)) continue;
    if (parent >= 0 && table.Matches(parent, t)) continue;
    bool child_matches = false;
    std::vector<int> stack(tree.children(module).begin(), tree.children(module).end());
    while (!stack.empty() && !child_matches) {
      int d = stack.back();
      stack.pop_back();
      child_matches = table.Matches(d, t);
      stack.insert(stack.end(), tree.children(d).begin(), tree.children(d).end());
    }
    if (!child_matches) return true;
  }
  return false;
}

}  // namespace

bool IsCachedAttentionModule(const ModuleTree& tree, int module) {
  if (!absl::StrContains(absl::AsciiStrToLower(tree.module(module).class_name), "attention")) {
    return false;
  }
  for (int child : tree.children(module)) {
    absl::string_view name = tree.module(child).name;
    size_t dot = name.rfind('.');
    if (dot != absl::string_view::npos) name.remove_prefix(dot + 1);
    if (name == "k_proj" || name == "v_proj" || name == "qkv_proj" || name == "kv_b_proj") {
      return true;
    }
  }
  return false;
}

const ModuleSchemeAssignment* SchemeAssignments::Find(int module) const {
  if (module < 0 || module >= static_cast<int>(index_by_module.size())) return nullptr;
  int index = index_by_module[module];
  return index < 0 ? nullptr : &modules[index];
}

absl::StatusOr<SchemeAssignments> AssignSchemes(
    const ModuleTree& tree, const std::vector<ResolvedQuantizationConfig>& in_recipe_order,
    const AssignSchemesOptions& options) {
  PatternRegistry registry;
  std::vector<ConfigPatterns> patterns;
  for (const auto& config : in_recipe_order) {
    WRING_ASSIGN_OR_RETURN(ConfigPatterns p, RegisterConfig(config, registry));
    patterns.push_back(std::move(p));
  }
  WRING_ASSIGN_OR_RETURN(MatchTable table, MatchTable::Build(tree, registry));

  std::vector<int> cached_attention;
  for (int m = 0; m < tree.size(); ++m) {
    if (IsCachedAttentionModule(tree, m)) cached_attention.push_back(m);
  }

  SchemeAssignments result;
  // Per module: applied scheme, attachment, deciding target id (-1: none).
  std::vector<int> applied(tree.size(), -1);
  std::vector<SchemeAttachment> attachment(tree.size(), SchemeAttachment::kLinear);
  std::vector<int> decided_by(tree.size(), -1);
  SchemeOf scheme_of = [&](int m) -> const QuantizationScheme* {
    return applied[m] < 0 ? nullptr : &result.schemes[applied[m]].scheme;
  };
  ColumnLookup columns(tree);

  for (int c = 0; c < static_cast<int>(in_recipe_order.size()); ++c) {
    const ResolvedQuantizationConfig& config = in_recipe_order[c];
    const ConfigPatterns& p = patterns[c];
    if (!config.has_config) continue;

    if (config.kv_cache_scheme) {
      AppliedScheme kv;
      kv.config_index = c;
      kv.scheme.targets = {kKvCacheTarget};
      kv.scheme.input_activations = *config.kv_cache_scheme;
      int kv_index = static_cast<int>(result.schemes.size());
      result.schemes.push_back(std::move(kv));
      for (int m : cached_attention) {
        applied[m] = kv_index;
        attachment[m] = SchemeAttachment::kKvCache;
        decided_by[m] = -1;
      }
    }

    int first_group = static_cast<int>(result.schemes.size());
    for (const auto& group : config.config_groups) {
      result.schemes.push_back({c, group.name, group.scheme});
    }
    absl::flat_hash_map<int, int> group_of_target;
    for (size_t i = 0; i < p.targets.size(); ++i) {
      group_of_target[p.targets[i]] = p.target_groups[i];
    }

    NamedModuleMatches matches = MatchNamedModules(tree, table, p.targets, p.ignore);
    for (int t : matches.unmatched_targets) {
      result.unmatched_targets.push_back(
          {c, registry.text(t),
           absl::StrCat("Could not match `", registry.text(t), "` in instance of ",
                        tree.root_class())});
    }
    for (int m : matches.modules) {
      int winner = -1;
      for (int t : p.by_priority) {
        if (table.NameMatches(m, t)) {
          winner = t;
          break;
        }
      }
      if (winner < 0) {
        for (int t : p.by_priority) {
          if (table.ClassMatches(m, t)) {
            winner = t;
            break;
          }
        }
      }
      if (winner < 0) continue;  // unreachable: m was matched by some target
      int group = group_of_target[winner];
      const QuantizationScheme& scheme = config.config_groups[group].scheme;
      SchemeAttachment kind;
      if (std::binary_search(cached_attention.begin(), cached_attention.end(), m)) {
        WRING_ASSIGN_OR_RETURN(std::vector<int> scheme_targets, registry.AddAll(scheme.targets));
        if (!IsNarrowMatch(tree, table, m, scheme_targets)) {
          // Not attention quantization; it may still be a Linear below.
          if (!tree.IsInstance(m, "Linear") && !tree.IsInstance(m, "Embedding")) continue;
          kind = SchemeAttachment::kLinear;
        } else {
          kind = SchemeAttachment::kAttention;
        }
      } else if (tree.IsInstance(m, "Linear") || tree.IsInstance(m, "Embedding")) {
        kind = SchemeAttachment::kLinear;
      } else {
        continue;  // matched, but upstream attaches nothing to other modules
      }
      applied[m] = first_group + group;
      attachment[m] = kind;
      decided_by[m] = winner;
    }

    if (options.check_group_size_divisibility && !config.bypass_divisibility_checks) {
      WRING_RETURN_IF_ERROR(
          CheckDivisibility(tree, table, p.resolved_targets, p.ignore, scheme_of, columns));
    }
  }

  result.index_by_module.assign(tree.size(), -1);
  for (int m = 0; m < tree.size(); ++m) {
    if (applied[m] < 0) continue;
    result.index_by_module[m] = static_cast<int>(result.modules.size());
    result.modules.push_back({m, applied[m], attachment[m],
                              decided_by[m] < 0 ? std::string() : registry.text(decided_by[m])});
  }
  return result;
}

absl::StatusOr<std::vector<IndivisibleLayer>> FindIndivisibleLayers(
    const ModuleTree& tree, const SchemeAssignments& state,
    const ResolvedQuantizationConfig& config) {
  PatternRegistry registry;
  WRING_ASSIGN_OR_RETURN(std::vector<int> targets, registry.AddAll(config.ResolvedTargets()));
  WRING_ASSIGN_OR_RETURN(std::vector<int> ignore, registry.AddAll(config.ignore));
  WRING_ASSIGN_OR_RETURN(MatchTable table, MatchTable::Build(tree, registry));
  ColumnLookup columns(tree);
  SchemeOf scheme_of = [&](int m) -> const QuantizationScheme* {
    const ModuleSchemeAssignment* a = state.Find(m);
    return a == nullptr ? nullptr : &state.scheme(*a);
  };
  return CollectIndivisible(tree, table, targets, ignore, scheme_of, columns);
}

std::string GroupSizeDivisibilityMessage(const ModuleTree& tree,
                                         const std::vector<IndivisibleLayer>& layers) {
  std::vector<std::string> lines;
  for (const IndivisibleLayer& l : layers) {
    lines.push_back(absl::StrCat("  - ", tree.module(l.module).name, " (columns=", l.columns,
                                 ", group_size=", l.group_size, ")"));
  }
  return absl::StrCat(
      "The following layers have weight column counts not divisible by group_size. Group and "
      "tensor-group quantization require columns % group_size == 0; compressed-tensors will "
      "error when saving or running forward. Add these layer names to the modifier's `ignore` "
      "list and re-run, or set bypass_divisibility_checks=True if your runtime (e.g. vLLM) "
      "supports non-divisible dimensions.\n\n",
      absl::StrJoin(lines, "\n"));
}

absl::Status ValidateGroupSizeDivisibility(const ModuleTree& tree,
                                           const SchemeAssignments& state,
                                           const ResolvedQuantizationConfig& config) {
  if (config.bypass_divisibility_checks) return absl::OkStatus();
  WRING_ASSIGN_OR_RETURN(std::vector<IndivisibleLayer> layers,
                         FindIndivisibleLayers(tree, state, config));
  if (layers.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(GroupSizeDivisibilityMessage(tree, layers));
}

}  // namespace mapping
}  // namespace wring
