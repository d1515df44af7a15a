// The tensor math of Gated DeltaNet, op for op as transformers' torch
// fallbacks (causal_conv1d_fn, torch_chunk_gated_delta_rule), which is what
// runs without the flash-linear-attention kernels.
#ifndef WRING_BACKEND_MODEL_INTERNAL_GATED_DELTA_RULE_H_
#define WRING_BACKEND_MODEL_INTERNAL_GATED_DELTA_RULE_H_

#include <torch/torch.h>

#include <cstdint>

namespace wring {
namespace backend {
namespace model {
namespace internal {

// Depthwise causal convolution of x [B, C, T] with weight [C, 1, K] (zero
// history), then SiLU; computed in float32 and rounded once to x's dtype.
torch::Tensor CausalConv1dSilu(const torch::Tensor& x, const torch::Tensor& weight);

// The gated delta rule over whole sequences with a zero initial state,
// chunked along time as transformers does (chunk_size 64, queries and keys
// L2-normalized, queries scaled by key_head_dim^-0.5), in float32:
//   S_t = exp(g_t) S_{t-1} + beta_t k_t (v_t - exp(g_t) S_{t-1}^T k_t)^T,
//   o_t = S_t^T q_t.
// query, key [B, T, H, dk]; value [B, T, H, dv]; decay (g, log space, <= 0)
// and beta [B, T, H]. Returns [B, T, H, dv] in query's dtype.
torch::Tensor ChunkGatedDeltaRule(const torch::Tensor& query, const torch::Tensor& key, const torch::Tensor& value,
                                  const torch::Tensor& decay, const torch::Tensor& beta, int64_t chunk_size = 64);

// The same recurrence one token at a time (transformers'
// torch_recurrent_gated_delta_rule): a slower, independent formulation,
// for tests.
torch::Tensor RecurrentGatedDeltaRule(const torch::Tensor& query, const torch::Tensor& key,
                                      const torch::Tensor& value, const torch::Tensor& decay,
                                      const torch::Tensor& beta);

}  // namespace internal
}  // namespace model
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_MODEL_INTERNAL_GATED_DELTA_RULE_H_
