// QuantizationMixin.initialize_quantization for one decoder layer: every
// planned module of the layer gets its quantizer (scheme and observers),
// still unobserved. The schemes themselves were attached to the whole
// model's module tree before any weight was loaded (compression_plan.h);
// the sequential pipeline materializes them a layer at a time so memory
// holds one layer's observers.
//
// The lifecycle of a layer's quantizers, in the files named for each step:
//   InitializeQuantization  (this file)     create them
//   StartCalibration        (start_calibration.h) hooks that observe
//   EndCalibration          (end_calibration.h)   freeze, compress
#ifndef WRING_BACKEND_PIPELINE_INITIALIZE_QUANTIZATION_H_
#define WRING_BACKEND_PIPELINE_INITIALIZE_QUANTIZATION_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "backend/model/causal_lm.h"
#include "backend/model/config.h"
#include "backend/pipeline/compression_plan.h"
#include "backend/pipeline/module_quantizer.h"

namespace wring {
namespace backend {
namespace pipeline {

// The quantizers of one decoder layer, keyed by module name.
struct LayerQuantizers {
  std::map<std::string, std::unique_ptr<LinearQuantizer>> linears;
  std::map<std::string, std::unique_ptr<KvCacheQuantizer>> kv_caches;
  // Hooks cannot return a Status: the first failure inside one is kept
  // here and checked after every forward.
  absl::Status hook_error;

  void Note(const absl::Status& status) {
    if (hook_error.ok() && !status.ok()) hook_error = status;
  }
};

// The quantizers of decoder layer `layer`, whose loaded parameters are
// `weights`. NotFound when a planned module has no weight.
absl::StatusOr<LayerQuantizers> InitializeQuantization(const CompressionPlan& plan,
                                                       const model::ModelConfig& config, int layer,
                                                       const model::Weights& weights);

}  // namespace pipeline
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_PIPELINE_INITIALIZE_QUANTIZATION_H_
