// The report `wring compress` ends with: how much each decoder layer's output
// moved under quantization and what that did to perplexity on held-out
// samples. It is printed and saved as wring_quality.json in the checkpoint,
// so a bad run is caught before the model is deployed.
#ifndef WRING_BACKEND_JOB_QUALITY_REPORT_H_
#define WRING_BACKEND_JOB_QUALITY_REPORT_H_

#include <string>

#include "backend/pipeline/compression_plan.h"
#include "backend/pipeline/calibration_result.h"
#include "mapping/base/json.h"

namespace wring {
namespace backend {
namespace job {

struct QualityReport {
  mapping::Json json;
  std::string text;
};

QualityReport BuildQualityReport(const pipeline::CalibrationResult& result,
                                 const pipeline::CompressionPlan& plan, double elapsed_seconds);

}  // namespace job
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_JOB_QUALITY_REPORT_H_
