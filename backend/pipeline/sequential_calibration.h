// llm-compressor's sequential pipeline: calibrate one decoder layer at a
// time on cached inputs, then hand its outputs to the next layer, so memory
// holds one layer's weights plus the activations of the calibration
// samples.
//
// Each layer goes through the QuantizationMixin lifecycle and the
// modifiers' events, in upstream's order:
//   1. InitializeQuantization: the layer's quantizers (schemes, observers);
//      each LayerModifier's StartLayer.
//   2. Calibrate: every calibration sample through the layer with the
//      StartCalibration hooks (quantization disabled).
//   3. Sequential epoch end: every modifier's EndLayer in recipe order
//      (AWQ smooths); if one changed the weights, a propagation pass
//      through the changed, unquantized layer gives the next layer's
//      inputs, as upstream's second pass does. With QuantizationModifier
//      alone the calibration pass's outputs are those inputs already (no
//      weight changes, quantization disabled), so it runs one pass.
//   4. EndCalibration and CompressLayer: freeze every quantizer on the
//      final weights, produce the checkpoint tensors.
//   5. Evaluate: the held-out samples through the original and the
//      compressed layer (layer_evaluation.h).
//
// A recipe with several modifiers (SmoothQuant or AWQ, then GPTQ) runs as
// oneshot's default "independent" pipeline does: each modifier has its own
// calibration pass, with its own inputs, on the model the modifiers before
// it left (GPTQ's Hessians come from the smoothed model). Steps 2-3 run once
// per modifier, in recipe order; the quantizers observe in the last one.
//
// Data-parallel (llm-compressor's distributed oneshot): every worker runs
// this same pipeline on its contiguous slice of the calibration and
// evaluation samples, holding one layer and its share of the activations.
// The workers meet through `collectives` at each layer boundary: the
// modifiers combine what they collected at their epoch end (LayerContext),
// the observers' statistics are combined (sync_activation_statistics.h),
// the weight qparams are computed module-parallel (end_calibration.h), and
// the quality measurements are summed; so every rank freezes the same
// layer. Only rank 0 keeps the checkpoint tensors (CalibrationResult.tensors
// is empty on the others).
#ifndef WRING_BACKEND_PIPELINE_SEQUENTIAL_CALIBRATION_H_
#define WRING_BACKEND_PIPELINE_SEQUENTIAL_CALIBRATION_H_

#include <vector>

#include "absl/status/statusor.h"
#include "backend/distributed/collectives.h"
#include "backend/model/causal_lm.h"
#include "backend/pipeline/calibration_result.h"
#include "backend/pipeline/compression_plan.h"
#include "backend/pipeline/layer_evaluation.h"
#include "backend/pipeline/layer_modifier.h"
#include "backend/pipeline/progress.h"
#include "backend/safetensors/spill_file.h"

namespace wring {
namespace backend {
namespace pipeline {

// Whether the run needs its calibration pass: a modifier (AWQ, ...) or a
// quantization scheme that needs activations (RequiresCalibrationData).
// Without one, the pipeline runs as llm-compressor's data-free pipeline does:
// no calibration forward at all; only the quality report's evaluation
// streams run the layers.
bool NeedsCalibrationPass(const CompressionPlan& plan,
                          const std::vector<LayerModifier*>& modifiers);

// `modifiers` in recipe order; they must outlive the call. `calibration`
// and `evaluation` are this worker's samples (every worker needs at least
// one calibration sample); `calibration` is not read when
// NeedsCalibrationPass is false (it may be empty then).
//
// With `spill`, each layer's large compressed tensors are parked in it as
// the layer finishes (CalibrationResult::tensors then holds views of the
// file), so memory holds about one decoder layer, not the compressed model.
absl::StatusOr<CalibrationResult> RunSequentialCalibration(
    model::CausalLm& model, const CompressionPlan& plan,
    const std::vector<LayerModifier*>& modifiers, const TokenSequences& calibration,
    const TokenSequences& evaluation, Progress& progress, distributed::Collectives& collectives,
    safetensors::SpillFile* spill = nullptr);
// In one process.
absl::StatusOr<CalibrationResult> RunSequentialCalibration(
    model::CausalLm& model, const CompressionPlan& plan,
    const std::vector<LayerModifier*>& modifiers, const TokenSequences& calibration,
    const TokenSequences& evaluation, Progress& progress);

}  // namespace pipeline
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_PIPELINE_SEQUENTIAL_CALIBRATION_H_
