// compressed-tensors' _quantize / _dequantize of one value to ints, each
// step rounded to the dtype (R, from rounding.h) as its own tensor would be,
// for the fused kernels that must give the tensor operations' values (AWQ's
// candidate weights, quantize's fused pass).
#ifndef WRING_BACKEND_CPU_KERNELS_FAKE_QUANTIZE_H_
#define WRING_BACKEND_CPU_KERNELS_FAKE_QUANTIZE_H_

#include "backend/cpu_kernels/rounding.h"

namespace wring {
namespace backend {
namespace cpu_kernels {

// The level: round half to even of clamp(dtype(dtype(x / scale) + zero)),
// an integer held as float; NaN stays NaN, as in torch.clamp. Without a
// zero point its addition is skipped (it could turn -0 into +0).
template <typename R, bool kZeroPoint>
WRING_ROW_KERNEL float QuantizeToLevel(float x, float scale, float zero, float qmin, float qmax) {
  float v = R::Round(x / scale);
  if constexpr (kZeroPoint) v = R::Round(v + zero);
  v = v > qmax ? qmax : v;
  v = v < qmin ? qmin : v;
  return RoundHalfToEven(v);
}

// dtype(dtype(level - zero) * scale).
template <typename R, bool kZeroPoint>
WRING_ROW_KERNEL float DequantizeLevel(float level, float scale, float zero) {
  if constexpr (kZeroPoint) level = R::Round(level - zero);
  return R::Round(level * scale);
}

}  // namespace cpu_kernels
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_CPU_KERNELS_FAKE_QUANTIZE_H_
