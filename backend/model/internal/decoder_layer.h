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
// The layer's parts, as AWQ runs them for its loss: self_attn on the
// input_layernorm output, mlp on the post_attention_layernorm output, and a
// single Linear ("self_attn.o_proj", ...) on its input.
absl::StatusOr<torch::Tensor> RunAttention(const ModelConfig& config, int layer, const Weights& weights,
                                           const torch::Tensor& normed, const LayerHooks& hooks,
                                           const torch::Tensor& inverse_frequencies);
absl::StatusOr<torch::Tensor> RunMlp(const ModelConfig& config, int layer, const Weights& weights,
                                     const torch::Tensor& normed, const LayerHooks& hooks);
absl::StatusOr<torch::Tensor> RunLinear(const ModelConfig& config, int layer, const Weights& weights,
                                        const std::string& module, const torch::Tensor& input,
                                        const LayerHooks& hooks);

absl::StatusOr<torch::Tensor> RunDecoderLayer(const ModelConfig& config, int layer, const Weights& weights,
                                              const torch::Tensor& hidden, const LayerHooks& hooks,
                                              const torch::Tensor& inverse_frequencies);

}  // namespace internal
}  // namespace model
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_MODEL_INTERNAL_DECODER_LAYER_H_
