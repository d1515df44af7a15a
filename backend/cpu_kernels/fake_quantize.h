// compressed-tensors' calculate_qparams for one group of an int
// quantization and its _quantize / _dequantize of one value, each step
// rounded to the dtype (R, from rounding.h) as its own tensor would be, for
// the fused kernels that must give the tensor operations' values (AWQ's
// candidate weights, quantize's fused pass).
#ifndef WRING_BACKEND_CPU_KERNELS_FAKE_QUANTIZE_H_
#define WRING_BACKEND_CPU_KERNELS_FAKE_QUANTIZE_H_

#include <cmath>
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

// How a kernel's zero point enters (compressed-tensors adds and subtracts
// it whenever the qparams have one), from the most general to the fewest
// steps that give the same values:
enum class ZeroPoint {
  kAny,   // any value: each step rounded to the dtype
  kInt8,  // int8 values: level - zero, integers of at most 8 bits, is exact
  kZero,  // symmetric qparams' 0: adding it only turns -0 into +0, and the
          // level (never -0 then) minus 0 is the level
  kNone,  // no zero point: no addition (it could turn -0 into +0)
};

// R::Round, or R::RoundFinite where the caller knows no NaN can arise.
template <typename R, bool kFinite>
WRING_ROW_KERNEL float RoundTo(float f) {
  if constexpr (kFinite) {
    return R::RoundFinite(f);
  } else {
    return R::Round(f);
  }
}

// The level: round half to even of clamp(dtype(dtype(x / scale) + zero)),
// an integer held as float; NaN stays NaN, as in torch.clamp.
template <typename R, ZeroPoint kZeroPoint, bool kFinite = false>
WRING_ROW_KERNEL float QuantizeToLevel(float x, float scale, float zero, float qmin, float qmax) {
  float v = RoundTo<R, kFinite>(x / scale);
  if constexpr (kZeroPoint == ZeroPoint::kZero) {
    v = v + 0.0f;
  } else if constexpr (kZeroPoint != ZeroPoint::kNone) {
    v = RoundTo<R, kFinite>(v + zero);
  }
  v = v > qmax ? qmax : v;
  v = v < qmin ? qmin : v;
  return RoundHalfToEven(v);
}

// dtype(dtype(level - zero) * scale).
template <typename R, ZeroPoint kZeroPoint, bool kFinite = false>
WRING_ROW_KERNEL float DequantizeLevel(float level, float scale, float zero) {
  if constexpr (kZeroPoint == ZeroPoint::kAny) {
    level = RoundTo<R, kFinite>(level - zero);
  } else if constexpr (kZeroPoint == ZeroPoint::kInt8) {
    level = level - zero;
  }
  return RoundTo<R, kFinite>(level * scale);
}

// a / b as the division instruction rounds it, from y = 1 / b (rounded),
// with a tenth of the division's cost: a * y is within two ulps of the
// quotient, one FMA correction makes it faithful, a second gives the
// correctly rounded quotient (Markstein: y within half an ulp of 1 / b, the
// remainders exact by FMA). Needs no underflow in the remainders: callers
// keep |b| in [2^-400, 2^400] (ReciprocalDivisionIsExact) and divide values
// of float range in double. A zero or non-finite a * y is the quotient
// itself (this keeps a zero's sign and infinities). Compiled with FMA
// instructions by its callers (WRING_AVX512_KERNEL).
WRING_ROW_KERNEL double DivideByReciprocal(double a, double b, double y) {
  const double q0 = a * y;
  const double q1 = std::fma(std::fma(-q0, b, a), y, q0);
  const double q2 = std::fma(std::fma(-q1, b, a), y, q1);
  const double magnitude = q0 < 0 ? -q0 : q0;
  return (magnitude == 0 || !(magnitude <= std::numeric_limits<double>::max())) ? q0 : q2;
}

inline bool ReciprocalDivisionIsExact(double b) {
  const double magnitude = b < 0 ? -b : b;
  return magnitude >= 0x1p-400 && magnitude <= 0x1p400;
}

}  // namespace cpu_kernels
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_CPU_KERNELS_FAKE_QUANTIZE_H_
