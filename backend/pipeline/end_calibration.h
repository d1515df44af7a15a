// QuantizationMixin.end_calibration for one decoder layer: every quantizer
// freezes (weight qparams from the weights the modifiers left, activation
// and kv-cache qparams from what the calibration pass observed), and from
// then on the layer computes quantized.
//
// Data-parallel workers compute each Linear's weight qparams once, on the
// rank that owns the module (greedy bin packing by weight size, as
// llm-compressor's distributed QuantizationModifier), and broadcast them;
// every rank then freezes with the same qparams. Activation statistics must
// have been combined first (sync_activation_statistics.h).
#ifndef WRING_BACKEND_PIPELINE_END_CALIBRATION_H_
#define WRING_BACKEND_PIPELINE_END_CALIBRATION_H_

#include "absl/status/status.h"
#include "backend/distributed/collectives.h"
#include "backend/model/causal_lm.h"
#include "backend/pipeline/initialize_quantization.h"

namespace wring {
namespace backend {
namespace pipeline {

// Freezes every quantizer of the layer; `weights` are the layer's final
// parameters (after AWQ's smoothing, say).
absl::Status EndCalibration(LayerQuantizers& quantizers, const model::Weights& weights);
// The same across data-parallel workers (weight qparams module-parallel);
// `layer` names it in messages.
absl::Status EndCalibration(LayerQuantizers& quantizers, const model::Weights& weights,
                            distributed::Collectives& collectives, int layer);

// After EndCalibration: hooks that fake-quantize what reaches each
// quantized module (inputs, keys and values), as the compressed model
// computes. Failures land in quantizers.hook_error.
model::LayerHooks QuantizedHooks(LayerQuantizers& quantizers);

}  // namespace pipeline
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_PIPELINE_END_CALIBRATION_H_
