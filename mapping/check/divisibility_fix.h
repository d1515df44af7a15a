// Fixes that would pass llm-compressor's group-size divisibility check
// (QuantizationMixin.initialize_quantization): `ignore` patterns covering
// exactly the listed layers, a group size that divides every targeted
// layer, and what bypass_divisibility_checks would leave to the runtime.
#ifndef WRING_MAPPING_CHECK_DIVISIBILITY_FIX_H_
#define WRING_MAPPING_CHECK_DIVISIBILITY_FIX_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/types/optional.h"
#include "mapping/quantization/apply.h"
#include "mapping/tree/module_tree.h"

namespace wring {
namespace mapping {

// `re:` patterns (one per layer-stack position, e.g.
// "re:model\.visual\.blocks\.\d+\.mlp\.linear_fc2$") that match every
// module of `layers` and no other module in `targeted`; exact names where a
// pattern would match more.
std::vector<std::string> IgnorePatternsFor(const ModuleTree& tree,
                                           const std::vector<IndivisibleLayer>& layers,
                                           const std::vector<bool>& targeted);

// The largest power of two in [32, group_size) that divides the columns of
// every layer in `columns` that has at least that many (the layers the check
// would look at); nullopt when there is none.
absl::optional<int64_t> DividingGroupSize(const std::vector<int64_t>& columns,
                                          int64_t group_size);

// The non-text tower every layer sits in ("model.visual."), or "" when they
// do not share one.
std::string CommonNonTextTower(const ModuleTree& tree,
                               const std::vector<IndivisibleLayer>& layers);

// The complete fix text for one modifier's divisibility error.
std::string DivisibilityFix(const ModuleTree& tree, const std::vector<IndivisibleLayer>& layers,
                            const std::vector<int64_t>& grouped_columns,
                            const std::vector<bool>& targeted);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_CHECK_DIVISIBILITY_FIX_H_
