// The quantization part of `wring check`: validates every QuantizationMixin
// modifier of the recipe as llm-compressor would construct it, works out
// which module gets which scheme, and fills the report's `targets` and
// coverage. Each modifier's group-size divisibility check is reported with
// a fix; the rest of the check (AWQ's "targeted" layers, duo scaling) then
// sees the schemes as they would be once that fix (the listed layers added
// to `ignore`) is applied.
#ifndef WRING_MAPPING_CHECK_QUANTIZATION_STEP_H_
#define WRING_MAPPING_CHECK_QUANTIZATION_STEP_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "mapping/check/diagnostic_list.h"
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
  // goes to `diagnostics`.
  absl::Status Run(const ModuleTree& tree, const recipe::Recipe& recipe,
                   report::CheckReport* report, DiagnosticList* diagnostics);

  // hasattr(module, "quantization_scheme") after every modifier initialized,
  // with the divisibility fixes applied.
  const std::vector<bool>& targeted() const { return targeted_; }
  bool WeightStrategyIsTensor(int module) const;
  // Whether any QuantizationMixin modifier constructed without error.
  bool has_quantization() const { return has_quantization_; }

 private:
  SchemeAssignments fixed_;  // with every divisibility fix applied
  std::vector<bool> targeted_;
  bool has_quantization_ = false;
};

// A one-line description of a scheme for people: "int4 group(128) symmetric
// weights; int8 token dynamic inputs".
std::string DescribeScheme(const QuantizationScheme& scheme);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_CHECK_QUANTIZATION_STEP_H_
