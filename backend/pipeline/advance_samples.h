// One decoder layer, without hooks, over a stream of samples that lives from
// layer to layer: the calibration stream's propagation pass and the quality
// report's original stream. Each sample is replaced by the layer's output
// for it, checked finite.
#ifndef WRING_BACKEND_PIPELINE_ADVANCE_SAMPLES_H_
#define WRING_BACKEND_PIPELINE_ADVANCE_SAMPLES_H_

#include <torch/torch.h>

#include <vector>

#include "absl/status/status.h"
#include "backend/finite/layer_checks.h"
#include "backend/model/causal_lm.h"
#include "backend/pipeline/progress.h"

namespace wring {
namespace backend {
namespace pipeline {

// Samples that stack (model::StackableRuns) share the feed-forward block's
// matrix products (CausalLm::DecoderLayerForwardSamples). `pass` names the
// pass in a non-finite output's error (its `sample` is set per sample);
// `stage` is the progress line's.
absl::Status AdvanceSamples(model::CausalLm& model, int layer, const model::Weights& weights,
                            std::vector<torch::Tensor>& hidden, finite::PassDescription pass, const char* stage,
                            Progress& progress);

}  // namespace pipeline
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_PIPELINE_ADVANCE_SAMPLES_H_
