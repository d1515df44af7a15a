// The SmoothQuant part of `wring check`: which mappings a SmoothQuantModifier
// uses on the model (the recipe's, or inferred as llm-compressor does), what
// they resolve to layer by layer, what is skipped, and the error upstream
// would raise.
#ifndef WRING_MAPPING_CHECK_SMOOTHQUANT_STEP_H_
#define WRING_MAPPING_CHECK_SMOOTHQUANT_STEP_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "mapping/model/model_input.h"
#include "mapping/proto/recipe.pb.h"
#include "mapping/proto/report.pb.h"

namespace wring {
namespace mapping {

class SmoothQuantStep {
 public:
  // Resolves `modifier` on `model` into `out`. An error status only for
  // unusable input (a recipe pattern that does not compile), naming
  // `source` and the line.
  absl::Status Run(const ModelInput& model, const std::string& source,
                   const recipe::SmoothQuantModifier& modifier, report::SmoothQuantReport* out);
  const std::vector<report::Diagnostic>& diagnostics() const { return diagnostics_; }

 private:
  std::vector<report::Diagnostic> diagnostics_;
};

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_CHECK_SMOOTHQUANT_STEP_H_
