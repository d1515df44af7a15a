// The quantization part of `wring check`: validates every QuantizationMixin
// modifier of the recipe as llm-compressor would construct it, works out
// which module gets which scheme, and fills the report's `targets` and
// coverage. AWQ resolution then asks it which modules are "targeted".
#ifndef WRING_MAPPING_CHECK_QUANTIZATION_STEP_H_
#define WRING_MAPPING_CHECK_QUANTIZATION_STEP_H_

#include <vector>

#include "absl/status/status.h"
#include "mapping/proto/recipe.pb.h"
#include "mapping/proto/report.pb.h"
#include "mapping/quantization/apply.h"
#include "mapping/tree/module_tree.h"

namespace wring {
namespace mapping {

class QuantizationStep {
 public:
  // Errors are unusable input only (a target or ignore entry that is not a
  // valid pattern, an unknown preset name); what llm-compressor would raise
  // becomes an error diagnostic.
  absl::Status Run(const ModuleTree& tree, const recipe::Recipe& recipe,
                   report::CheckReport* report);

  // hasattr(module, "quantization_scheme") after every modifier initialized.
  const std::vector<bool>& targeted() const { return targeted_; }
  bool WeightStrategyIsTensor(int module) const;
  const std::vector<report::Diagnostic>& diagnostics() const { return diagnostics_; }

 private:
  SchemeAssignments assignments_;
  std::vector<bool> targeted_;
  std::vector<report::Diagnostic> diagnostics_;
};

// A one-line description of a scheme for people: "int4 group(128) symmetric
// weights; int8 token dynamic inputs".
std::string DescribeScheme(const QuantizationScheme& scheme);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_CHECK_QUANTIZATION_STEP_H_
