#include "backend/gptq/internal/block_update.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/compat/torch_compat.h"
#include "backend/cpu_kernels/parallel_for.h"
#include "backend/cpu_kernels/rounding.h"

namespace wring {
namespace backend {
namespace gptq {
namespace internal {
namespace {

// Per column, as upstream's eager gptq_block_update: fake_quantize with a
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
    b.quantized.select(2, i).copy_(*q);
    const torch::Tensor d = b.diagonal.select(1, i).unsqueeze(-1);
    const torch::Tensor error = b.inverse ? (w - *q) / d : (w - *q) * d;
    b.errors.select(2, i).copy_(error);
    // What feeds the later columns: with U, -error (w + (-e) u rounds as
    // upstream's w - e u); with F, the column before GPTQ minus q.
    torch::Tensor feedback = -error;
    if (!b.inverse) {
      feedback = b.feedback.select(2, i);
      feedback.sub_(*q);
    }
    if (i + 1 < width) {
      b.weights.slice(2, i + 1).add_(feedback.unsqueeze(-1) *
                                     b.factor.select(1, i).slice(1, i + 1).unsqueeze(1));
    }
  }
  return absl::OkStatus();
}

inline float RoundToFloat8(float value) {
  return compat::FloatFromFloat8E4M3(compat::Float8E4M3FromFloat(value));
}

// Rows one tile holds: one AVX-512 register of float32.
constexpr int64_t kTileRows = 16;
typedef float Lanes __attribute__((vector_size(kTileRows * sizeof(float))));

// One tile of rows through the whole block. The tile is held column-major
// (a column's kTileRows values contiguous), so that every step, the
// quantization included, is a vector operation across rows; rows are
// independent, the columns are the sequential part. R rounds to the
// scale's dtype.
template <typename R, bool kFloat8, bool kZeroPoint, bool kInverse>
WRING_ROW_KERNEL void RunTile(const float* factor, const float* diagonal, int64_t width, float q_min,
                              float q_max, const float* scale, const float* zero_point, float* weights,
                              float* feedback, float* quantized, float* errors) {
  constexpr int64_t T = kTileRows;
  for (int64_t i = 0; i < width; ++i) {
    const float* s = scale + i * T;
    const float* zp = zero_point + i * T;
    float* w = weights + i * T;
    float* f = feedback + i * T;  // with U: -error
    const float d = diagonal[i];
    for (int64_t r = 0; r < T; ++r) {
      // _quantize_dequantize: x / scale (+ zp) in float32, clamp, round,
      // then back in the scale's dtype.
      float scaled = w[r] / s[r];
      if (kZeroPoint) scaled = scaled + zp[r];
      const float clamped = std::min(std::max(scaled, q_min), q_max);
      float value = kFloat8 ? RoundToFloat8(clamped) : cpu_kernels::RoundHalfToEven(clamped);
      value = R::Round(value);
      if (kZeroPoint) value = R::Round(value - R::Round(zp[r]));
      const float q = R::Round(value * s[r]);
      quantized[i * T + r] = q;
      const float error = kInverse ? (w[r] - q) / d : (w[r] - q) * d;
      errors[i * T + r] = error;
      // w + (-e) * u rounds exactly as w - e * u.
      f[r] = kInverse ? -error : f[r] - q;
    }
    // One vector operation per later column (written with GCC's vector
    // extension: left to itself, GCC vectorizes along the columns).
    const float* g = factor + i * width;
    Lanes fi;
    std::memcpy(&fi, f, sizeof fi);
    for (int64_t j = i + 1; j < width; ++j) {
      Lanes wj;
      std::memcpy(&wj, weights + j * T, sizeof wj);
      wj = wj + fi * g[j];
      std::memcpy(weights + j * T, &wj, sizeof wj);
    }
  }
}

// The integer paths of bf16 and float32 scales, for AVX2 and AVX-512 too.
#define WRING_RUN_TILE_CLONE(Name, R, kZeroPoint, kInverse)                                             \
  WRING_CPU_CLONES void Name(const float* factor, const float* diagonal, int64_t width, float q_min,   \
                             float q_max, const float* scale, const float* zero_point, float* weights, \
                             float* feedback, float* quantized, float* errors) {                      \
    RunTile<R, false, kZeroPoint, kInverse>(factor, diagonal, width, q_min, q_max, scale, zero_point, \
                                            weights, feedback, quantized, errors);                     \
  }
WRING_RUN_TILE_CLONE(RunTileBf16, cpu_kernels::RoundBf16, false, false)
WRING_RUN_TILE_CLONE(RunTileBf16ZeroPoint, cpu_kernels::RoundBf16, true, false)
WRING_RUN_TILE_CLONE(RunTileFloat, cpu_kernels::RoundFloat, false, false)
WRING_RUN_TILE_CLONE(RunTileFloatZeroPoint, cpu_kernels::RoundFloat, true, false)
WRING_RUN_TILE_CLONE(RunTileBf16Inverse, cpu_kernels::RoundBf16, false, true)
WRING_RUN_TILE_CLONE(RunTileBf16ZeroPointInverse, cpu_kernels::RoundBf16, true, true)
WRING_RUN_TILE_CLONE(RunTileFloatInverse, cpu_kernels::RoundFloat, false, true)
WRING_RUN_TILE_CLONE(RunTileFloatZeroPointInverse, cpu_kernels::RoundFloat, true, true)
#undef WRING_RUN_TILE_CLONE

using TileKernel = void (*)(const float*, const float*, int64_t, float, float, const float*, const float*,
                            float*, float*, float*, float*);

// The paths without clones (fp8 values, fp16 scales).
template <typename R, bool kFloat8, bool kZeroPoint, bool kInverse>
void RunTileUncloned(const float* factor, const float* diagonal, int64_t width, float q_min, float q_max,
                     const float* scale, const float* zero_point, float* weights, float* feedback,
                     float* quantized, float* errors) {
  RunTile<R, kFloat8, kZeroPoint, kInverse>(factor, diagonal, width, q_min, q_max, scale, zero_point,
                                            weights, feedback, quantized, errors);
}

template <typename R, bool kFloat8, bool kInverse>
TileKernel Uncloned(bool zero_point) {
  return zero_point ? RunTileUncloned<R, kFloat8, true, kInverse> : RunTileUncloned<R, kFloat8, false, kInverse>;
}

template <typename R>
TileKernel Uncloned(bool float8, bool zero_point, bool inverse) {
  if (float8) return inverse ? Uncloned<R, true, true>(zero_point) : Uncloned<R, true, false>(zero_point);
  return inverse ? Uncloned<R, false, true>(zero_point) : Uncloned<R, false, false>(zero_point);
}

TileKernel PickTileKernel(torch::Dtype scale_dtype, bool float8, bool zero_point, bool inverse) {
  const bool bf16 = scale_dtype == torch::kBFloat16;
  if (scale_dtype == torch::kHalf) return Uncloned<cpu_kernels::RoundHalf>(float8, zero_point, inverse);
  if (float8) {
    return bf16 ? Uncloned<cpu_kernels::RoundBf16>(true, zero_point, inverse)
                : Uncloned<cpu_kernels::RoundFloat>(true, zero_point, inverse);
  }
  if (bf16) {
    if (inverse) return zero_point ? RunTileBf16ZeroPointInverse : RunTileBf16Inverse;
    return zero_point ? RunTileBf16ZeroPoint : RunTileBf16;
  }
  if (inverse) return zero_point ? RunTileFloatZeroPointInverse : RunTileFloatInverse;
  return zero_point ? RunTileFloatZeroPoint : RunTileFloat;
}

// Every tile of every batch item: rows are copied into a column-major tile
// (the last one padded with rows of zeros and unit scales) and the results
// back (not the scratch weights).
void RunTiles(Block& b, TileKernel kernel, float q_min, float q_max) {
  constexpr int64_t T = kTileRows;
  const int64_t batch = b.weights.size(0);
  const int64_t rows = b.weights.size(1);
  const int64_t width = b.weights.size(2);
  const int64_t tiles = (rows + T - 1) / T;
  const float* weights = b.weights.data_ptr<float>();
  float* feedback = b.inverse ? nullptr : b.feedback.data_ptr<float>();
  float* quantized = b.quantized.data_ptr<float>();
  float* errors = b.errors.data_ptr<float>();
  const float* factor = b.factor.data_ptr<float>();
  const float* diagonal = b.diagonal.data_ptr<float>();
  const float* scale = b.scale.data_ptr<float>();
  const float* zero_point = b.zero_point.defined() ? b.zero_point.data_ptr<float>() : nullptr;
  at::parallel_for(0, batch * tiles, 1, [&](int64_t begin, int64_t end) {
    const int64_t size = width * T;
    std::vector<float> buffer(6 * size);
    float* w = buffer.data();
    float* f = w + size;
    float* s = f + size;
    float* zp = s + size;
    float* q = zp + size;
    float* e = q + size;
    for (int64_t tile = begin; tile < end; ++tile) {
      const int64_t item = tile / tiles;
      const int64_t first = item * rows + (tile % tiles) * T;  // row over the batch
      const int64_t count = std::min(T, (item + 1) * rows - first);
      for (int64_t r = 0; r < T; ++r) {
        const int64_t at = (first + r) * width;
        for (int64_t i = 0; i < width; ++i) {
          const bool real = r < count;
          w[i * T + r] = real ? weights[at + i] : 0.0f;
          f[i * T + r] = real && feedback != nullptr ? feedback[at + i] : 0.0f;
          s[i * T + r] = real ? scale[at + i] : 1.0f;
          zp[i * T + r] = real && zero_point != nullptr ? zero_point[at + i] : 0.0f;
        }
      }
      kernel(factor + item * width * width, diagonal + item * width, width, q_min, q_max, s, zp, w, f,
             q, e);
      for (int64_t r = 0; r < count; ++r) {
        const int64_t at = (first + r) * width;
        for (int64_t i = 0; i < width; ++i) {
          if (feedback != nullptr) feedback[at + i] = f[i * T + r];
          quantized[at + i] = q[i * T + r];
          errors[at + i] = e[i * T + r];
        }
      }
    }
  });
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
  if (!b.inverse) b.feedback = block.feedback.contiguous();
  b.factor = block.factor.contiguous();
  b.diagonal = block.diagonal.contiguous();
  b.scale = block.scale.to(torch::kFloat).contiguous();
  if (b.zero_point.defined()) b.zero_point = block.zero_point.contiguous();
  b.quantized = block.quantized.contiguous();
  b.errors = block.errors.contiguous();
  const bool float8 = args.type == quantize::QuantizationType::kFloat;
  RunTiles(b, PickTileKernel(scale_dtype, float8, b.zero_point.defined(), b.inverse),
           static_cast<float>(range->min), static_cast<float>(range->max));
  // Copies back only where a contiguous copy had to be made.
  if (!b.inverse && !b.feedback.is_same(block.feedback)) block.feedback.copy_(b.feedback);
  if (!b.quantized.is_same(block.quantized)) block.quantized.copy_(b.quantized);
  if (!b.errors.is_same(block.errors)) block.errors.copy_(b.errors);
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace gptq
}  // namespace backend
}  // namespace wring
