#include "backend/awq/apply_scales.h"

#include <cstdint>
#include <type_traits>

#include "backend/cpu_kernels/parallel_for.h"
#include "backend/cpu_kernels/rounding.h"

namespace wring {
namespace backend {
namespace awq {
namespace {

using cpu_kernels::RoundBf16;

// A bf16 value times (or divided by) a value of S, computed in S, then to
// bf16 as LibTorch converts: a float64 result to float first, then half to
// even (NaN as c10's NaN).
template <typename S>
WRING_ROW_KERNEL uint16_t ToBf16(S value) {
  return RoundBf16::Store(static_cast<float>(value));
}

template <typename S>
WRING_ROW_KERNEL void MultiplyRow(const uint16_t* w, const S* s, uint16_t* out, int64_t n) {
  for (int64_t j = 0; j < n; ++j) out[j] = ToBf16<S>(static_cast<S>(RoundBf16::Load(w[j])) * s[j]);
}
WRING_CPU_CLONES void MultiplyRowBf16(const uint16_t* w, const double* s, uint16_t* out, int64_t n) {
  MultiplyRow(w, s, out, n);
}
WRING_CPU_CLONES void MultiplyRowBf16(const uint16_t* w, const float* s, uint16_t* out, int64_t n) {
  MultiplyRow(w, s, out, n);
}

template <typename S>
WRING_ROW_KERNEL void DivideRow(const uint16_t* w, S divisor, uint16_t* out, int64_t n) {
  for (int64_t j = 0; j < n; ++j) out[j] = ToBf16<S>(static_cast<S>(RoundBf16::Load(w[j])) / divisor);
}
WRING_CPU_CLONES void DivideRowBf16(const uint16_t* w, double divisor, uint16_t* out, int64_t n) {
  DivideRow(w, divisor, out, n);
}
WRING_CPU_CLONES void DivideRowBf16(const uint16_t* w, float divisor, uint16_t* out, int64_t n) {
  DivideRow(w, divisor, out, n);
}

// A bf16 matrix on the CPU and float32 / float64 scales of `length`.
bool OnePassApplies(const torch::Tensor& matrix, const torch::Tensor& scales, int64_t length) {
  return matrix.dim() == 2 && matrix.scalar_type() == torch::kBFloat16 && matrix.device().is_cpu() &&
         scales.device().is_cpu() && scales.numel() == length &&
         (scales.scalar_type() == torch::kDouble || scales.scalar_type() == torch::kFloat);
}

template <typename S, typename Row>
torch::Tensor ByRows(const torch::Tensor& matrix, const torch::Tensor& scales, const Row& row) {
  const torch::Tensor w = matrix.contiguous(), s = scales.contiguous();
  torch::Tensor out = torch::empty_like(w);
  const int64_t cols = w.size(1);
  const uint16_t* in = reinterpret_cast<const uint16_t*>(w.data_ptr());
  uint16_t* to = reinterpret_cast<uint16_t*>(out.data_ptr());
  const S* factors = s.data_ptr<S>();
  at::parallel_for(0, w.size(0), 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) row(in + r * cols, factors, r, to + r * cols, cols);
  });
  return out;
}

}  // namespace

torch::Tensor MultiplyColumns(const torch::Tensor& weight, const torch::Tensor& scales) {
  if (!OnePassApplies(weight, scales, weight.dim() == 2 ? weight.size(1) : -1)) {
    return (weight * scales.view({1, -1})).to(weight.scalar_type());
  }
  const auto multiply = [](const uint16_t* w, const auto* s, int64_t, uint16_t* out, int64_t n) {
    MultiplyRowBf16(w, s, out, n);
  };
  return scales.scalar_type() == torch::kDouble ? ByRows<double>(weight, scales, multiply)
                                                : ByRows<float>(weight, scales, multiply);
}

torch::Tensor DivideRows(const torch::Tensor& rows, const torch::Tensor& scales) {
  if (!OnePassApplies(rows, scales, rows.dim() == 2 ? rows.size(0) : -1)) {
    return (rows.to(scales.scalar_type()) / scales.view({-1, 1})).to(rows.scalar_type());
  }
  const auto divide = [](const uint16_t* w, const auto* s, int64_t r, uint16_t* out, int64_t n) {
    DivideRowBf16(w, s[r], out, n);
  };
  return scales.scalar_type() == torch::kDouble ? ByRows<double>(rows, scales, divide)
                                                : ByRows<float>(rows, scales, divide);
}

}  // namespace awq
}  // namespace backend
}  // namespace wring
