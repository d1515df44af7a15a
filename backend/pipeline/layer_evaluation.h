// The quality report's measurements, taken as the pipeline goes: held-out
// evaluation samples travel beside the calibration samples in two streams,
// one through the original layers and one through the compressed layers,
// so each layer's own and accumulated output error and the perplexity of
// both models come without a second walk over the weights.
#ifndef WRING_BACKEND_PIPELINE_LAYER_EVALUATION_H_
#define WRING_BACKEND_PIPELINE_LAYER_EVALUATION_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "backend/distributed/collectives.h"
#include "backend/model/causal_lm.h"
#include "backend/pipeline/calibration_result.h"
#include "backend/pipeline/initialize_quantization.h"
#include "backend/pipeline/progress.h"

namespace wring {
namespace backend {
namespace pipeline {

using TokenSequences = std::vector<std::vector<int64_t>>;

class EvaluationStreams {
 public:
  // Embeds `evaluation` (may be empty: then nothing is measured). With
  // data-parallel workers, `evaluation` is this rank's share and every
  // measurement is summed over the ranks (`collectives` must outlive the
  // streams).
  static absl::StatusOr<EvaluationStreams> Start(model::CausalLm& model,
                                                 const TokenSequences& evaluation,
                                                 distributed::Collectives& collectives);

  // Layer `layer` on the original stream, through its weights as loaded.
  // Called before any modifier changes them, so that the pipeline need not
  // keep a second copy of the layer for the evaluation.
  absl::Status AdvanceOriginal(model::CausalLm& model, int layer, const model::Weights& original_weights,
                               Progress& progress);

  // Layer `layer` on the compressed stream, through `quantized_weights` with
  // the frozen quantizers' QuantizedHooks, and the errors against the
  // original stream. The layer's own error runs the compressed layer on the
  // original stream's input. AdvanceOriginal(layer) must have run.
  absl::StatusOr<LayerQuality> EvaluateLayer(model::CausalLm& model, int layer,
                                             const model::Weights& quantized_weights,
                                             LayerQuantizers& quantizers, Progress& progress);

  // Whether there is anything to evaluate.
  bool has_samples() const { return !ids_.empty(); }

  // Final norm and lm_head on both streams: the perplexities.
  absl::Status Finish(model::CausalLm& model, CalibrationResult& result);

 private:
  distributed::Collectives* collectives_ = nullptr;
  std::vector<torch::Tensor> ids_;
  std::vector<torch::Tensor> original_, compressed_;
  // The original stream's input to the layer AdvanceOriginal last ran.
  std::vector<torch::Tensor> original_inputs_;
  int advanced_layer_ = -1;
};

}  // namespace pipeline
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_PIPELINE_LAYER_EVALUATION_H_
