// SmoothQuant mapping resolution: what llm-compressor's
// SmoothQuantModifier._resolve_mappings computes before calibration — each
// smooth layer with the balance layers that read it, in every decoder layer,
// which sets are skipped, and the error that makes the run raise.
//
// Each mapping's leaves (balance patterns, then the smooth pattern) are one
// match_modules_set call without an ignore list. A set is skipped when the
// smooth layer and every balance layer are in `ignore` (matched by
// match_named_modules), or when it has no balance layer. Any exception is
// re-raised as upstream's RuntimeError pointing at its README.
#ifndef WRING_MAPPING_SMOOTHQUANT_RESOLVE_H_
#define WRING_MAPPING_SMOOTHQUANT_RESOLVE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "mapping/smoothquant/smoothquant_mappings.h"
#include "mapping/tree/module_tree.h"

namespace wring {
namespace mapping {
namespace smoothquant {

struct ResolvedSmoothQuantMapping {
  int mapping_index;
  int smooth;                // module index
  std::vector<int> balance;  // all matches of balance pattern 0, then 1, ...
};

enum class SmoothQuantSkipReason {
  kAllIgnored,  // the smooth layer and every balance layer are ignored
  kNoBalance,   // the set has no balance layer
};
// "all_ignored", "no_balance".
const char* SmoothQuantSkipReasonName(SmoothQuantSkipReason reason);

struct SkippedSmoothQuantMapping {
  int mapping_index;
  int smooth;
  SmoothQuantSkipReason reason;
};

struct SmoothQuantResolution {
  std::vector<ResolvedSmoothQuantMapping> resolved;
  std::vector<SkippedSmoothQuantMapping> skipped;
  // "RuntimeError: Error resolving mappings ..." with the cause after it;
  // resolution stops there.
  absl::optional<std::string> error;
  // The underlying exception ("ValueError: ...").
  absl::optional<std::string> cause;
  absl::optional<int> error_mapping_index;
  std::vector<std::string> log;
};

// `from_recipe`: the mappings came from the recipe (their repr in messages
// is a list rather than a LayerMap). Returns an error status only for
// unusable input (an invalid or Python-only regex).
absl::StatusOr<SmoothQuantResolution> ResolveSmoothQuantMappings(
    const ModuleTree& tree, const std::vector<LayerMap>& mappings,
    const std::vector<std::string>& ignore, bool from_recipe);

// handle_mapping_resolution_errors' message.
extern const char kSmoothQuantResolutionError[];

}  // namespace smoothquant
}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_SMOOTHQUANT_RESOLVE_H_
