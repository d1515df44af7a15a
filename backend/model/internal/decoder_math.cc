#include "backend/model/internal/decoder_math.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "backend/cpu_kernels/bf16_linear.h"
#include "backend/cpu_kernels/parallel_for.h"
#include "backend/cpu_kernels/rounding.h"
#include "backend/model/internal/attention_on_tiles.h"

namespace wring {
namespace backend {
namespace model {
namespace internal {
namespace {

// repeat_kv: [B, kv_heads, T, D] -> [B, kv_heads * n_rep, T, D], each kv head
// repeated n_rep times in a row.
torch::Tensor RepeatKv(const torch::Tensor& x, int64_t n_rep) {
  if (n_rep == 1) return x;
  const int64_t batch = x.size(0), heads = x.size(1), length = x.size(2), dim = x.size(3);
  return x.unsqueeze(2).expand({batch, heads, n_rep, length, dim}).reshape({batch, heads * n_rep, length, dim});
}

torch::Tensor RotateHalf(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.slice(-1, half), x.slice(-1, 0, half)}, -1);
}

// The eager path's steps from the float32 products Q K^T to the softmax's
// input, in place on a CPU half-precision model's scores held as float32
// values: each step rounded to the dtype (R) as its own tensor would be
// (scores.to(dtype), * scaling in float32, .to(dtype)), masked to -inf.
// One pass where the tensor operations took five over [B, H, T, T].
template <typename R>
void RoundScaleAndMask(torch::Tensor& scores, float scaling, std::optional<int64_t> sliding_window) {
  const int64_t length = scores.size(-1), rows = scores.numel() / length;
  float* data = scores.data_ptr<float>();
  at::parallel_for(0, rows, 64, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t i = row % length;  // the query's position
      // Allowed keys j: j <= i and, with a window, j > i - window.
      const int64_t first = sliding_window.has_value() ? std::max<int64_t>(0, i - *sliding_window + 1) : 0;
      float* s = data + row * length;
      for (int64_t j = 0; j < length; ++j) s[j] = R::Round(R::Round(s[j]) * scaling);
      for (int64_t j = 0; j < first; ++j) s[j] = -std::numeric_limits<float>::infinity();
      for (int64_t j = i + 1; j < length; ++j) s[j] = -std::numeric_limits<float>::infinity();
    }
  });
}

// probabilities.to(dtype), kept as float32 values for the next product.
template <typename R>
void RoundInPlace(torch::Tensor& values) {
  float* data = values.data_ptr<float>();
  at::parallel_for(0, values.numel(), 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) data[k] = R::Round(data[k]);
  });
}

// CausalAttention's scores -> probabilities for a CPU bf16 / fp16 model
// without a softcap: the same values as the tensor operations, fewer passes.
torch::Tensor FusedProbabilities(const torch::Tensor& q, const torch::Tensor& k, float scaling,
                                 std::optional<int64_t> sliding_window) {
  torch::Tensor scores = torch::matmul(q.to(torch::kFloat), k.to(torch::kFloat).transpose(2, 3)).contiguous();
  const bool bf16 = q.scalar_type() == torch::kBFloat16;
  if (bf16) {
    RoundScaleAndMask<cpu_kernels::RoundBf16>(scores, scaling, sliding_window);
  } else {
    RoundScaleAndMask<cpu_kernels::RoundHalf>(scores, scaling, sliding_window);
  }
  // softmax(x, dtype=float32) converts x to float32 first: the same input.
  torch::Tensor probabilities = torch::softmax(scores, -1);
  if (bf16) {
    RoundInPlace<cpu_kernels::RoundBf16>(probabilities);
  } else {
    RoundInPlace<cpu_kernels::RoundHalf>(probabilities);
  }
  return probabilities;
}

}  // namespace

bool IsCpuHalfPrecision(const torch::Tensor& t) {
  return t.device().is_cpu() && (t.scalar_type() == torch::kBFloat16 || t.scalar_type() == torch::kHalf);
}

namespace {

// Whether the bf16 kernel (AMX tiles or AVX512-BF16) takes `t` as a Linear
// operand (both must).
bool TilesTake(const torch::Tensor& t) {
  return t.scalar_type() == torch::kBFloat16 && t.device().is_cpu() && cpu_kernels::HasBf16Linear();
}

}  // namespace

bool LinearConvertsToFloat32(const torch::Tensor& weight) {
  return IsCpuHalfPrecision(weight) && !TilesTake(weight);
}

torch::Tensor Linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  if (!IsCpuHalfPrecision(x)) return torch::linear(x, weight, bias);
  if (TilesTake(x) && TilesTake(weight) && x.dim() >= 1) {
    absl::StatusOr<torch::Tensor> sums =
        cpu_kernels::Bf16LinearToFloat32(x.reshape({-1, x.size(-1)}), weight, bias);
    if (sums.ok()) {
      std::vector<int64_t> sizes = x.sizes().vec();
      sizes.back() = weight.size(0);
      return sums->to(torch::kBFloat16).view(sizes);
    }
  }
  // transformers adds the bias inside the same addmm, before rounding.
  return torch::linear(x.to(torch::kFloat), weight.to(torch::kFloat),
                       bias.defined() ? bias.to(torch::kFloat) : bias)
      .to(x.scalar_type());
}

torch::Tensor MatMul(const torch::Tensor& a, const torch::Tensor& b) {
  if (!IsCpuHalfPrecision(a)) return torch::matmul(a, b);
  return torch::matmul(a.to(torch::kFloat), b.to(torch::kFloat)).to(a.scalar_type());
}

torch::Tensor RmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  const torch::Tensor x32 = x.to(torch::kFloat);
  const torch::Tensor variance = x32.pow(2).mean(-1, /*keepdim=*/true);
  const torch::Tensor normalized = x32 * torch::rsqrt(variance + eps);
  return weight * normalized.to(x.scalar_type());
}

torch::Tensor OffsetRmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  const torch::Tensor x32 = x.to(torch::kFloat);
  const torch::Tensor normalized = x32 * torch::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return (normalized * (weight.to(torch::kFloat) + 1.0)).to(x.scalar_type());
}

torch::Tensor Norm(NormStyle style, const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  switch (style) {
    case NormStyle::kOffsetWeight:
      return OffsetRmsNorm(x, weight, eps);
    case NormStyle::kFloat32Weight: {
      const torch::Tensor x32 = x.to(torch::kFloat);
      const torch::Tensor normalized = x32 * torch::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps);
      return (normalized * weight.to(torch::kFloat)).to(x.scalar_type());
    }
    case NormStyle::kWeight:
      break;
  }
  return RmsNorm(x, weight, eps);
}

torch::Tensor GatedRmsNorm(const torch::Tensor& x, const torch::Tensor& gate, const torch::Tensor& weight,
                           double eps) {
  const torch::Tensor normed = RmsNorm(x, weight, eps);
  return (normed * torch::silu(gate.to(torch::kFloat))).to(x.scalar_type());
}

torch::Tensor Activate(Activation activation, const torch::Tensor& x) {
  const torch::Tensor x32 = x.to(torch::kFloat);
  switch (activation) {
    case Activation::kGelu:
      return torch::gelu(x32).to(x.scalar_type());
    case Activation::kGeluTanh:
      return torch::gelu(x32, "tanh").to(x.scalar_type());
    case Activation::kSilu:
      break;
  }
  return torch::silu(x32).to(x.scalar_type());
}

torch::Tensor RopeInverseFrequencies(const ModelConfig& config) {
  return RopeInverseFrequencies(Rope{config.rope_theta, config.rope_scaling, config.rotary_dim}, 1);
}

torch::Tensor RopeInverseFrequencies(const Rope& rope, int64_t length) {
  const int64_t dim = rope.rotary_dim;
  const torch::Tensor exponents = torch::arange(0, dim, 2, torch::kLong).to(torch::kFloat) / dim;
  const RopeScaling& scaling = rope.scaling;
  if (scaling.rope_type == "longrope") {
    // 1.0 / (ext_factors * base ** exponents), the long factors beyond the
    // pretraining length (longrope_frequency_update).
    const std::vector<double>& factors =
        length > scaling.original_max_position_embeddings ? scaling.long_factor : scaling.short_factor;
    const torch::Tensor ext = torch::tensor(factors, torch::kDouble).to(torch::kFloat);
    return torch::reciprocal(ext * torch::pow(rope.theta, exponents));
  }
  // 1.0 / (base ** exponents): Python evaluates scalar / tensor as
  // reciprocal(tensor) * scalar, and the same holds for the divisions below.
  torch::Tensor inverse = torch::reciprocal(torch::pow(rope.theta, exponents));
  if (scaling.rope_type == "linear") return inverse / scaling.factor;
  if (scaling.rope_type != "llama3") return inverse;

  // transformers' _compute_llama3_parameters.
  const double old_context = static_cast<double>(scaling.original_max_position_embeddings);
  const double low_freq_wavelen = old_context / scaling.low_freq_factor;
  const double high_freq_wavelen = old_context / scaling.high_freq_factor;
  const torch::Tensor wavelen = torch::reciprocal(inverse) * (2 * M_PI);
  torch::Tensor scaled = torch::where(wavelen > low_freq_wavelen, inverse / scaling.factor, inverse);
  const torch::Tensor smooth = (torch::reciprocal(wavelen) * old_context - scaling.low_freq_factor) /
                               (scaling.high_freq_factor - scaling.low_freq_factor);
  const torch::Tensor smoothed = (1 - smooth) * scaled / scaling.factor + smooth * scaled;
  const torch::Tensor medium = torch::logical_and(torch::logical_not(wavelen < high_freq_wavelen),
                                                  torch::logical_not(wavelen > low_freq_wavelen));
  return torch::where(medium, smoothed, scaled);
}

std::pair<torch::Tensor, torch::Tensor> RopeTables(const torch::Tensor& inverse_frequencies, int64_t length,
                                                   torch::Dtype dtype, torch::Device device, double attention_factor) {
  const torch::Tensor positions = torch::arange(length, torch::TensorOptions().dtype(torch::kLong).device(device))
                                      .to(torch::kFloat);
  const torch::Tensor inverse = inverse_frequencies.to(device, torch::kFloat);
  // The outer product transformers computes as a matmul with inner size 1.
  const torch::Tensor freqs = positions.unsqueeze(1) * inverse.unsqueeze(0);  // [T, D/2]
  const torch::Tensor emb = torch::cat({freqs, freqs}, -1);
  if (attention_factor == 1.0) return {emb.cos().to(dtype), emb.sin().to(dtype)};
  const float factor = static_cast<float>(attention_factor);
  return {(emb.cos() * factor).to(dtype), (emb.sin() * factor).to(dtype)};
}

torch::Tensor ApplyRope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const int64_t rotary_dim = cos.size(-1);
  if (rotary_dim == x.size(-1)) return x * cos + RotateHalf(x) * sin;
  const torch::Tensor rotated = x.slice(-1, 0, rotary_dim);
  return torch::cat({rotated * cos + RotateHalf(rotated) * sin, x.slice(-1, rotary_dim)}, -1);
}

torch::Tensor CausalAttention(const torch::Tensor& query, const torch::Tensor& key, const torch::Tensor& value,
                              double scaling, std::optional<int64_t> sliding_window, int64_t max_score_bytes,
                              std::optional<double> softcap) {
  const int64_t batch = query.size(0), heads = query.size(1), length = query.size(2), dim = query.size(3);
  const int64_t kv_heads = key.size(1);
  const int64_t n_rep = heads / kv_heads;
  const torch::Dtype dtype = query.scalar_type();
  if (!softcap.has_value() && AttentionTilesTake(query, key, value)) {
    return CausalAttentionOnTiles(query, key, value, scaling, sliding_window);
  }

  // Allowed (query i, key j): j <= i and, with a window, j > i - window
  // (masking_utils' causal_mask_function and sliding_window_overlay).
  const auto index_options = torch::TensorOptions().dtype(torch::kLong).device(query.device());
  const torch::Tensor rows = torch::arange(length, index_options).unsqueeze(1);
  const torch::Tensor cols = torch::arange(length, index_options).unsqueeze(0);
  torch::Tensor allowed = cols <= rows;
  if (sliding_window.has_value()) allowed = torch::logical_and(allowed, cols > rows - *sliding_window);
  const torch::Tensor masked = torch::logical_not(allowed);

  const int64_t bytes_per_kv_head = std::max<int64_t>(1, batch * n_rep * length * length * 4);
  const int64_t kv_per_block = std::clamp<int64_t>(max_score_bytes / bytes_per_kv_head, 1, kv_heads);
  std::vector<torch::Tensor> outputs;
  for (int64_t start = 0; start < kv_heads; start += kv_per_block) {
    const int64_t end = std::min(kv_heads, start + kv_per_block);
    const torch::Tensor q = query.slice(1, start * n_rep, end * n_rep);
    const torch::Tensor k = RepeatKv(key.slice(1, start, end), n_rep);
    const torch::Tensor v = RepeatKv(value.slice(1, start, end), n_rep);
    if (IsCpuHalfPrecision(q) && !softcap.has_value()) {
      const torch::Tensor probabilities = FusedProbabilities(q, k, static_cast<float>(scaling), sliding_window);
      outputs.push_back(torch::matmul(probabilities, v.to(torch::kFloat)).to(dtype));
      continue;
    }
    torch::Tensor scores = MatMul(q, k.transpose(2, 3));
    // `scores * scaling` in PyTorch multiplies in float32 (the op-math type
    // of bf16/fp16 too) by the float32-rounded scalar; spelt out so that
    // every LibTorch version does the same.
    scores = (scores.to(torch::kFloat) * static_cast<float>(scaling)).to(dtype);
    if (softcap.has_value()) {
      // Three ops, each rounded to the dtype, as transformers writes them.
      const float cap = static_cast<float>(*softcap);
      scores = (scores.to(torch::kFloat) / cap).to(dtype);
      scores = torch::tanh(scores.to(torch::kFloat)).to(dtype);
      scores = (scores.to(torch::kFloat) * cap).to(dtype);
    }
    // transformers adds finfo.min where masked; after the float32 softmax
    // that is exactly 0, as -inf is.
    scores = scores.masked_fill(masked, -std::numeric_limits<float>::infinity());
    const torch::Tensor probabilities = torch::softmax(scores, -1, torch::kFloat).to(dtype);
    outputs.push_back(MatMul(probabilities, v));
  }
  torch::Tensor output = outputs.size() == 1 ? outputs[0] : torch::cat(outputs, 1);
  return output.transpose(1, 2).contiguous().reshape({batch, length, heads * dim});
}

}  // namespace internal
}  // namespace model
}  // namespace backend
}  // namespace wring
