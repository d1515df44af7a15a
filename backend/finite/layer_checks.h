// Finite checks on a decoder layer's forward pass: the layer's output for
// every sample (one isfinite pass each), and, only when that fails, a
// second run of the layer for that sample that names the first Linear
// input or key/value state that went non-finite.
#ifndef WRING_BACKEND_FINITE_LAYER_CHECKS_H_
#define WRING_BACKEND_FINITE_LAYER_CHECKS_H_

#include <torch/torch.h>

#include <string>

#include "absl/status/status.h"
#include "backend/model/causal_lm.h"

namespace wring {
namespace backend {
namespace finite {

// What a forward pass was: "calibration sample 3", "evaluation sample 1
// through the compressed layer", ...
struct PassDescription {
  std::string pass;  // "calibration", "evaluation", ...
  int sample = 0;    // 0-based
  // Whether the layer ran quantized or with modified weights (AWQ), which
  // changes what to try.
  bool after_quantization = false;
};

// OK when `output` (the layer's output for `input` under `hooks`) is
// finite; else DATA_LOSS naming the layer, the sample, the first module
// whose input was non-finite, and what to try.
absl::Status CheckLayerOutput(model::CausalLm& model, int layer, const model::Weights& weights,
                              const torch::Tensor& input, const torch::Tensor& output,
                              const model::LayerHooks& hooks, const PassDescription& pass);

}  // namespace finite
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_FINITE_LAYER_CHECKS_H_
