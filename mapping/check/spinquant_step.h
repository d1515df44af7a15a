// The SpinQuant part of `wring check`: what every SpinQuantMapping field and
// NormMapping matches on the model (always reported, for reference), and,
// when the recipe has a SpinQuantModifier, whether its norm fusion and
// rotations would apply.
#ifndef WRING_MAPPING_CHECK_SPINQUANT_STEP_H_
#define WRING_MAPPING_CHECK_SPINQUANT_STEP_H_

#include "absl/status/status.h"
#include "mapping/base/json.h"
#include "mapping/check/diagnostic_list.h"
#include "mapping/proto/recipe.pb.h"
#include "mapping/proto/report.pb.h"
#include "mapping/tree/module_tree.h"

namespace wring {
namespace mapping {

// `modifier` is the recipe's SpinQuantModifier (at `modifier_index` in the
// recipe), or nullptr. What llm-compressor would raise goes to
// `diagnostics`, at the phase it would raise it.
absl::Status RunSpinQuantStep(const ModuleTree& tree, const Json& config,
                              const recipe::SpinQuantModifier* modifier, int modifier_index,
                              report::SpinQuantReport* out, DiagnosticList* diagnostics);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_CHECK_SPINQUANT_STEP_H_
