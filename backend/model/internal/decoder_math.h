// The tensor math of a transformers decoder layer, op for op.
//
// Each function repeats the sequence of LibTorch operations (and the dtypes
// they run in) of the corresponding transformers code, so that results agree
// to rounding: RMSNorm in float32, RoPE tables in float32 cast to the model
// dtype, eager attention with a float32 softmax. Callers validate shapes;
// these throw c10::Error on misuse.
#ifndef WRING_BACKEND_MODEL_INTERNAL_DECODER_MATH_H_
#define WRING_BACKEND_MODEL_INTERNAL_DECODER_MATH_H_

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <utility>

#include "backend/model/config.h"

namespace wring {
namespace backend {
namespace model {
namespace internal {

// torch::linear / torch::matmul with the same result. On the CPU, bf16 and
// fp16 products are computed by float32 BLAS and rounded once to the input
// dtype: LibTorch's CPU half-precision GEMM also accumulates in float32 and
// rounds once, but its own kernel is ~20x slower than BLAS.
torch::Tensor Linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias);
torch::Tensor MatMul(const torch::Tensor& a, const torch::Tensor& b);

// LlamaRMSNorm: x * rsqrt(mean(x^2) + eps) in float32, cast back to x's
// dtype, then times `weight`.
torch::Tensor RmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// The float32 inverse frequencies [head_dim / 2] of the config's RoPE type
// (transformers' rope init functions: default, linear, llama3), on CPU.
torch::Tensor RopeInverseFrequencies(const ModelConfig& config);

// cos and sin tables [T, head_dim] for positions 0..T-1, computed in float32
// and cast to `dtype`, as LlamaRotaryEmbedding.forward returns them.
std::pair<torch::Tensor, torch::Tensor> RopeTables(const torch::Tensor& inverse_frequencies, int64_t length,
                                                   torch::Dtype dtype, torch::Device device);

// apply_rotary_pos_emb for one of q / k: x [B, heads, T, head_dim].
torch::Tensor ApplyRope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

// eager_attention_forward with a causal (optionally sliding-window) mask:
// query [B, heads, T, D], key/value [B, kv_heads, T, D] -> [B, T, heads * D].
// Scores are computed in the query dtype, scaled, softmaxed in float32 and
// cast back before multiplying the values. Heads are processed in groups so
// the float32 score block stays under `max_score_bytes` (at least one kv
// head's worth) for long sequences; the result does not depend on it.
inline constexpr int64_t kDefaultMaxScoreBytes = int64_t{256} << 20;
torch::Tensor CausalAttention(const torch::Tensor& query, const torch::Tensor& key, const torch::Tensor& value,
                              double scaling, std::optional<int64_t> sliding_window,
                              int64_t max_score_bytes = kDefaultMaxScoreBytes);

}  // namespace internal
}  // namespace model
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_MODEL_INTERNAL_DECODER_MATH_H_
