// compressed-tensors' module matchers: match_named_modules and the grouping
// state machine match_modules_set, which AWQ and SpinQuant norm fusion use to
// pair a smooth/norm layer with the layers it feeds, layer by layer.
#ifndef WRING_MAPPING_MATCH_MATCHERS_H_
#define WRING_MAPPING_MATCH_MATCHERS_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "mapping/match/match_table.h"
#include "mapping/tree/module_tree.h"

namespace wring {
namespace mapping {

struct NamedModuleMatches {
  // Module indices in named_modules() order, each at most once.
  std::vector<int> modules;
  // Targets no module matched (credited to the first matching target only,
  // as upstream's "Could not match" warning is).
  std::vector<int> unmatched_targets;
};

// match_named_modules(model, targets, ignore).
NamedModuleMatches MatchNamedModules(const ModuleTree& tree, const MatchTable& table,
                                     absl::Span<const int> targets,
                                     absl::Span<const int> ignore = {});

// One yielded set: for each target (in `targets` order) the modules matched
// inside one parent context, in named_modules() order.
using ModuleSet = std::vector<std::vector<int>>;

// match_modules_set(model, targets, ignore, error_on_module_rematch=True).
// Upstream is a generator whose consumer may raise between sets, so each set
// is handed to `on_set` as soon as it closes; a non-OK status from `on_set`
// stops the walk and is returned. Matching errors ("matched with multiple
// targets", "final incomplete set") come back as InvalidArgument/
// FailedPrecondition with llm-compressor's message.
absl::Status MatchModulesSet(const ModuleTree& tree, const MatchTable& table,
                             const PatternRegistry& registry, absl::Span<const int> targets,
                             absl::Span<const int> ignore,
                             const std::function<absl::Status(const ModuleSet&)>& on_set);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_MATCH_MATCHERS_H_
