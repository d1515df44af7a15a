#include "backend/gptq/internal/block_update.h"

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "backend/compat/torch_compat.h"
#include "backend/cpu_kernels/parallel_for.h"

namespace wring {
namespace backend {
namespace gptq {
namespace internal {
namespace {

// Upstream's eager gptq_block_update: fake_quantize per column with a
// per-row (channel) scale, then the rank-1 update of the rest of the block.
absl::Status UpdateWithTensorOps(Block& b, const quantize::QuantizationArgs& args) {
  quantize::QuantizationArgs channel = args;
  channel.strategy = quantize::QuantizationStrategy::kChannel;
  channel.group_size = 0;
  channel.block_rows = channel.block_cols = 0;
  const int64_t width = b.weights.size(-1);
  for (int64_t i = 0; i < width; ++i) {
    const torch::Tensor w = b.weights.select(2, i);
    quantize::QParams qparams{b.scale.select(2, i),
                              b.zero_point.defined() ? b.zero_point.select(2, i) : torch::Tensor()};
    absl::StatusOr<torch::Tensor> q = quantize::FakeQuantize(w, qparams, channel);
    if (!q.ok()) return q.status();
    const torch::Tensor hinv_row = b.hinv.select(1, i);  // [B, width]
    const torch::Tensor error = (w - *q) / hinv_row.select(1, i).unsqueeze(-1);
    b.quantized.select(2, i).copy_(*q);
    b.errors.select(2, i).copy_(error);
    b.weights.slice(2, i).sub_(error.unsqueeze(-1) * hinv_row.slice(1, i).unsqueeze(1));
  }
  return absl::OkStatus();
}

// Rounding of one value to the scale's dtype, as a tensor op in that dtype
// would round it.
template <typename ScaleType>
inline float ToScaleType(float value) {
  return static_cast<float>(ScaleType(value));
}
template <>
inline float ToScaleType<float>(float value) {
  return value;
}

inline float RoundToFloat8(float value) {
  return compat::FloatFromFloat8E4M3(compat::Float8E4M3FromFloat(value));
}

template <typename ScaleType, bool kFloat8, bool kZeroPoint>
void RunRows(Block& b, float q_min, float q_max) {
  const int64_t batch = b.weights.size(0);
  const int64_t rows = b.weights.size(1);
  const int64_t width = b.weights.size(2);
  float* weights = b.weights.data_ptr<float>();
  float* quantized = b.quantized.data_ptr<float>();
  float* errors = b.errors.data_ptr<float>();
  const float* hinv = b.hinv.data_ptr<float>();
  const float* scale = b.scale.data_ptr<float>();
  const float* zero_point = kZeroPoint ? b.zero_point.data_ptr<float>() : nullptr;
  at::parallel_for(0, batch * rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const float* h = hinv + (row / rows) * width * width;
      float* w = weights + row * width;
      const float* s = scale + row * width;
      for (int64_t i = 0; i < width; ++i) {
        // _quantize_dequantize: x / scale (+ zp) in float32, clamp, round,
        // then back in the scale's dtype.
        float scaled = w[i] / s[i];
        if (kZeroPoint) scaled = scaled + zero_point[row * width + i];
        const float clamped = std::min(std::max(scaled, q_min), q_max);
        float value = kFloat8 ? RoundToFloat8(clamped) : std::nearbyint(clamped);
        value = ToScaleType<ScaleType>(value);
        if (kZeroPoint) {
          value = ToScaleType<ScaleType>(value - ToScaleType<ScaleType>(zero_point[row * width + i]));
        }
        const float q = ToScaleType<ScaleType>(value * s[i]);
        const float error = (w[i] - q) / h[i * width + i];
        quantized[row * width + i] = q;
        errors[row * width + i] = error;
        const float* h_row = h + i * width;
        for (int64_t j = i + 1; j < width; ++j) w[j] = w[j] - error * h_row[j];
      }
    }
  });
}

template <typename ScaleType>
void RunRowsFor(Block& b, bool float8, float q_min, float q_max) {
  const bool zp = b.zero_point.defined();
  if (float8) {
    zp ? RunRows<ScaleType, true, true>(b, q_min, q_max) : RunRows<ScaleType, true, false>(b, q_min, q_max);
  } else {
    zp ? RunRows<ScaleType, false, true>(b, q_min, q_max) : RunRows<ScaleType, false, false>(b, q_min, q_max);
  }
}

}  // namespace

absl::Status UpdateBlock(Block& block, const quantize::QuantizationArgs& args, bool force_tensor_path) {
  const torch::Dtype scale_dtype = block.scale.scalar_type();
  const bool fused = !force_tensor_path && block.weights.device().is_cpu() &&
                     (scale_dtype == torch::kBFloat16 || scale_dtype == torch::kHalf ||
                      scale_dtype == torch::kFloat);
  if (!fused) return UpdateWithTensorOps(block, args);
  absl::StatusOr<quantize::QuantizedRange> range = quantize::CalculateRange(args);
  if (!range.ok()) return range.status();
  // The kernel reads the scales as float32 (exact for bf16 / fp16) and
  // rounds to their dtype itself.
  Block b = block;
  b.weights = block.weights.contiguous();
  b.hinv = block.hinv.contiguous();
  b.scale = block.scale.to(torch::kFloat).contiguous();
  if (b.zero_point.defined()) b.zero_point = block.zero_point.contiguous();
  b.quantized = block.quantized.contiguous();
  b.errors = block.errors.contiguous();
  const bool float8 = args.type == quantize::QuantizationType::kFloat;
  const float q_min = static_cast<float>(range->min);
  const float q_max = static_cast<float>(range->max);
  switch (scale_dtype) {
    case torch::kBFloat16: RunRowsFor<c10::BFloat16>(b, float8, q_min, q_max); break;
    case torch::kHalf: RunRowsFor<c10::Half>(b, float8, q_min, q_max); break;
    default: RunRowsFor<float>(b, float8, q_min, q_max); break;
  }
  // Copies back only where a contiguous copy had to be made.
  if (!b.weights.is_same(block.weights)) block.weights.copy_(b.weights);
  if (!b.quantized.is_same(block.quantized)) block.quantized.copy_(b.quantized);
  if (!b.errors.is_same(block.errors)) block.errors.copy_(b.errors);
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace gptq
}  // namespace backend
}  // namespace wring
