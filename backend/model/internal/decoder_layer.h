// One decoder layer's forward pass (LlamaDecoderLayer and its Mistral /
// Qwen2 / Qwen3 variants) on already validated weights and hidden states.
#ifndef WRING_BACKEND_MODEL_INTERNAL_DECODER_LAYER_H_
#define WRING_BACKEND_MODEL_INTERNAL_DECODER_LAYER_H_

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "backend/model/causal_lm.h"
#include "backend/model/config.h"

namespace wring {
namespace backend {
namespace model {
namespace internal {

// `weights` must hold every parameter of DecoderLayerModules(config, layer)
// with its shape, in hidden's dtype and on its device. Errors are the hooks'
// misuse (a returned tensor of the wrong shape); LibTorch may throw.
absl::StatusOr<torch::Tensor> RunDecoderLayer(const ModelConfig& config, int layer, const Weights& weights,
                                              const torch::Tensor& hidden, const LayerHooks& hooks,
                                              const torch::Tensor& inverse_frequencies);

}  // namespace internal
}  // namespace model
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_MODEL_INTERNAL_DECODER_LAYER_H_
