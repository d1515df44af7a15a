// compressed-tensors' calculate_qparams for one group of an int
// quantization and its _quantize / _dequantize of one value, each step
// rounded to the dtype (R, from rounding.h) as its own tensor would be, for
// the fused kernels that must give the tensor operations' values (AWQ's
// candidate weights, quantize's fused pass).
#ifndef WRING_BACKEND_CPU_KERNELS_FAKE_QUANTIZE_H_
#define WRING_BACKEND_CPU_KERNELS_FAKE_QUANTIZE_H_

#include <limits>
#include <type_traits>

#include "backend/cpu_kernels/rounding.h"

namespace wring {
namespace backend {
namespace cpu_kernels {

// torch.finfo(dtype).eps, which calculate_qparams puts in place of a zero
// scale.
template <typename R>
constexpr float ScaleEpsilon() {
  if constexpr (std::is_same<R, RoundBf16>::value) return 0.0078125f;  // 2^-7
  if constexpr (std::is_same<R, RoundHalf>::value) return 0.0009765625f;  // 2^-10
  return std::numeric_limits<float>::epsilon();
}

struct GroupQParams {
  float scale;  // a value of the dtype
  float zero;   // the zero point's int8 value
};

// calculate_qparams (int, no float8) from a group's minimum and maximum,
// values of the dtype: the same operations as quantize::CalculateQParams's
// tensors, in the same order, NaN propagated as torch.minimum / maximum /
// clamp propagate it. The divisors (qmax - qmin, and half of it) are exact
// in every dtype for up to 8 bits.
template <typename R>
WRING_ROW_KERNEL GroupQParams CalculateGroupQParams(float lo, float hi, bool symmetric, float qmin, float qmax) {
  constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
  const float min_v = lo != lo ? kNan : (lo < 0.0f ? lo : 0.0f);  // zero stays representable
  const float max_v = hi != hi ? kNan : (hi > 0.0f ? hi : 0.0f);
  const float bit_range = qmax - qmin;
  float scale, zero;
  if (symmetric) {
    const float low = min_v < 0.0f ? -min_v : min_v, high = max_v < 0.0f ? -max_v : max_v;
    const float max_val_pos = (low != low || high != high) ? kNan : (low > high ? low : high);
    scale = R::Round(max_val_pos / (bit_range / 2));
    zero = 0.0f;
  } else {
    scale = R::Round(R::Round(max_v - min_v) / bit_range);
    // From the scale before a zero one is replaced (0 / 0 gives NaN, as upstream).
    zero = R::Round(qmin - R::Round(min_v / scale));
    zero = zero != zero ? zero : (zero < qmin ? qmin : (zero > qmax ? qmax : zero));
  }
  if (scale == 0.0f) scale = ScaleEpsilon<R>();
  // int8: clamp, round half to even, NaN as 0 (PyTorch's cast on x86).
  zero = zero != zero ? 0.0f : RoundHalfToEven(zero < -128.0f ? -128.0f : (zero > 127.0f ? 127.0f : zero));
  return {scale, zero};
}

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
