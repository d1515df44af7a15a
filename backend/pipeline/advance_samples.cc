#include "backend/pipeline/advance_samples.h"

#include <utility>

#include "backend/interrupt/interrupt.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace pipeline {

absl::Status AdvanceSamples(model::CausalLm& model, int layer, const model::Weights& weights,
                            std::vector<torch::Tensor>& hidden, finite::PassDescription pass, const char* stage,
                            Progress& progress) {
  const int total = static_cast<int>(hidden.size());
  for (const auto& [begin, end] : model::StackableRuns(hidden)) {
    WRING_RETURN_IF_ERROR(interrupt::CheckNotInterrupted());
    const std::vector<torch::Tensor> inputs(hidden.begin() + begin, hidden.begin() + end);
    WRING_ASSIGN_OR_RETURN(std::vector<torch::Tensor> outputs,
                           model.DecoderLayerForwardSamples(layer, weights, inputs));
    for (size_t i = begin; i < end; ++i) {
      pass.sample = static_cast<int>(i);
      WRING_RETURN_IF_ERROR(
          finite::CheckLayerOutput(model, layer, weights, hidden[i], outputs[i - begin], {}, pass));
      hidden[i] = std::move(outputs[i - begin]);
      progress.Sample(layer, stage, static_cast<int>(i) + 1, total);
    }
  }
  return absl::OkStatus();
}

}  // namespace pipeline
}  // namespace backend
}  // namespace wring
