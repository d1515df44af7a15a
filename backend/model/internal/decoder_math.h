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
// A float32 `weight` holding the dtype's values gives the same result
// without the conversion. On a CPU with AMX tiles a bf16 product takes the
// same float32 sums from the tiles instead (cpu_kernels/bf16_linear.h).
torch::Tensor Linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias);
// Whether Linear computes with this weight through a float32 copy of it
// (a CPU half-precision weight the AMX tiles do not take).
bool LinearConvertsToFloat32(const torch::Tensor& weight);
// Whether Linear and MatMul compute `t`'s dtype through float32 BLAS.
bool IsCpuHalfPrecision(const torch::Tensor& t);
torch::Tensor MatMul(const torch::Tensor& a, const torch::Tensor& b);

// LlamaRMSNorm: x * rsqrt(mean(x^2) + eps) in float32, cast back to x's
// dtype, then times `weight`.
torch::Tensor RmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps);
// The zero-centred RMSNorm of Gemma / Qwen3-Next / Qwen3.5: the float32
// normalized x times (1 + weight) in float32, then cast to x's dtype.
torch::Tensor OffsetRmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps);
// The config's style.
torch::Tensor Norm(NormStyle style, const torch::Tensor& x, const torch::Tensor& weight, double eps);
// Gated DeltaNet's output norm: RmsNorm(x) (weight * normalized.to(dtype)),
// times silu(gate) in float32, cast to x's dtype.
torch::Tensor GatedRmsNorm(const torch::Tensor& x, const torch::Tensor& gate, const torch::Tensor& weight, double eps);

// The activation in float32, rounded once to x's dtype (what PyTorch 2.x
// does for half-precision inputs; LibTorch 1.13 rounds after every step).
torch::Tensor Activate(Activation activation, const torch::Tensor& x);

// The float32 inverse frequencies [rotary_dim / 2] of `rope` for sequences
// of `length` (transformers' rope init functions: default, linear, llama3,
// longrope, whose short factors apply up to original_max_position_embeddings
// and long ones beyond), on CPU.
torch::Tensor RopeInverseFrequencies(const Rope& rope, int64_t length);
// Full-attention layers' frequencies for short sequences.
torch::Tensor RopeInverseFrequencies(const ModelConfig& config);

// cos and sin tables [T, rotary_dim] for positions 0..T-1, computed in
// float32, multiplied by `attention_factor` and cast to `dtype`, as
// LlamaRotaryEmbedding.forward returns them.
std::pair<torch::Tensor, torch::Tensor> RopeTables(const torch::Tensor& inverse_frequencies, int64_t length,
                                                   torch::Dtype dtype, torch::Device device,
                                                   double attention_factor = 1.0);

// apply_rotary_pos_emb for one of q / k: x [B, heads, T, head_dim]; with
// tables narrower than head_dim only the leading dims rotate (partial RoPE).
torch::Tensor ApplyRope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

// eager_attention_forward with a causal (optionally sliding-window) mask:
// query [B, heads, T, D], key/value [B, kv_heads, T, D] -> [B, T, heads * D].
// Scores are computed in the query dtype, scaled, softmaxed in float32 and
// cast back before multiplying the values. Heads are processed in groups so
// the float32 score block stays under `max_score_bytes` (at least one kv
// head's worth) for long sequences; the result does not depend on it. With
// `softcap`, scores become tanh(scores / softcap) * softcap before masking.
// A bf16 model without a softcap on a CPU with AMX tiles takes
// attention_on_tiles.h's path: the same steps, the products summed as the
// Linears' are.
inline constexpr int64_t kDefaultMaxScoreBytes = int64_t{256} << 20;
torch::Tensor CausalAttention(const torch::Tensor& query, const torch::Tensor& key, const torch::Tensor& value,
                              double scaling, std::optional<int64_t> sliding_window,
                              int64_t max_score_bytes = kDefaultMaxScoreBytes,
                              std::optional<double> softcap = std::nullopt);

}  // namespace internal
}  // namespace model
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_MODEL_INTERNAL_DECODER_MATH_H_
