// AWQ mapping resolution: what llm-compressor's
// AWQModifier._set_resolved_mappings computes for a model before any
// calibration runs — which smooth layer pairs with which balance layers in
// each decoder layer, the parent module whose output the grid search
// compares, the activation hook, and which sets are skipped or make the run
// raise.
#ifndef WRING_MAPPING_AWQ_RESOLVE_H_
#define WRING_MAPPING_AWQ_RESOLVE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "mapping/awq/awq_mapping.h"
#include "mapping/tree/module_tree.h"

namespace wring {
namespace mapping {

struct ResolvedAwqMapping {
  int mapping_index;          // into the mapping list
  int smooth;                 // module indices into the tree
  std::vector<int> balance;   // all matches of balance pattern 0, then 1, ...
  int parent;                 // LCA of the balance layers, lifted past ModuleLists
  absl::optional<int> hook;   // resolved activation_hook_target
};

enum class AwqSkipReason {
  kIncompatible,  // v_proj/qkv_proj -> o_proj shape mismatch (GQA)
  kNoBalance,     // the mapping lists no balance layers
  kNotTargeted,   // neither smooth nor balance layers get a quantization scheme
};
// "incompatible", "no_balance", "not_targeted" (the fixtures' reasons).
const char* AwqSkipReasonName(AwqSkipReason reason);

struct SkippedAwqMapping {
  int mapping_index;
  int smooth;
  AwqSkipReason reason;
};

struct AwqResolution {
  std::vector<ResolvedAwqMapping> resolved;
  std::vector<SkippedAwqMapping> skipped;
  // The exception llm-compressor would raise ("ValueError: ..."), if any;
  // resolution stops there, so `resolved`/`skipped` hold what came before.
  absl::optional<std::string> error;
  // Index of the mapping being resolved when `error` was raised.
  absl::optional<int> error_mapping_index;
  // Warnings llm-compressor would log, in order.
  std::vector<std::string> log;
};

// Resolves `mappings` on `tree`. `targeted[m]` says whether module m would
// carry a quantization_scheme (from the recipe's quantization modifiers).
// Returns an error status only for unusable input (an invalid or Python-only
// regex); a run that would fail is reported in AwqResolution::error.
absl::StatusOr<AwqResolution> ResolveAwqMappings(const ModuleTree& tree,
                                                 const std::vector<AwqMapping>& mappings,
                                                 const std::vector<bool>& targeted);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_AWQ_RESOLVE_H_
