// QuantizationMixin.start_calibration for one decoder layer: the hooks the
// layer's calibration pass runs with. Static input-activation and kv-cache
// observers see what reaches their module, and so does every modifier's
// LayerCalibration (AWQ's statistics, GPTQ's Hessians). Quantization stays
// disabled during calibration, as upstream keeps it: the hooks observe and
// return their input unchanged.
#ifndef WRING_BACKEND_PIPELINE_START_CALIBRATION_H_
#define WRING_BACKEND_PIPELINE_START_CALIBRATION_H_

#include <vector>

#include "backend/model/causal_lm.h"
#include "backend/pipeline/initialize_quantization.h"
#include "backend/pipeline/layer_modifier.h"

namespace wring {
namespace backend {
namespace pipeline {

// Hooks feeding `quantizers` and `modifiers` (in recipe order). Failures
// inside a hook land in quantizers.hook_error. Both must outlive the hooks.
model::LayerHooks StartCalibration(LayerQuantizers& quantizers,
                                   const std::vector<LayerCalibration*>& modifiers);

// Hooks feeding `modifiers` only, for a calibration pass that belongs to an
// earlier modifier of oneshot's "independent" pipeline (SmoothQuant's pass
// before GPTQ's): the quantizers observe in the last modifier's pass, on
// the inputs it sees. Failures still land in quantizers.hook_error.
model::LayerHooks StartModifierCalibration(LayerQuantizers& quantizers,
                                           const std::vector<LayerCalibration*>& modifiers);

}  // namespace pipeline
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_PIPELINE_START_CALIBRATION_H_
