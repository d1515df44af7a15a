// The AWQ part of `wring check`: which mappings AWQModifier would use
// (recipe, dynamic builder, registry or default), how they resolve on the
// model given the quantization targets, and what llm-compressor would raise
// (on_initialize: mapping inference; on_calibration_start: resolution and
// the duo-scaling check). Runs past earlier errors on the targets their
// fixes leave, and says so.
#ifndef WRING_MAPPING_CHECK_AWQ_STEP_H_
#define WRING_MAPPING_CHECK_AWQ_STEP_H_

#include <vector>

#include "absl/status/status.h"
#include "mapping/check/diagnostic_list.h"
#include "mapping/check/quantization_step.h"
#include "mapping/model/model_input.h"
#include "mapping/proto/recipe.pb.h"
#include "mapping/proto/report.pb.h"

namespace wring {
namespace mapping {

struct AwqStepInput {
  const ModelInput* model = nullptr;
  const recipe::AwqModifier* awq = nullptr;
  int modifier_index = -1;  // position in the recipe
  std::string source_name;  // the recipe's, for pattern errors
  // hasattr(module, "quantization_scheme") for the resolution.
  const std::vector<bool>* targeted = nullptr;
  const QuantizationStep* quantization = nullptr;
  // Set when no quantization modifier follows: `targeted` then stands for
  // the QuantizationModifier the fix adds.
  bool targets_assumed = false;
};

// Errors are unusable input only (a mapping pattern that does not compile).
absl::Status RunAwqStep(const AwqStepInput& input, report::AwqReport* out,
                        DiagnosticList* diagnostics);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_CHECK_AWQ_STEP_H_
