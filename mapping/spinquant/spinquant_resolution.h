// What SpinQuant's mappings select in one model: for every SpinQuantMapping
// field, the modules its targets match (what the rotations are applied to),
// and for every NormMapping, the (norm, linears...) sets compressed-tensors'
// match_modules_set yields for norm fusion, or the error it raises.
//
// This answers "which layers will SpinQuant touch, and will norm fusion
// work?" from the module tree alone, without weights.
#ifndef WRING_MAPPING_SPINQUANT_SPINQUANT_RESOLUTION_H_
#define WRING_MAPPING_SPINQUANT_SPINQUANT_RESOLUTION_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "mapping/base/json.h"
#include "mapping/match/matchers.h"
#include "mapping/spinquant/spinquant_mappings.h"
#include "mapping/tree/module_tree.h"

namespace wring {
namespace mapping {
namespace spinquant {

// match_named_modules(model, field targets): each module once, in
// named_modules() order, whichever of the field's targets it matches.
struct FieldMatches {
  std::string field;
  std::vector<std::string> targets;
  std::vector<int> modules;
  // Targets that matched nothing (upstream warns only for the embedding).
  std::vector<std::string> unmatched_targets;
};

// match_modules_set(model, (norm, *linears)) for one NormMapping.
struct NormGroups {
  NormMapping mapping;
  // The sets yielded before any error: set[0] holds the norms, set[i] the
  // modules of linears[i-1], each in named_modules() order.
  std::vector<ModuleSet> sets;
  // match_modules_set's own error ("final incomplete set", "matched with
  // multiple targets"), raised after `sets` were yielded.
  absl::Status match_error;
  // The first yielded set whose norm list does not hold exactly one module.
  // _fuse_norms asserts `len(norm) == 1`, so upstream stops there with a bare
  // AssertionError even though match_modules_set itself succeeded.
  absl::optional<int> first_set_without_single_norm;
};

struct SpinQuantResolution {
  // model.__class__.__name__, which upstream looks the registries up by.
  std::string architecture;
  SpinQuantMapping mapping;
  std::vector<NormMapping> norm_mappings;
  // What upstream logs at info level: the fallback message, once per
  // registry that did not know the architecture.
  std::vector<std::string> info_messages;
  std::vector<FieldMatches> fields;  // MappingFields() order
  std::vector<NormGroups> norms;     // norm_mappings order
};

// Infers the mappings from the tree's root class (as on_initialize does)
// and resolves them.
absl::StatusOr<SpinQuantResolution> ResolveSpinQuant(const ModuleTree& tree);

// Resolves the given mappings. Fails only for an invalid target (bad or
// Python-only regex), naming it.
absl::StatusOr<SpinQuantResolution> ResolveSpinQuant(const ModuleTree& tree,
                                                     const SpinQuantMapping& mapping,
                                                     const std::vector<NormMapping>& norm_mappings);

// The error SpinQuantModifier._fuse_norms would raise first, walking the norm
// mappings in order and each one's sets as they are yielded; OK when norm
// fusion succeeds. An assertion failure is reported as FailedPrecondition
// with a message naming the mapping and the norms grouped together.
absl::Status FuseNormsError(const ModuleTree& tree, const SpinQuantResolution& resolution);

// The fixtures' `spinquant` object:
//   {"head_dim": attn_head_dim|null,
//    "fields": {name: {"patterns": [...], "matches": [module names]}},
//    "norms": [{"norm", "linears", "groups": [[[norm], [linear...]...]...]}
//              | {"norm", "linears", "error": message}]}
// A norm entry whose match_modules_set raised carries only the error, as
// upstream's generator gives nothing usable once it raises.
Json ResolutionToJson(const ModuleTree& tree, const SpinQuantResolution& resolution);

}  // namespace spinquant
}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_SPINQUANT_SPINQUANT_RESOLUTION_H_
