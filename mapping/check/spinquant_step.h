// The SpinQuant part of `wring check`: what every SpinQuantMapping field and
// NormMapping matches on the model (always reported, for reference), and,
// when the recipe has a SpinQuantModifier, whether its norm fusion and
// rotations would apply.
#ifndef WRING_MAPPING_CHECK_SPINQUANT_STEP_H_
#define WRING_MAPPING_CHECK_SPINQUANT_STEP_H_

#include <vector>

#include "absl/status/status.h"
#include "mapping/base/json.h"
#include "mapping/proto/recipe.pb.h"
#include "mapping/proto/report.pb.h"
#include "mapping/tree/module_tree.h"

namespace wring {
namespace mapping {

class SpinQuantStep {
 public:
  // `modifier` is the recipe's SpinQuantModifier, or nullptr.
  absl::Status Run(const ModuleTree& tree, const Json& config,
                   const recipe::SpinQuantModifier* modifier, report::SpinQuantReport* out);
  const std::vector<report::Diagnostic>& diagnostics() const { return diagnostics_; }

 private:
  std::vector<report::Diagnostic> diagnostics_;
};

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_CHECK_SPINQUANT_STEP_H_
