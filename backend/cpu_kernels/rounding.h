// How LibTorch's CPU kernels round a float result to a half-precision dtype,
// written for the compiler to vectorize, for the backend's fused kernels
// that must give the same values as the tensor operations they replace
// (AWQ's candidate weights, GPTQ's block update).
#ifndef WRING_BACKEND_CPU_KERNELS_ROUNDING_H_
#define WRING_BACKEND_CPU_KERNELS_ROUNDING_H_

#include <c10/util/Half.h>

#include <cstdint>
#include <cstring>

namespace wring {
namespace backend {
namespace cpu_kernels {

// Values travel as float, rounded to the dtype after each operation the way
// a LibTorch CPU kernel rounds its result (compute in float, round once).
struct RoundBf16 {
  using Stored = uint16_t;  // c10::BFloat16's bits, for the vectorizer
  static float Load(uint16_t bits) { return FromBits(static_cast<uint32_t>(bits) << 16); }
  // Round half to even, NaN kept: c10::BFloat16(float) without its branch.
  static float Round(float f) {
    const uint32_t u = ToBits(f);
    const float rounded = FromBits((u + UINT32_C(0x7FFF) + ((u >> 16) & 1)) & UINT32_C(0xFFFF0000));
    return f != f ? f : rounded;
  }
  // The same for a value known not to be NaN (infinities round to
  // themselves), without the select.
  static float RoundFinite(float f) {
    const uint32_t u = ToBits(f);
    return FromBits((u + UINT32_C(0x7FFF) + ((u >> 16) & 1)) & UINT32_C(0xFFFF0000));
  }
  // NaN as c10::BFloat16 stores it.
  static uint16_t Store(float f) {
    return f != f ? uint16_t{0x7FC0} : static_cast<uint16_t>(ToBits(Round(f)) >> 16);
  }
  static uint32_t ToBits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
  }
  static float FromBits(uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  }
};
struct RoundHalf {
  using Stored = c10::Half;
  static float Load(Stored v) { return static_cast<float>(v); }
  static float Round(float f) { return static_cast<float>(c10::Half(f)); }
  static float RoundFinite(float f) { return Round(f); }
  static Stored Store(float f) { return Stored(f); }
};
struct RoundFloat {
  using Stored = float;
  static float Load(float v) { return v; }
  static float Round(float f) { return f; }
  static float RoundFinite(float f) { return f; }
  static Stored Store(float f) { return f; }
};

// Whether a float32 result f, within 2 units in the last place of an exact
// value v, may round to bf16 differently from v rounded to float32 first
// (the value a float64 computation gives): f within 4 units of a bf16
// rounding midpoint, or no normal nonzero float (a subnormal, an overflow,
// an underflow to zero of a nonzero `operand_nonzero` product). Elsewhere
// bf16(f) is bf16(float(v)), so float32 arithmetic can stand in for float64
// when the rare flagged values are recomputed.
inline int32_t NeedsExactBf16Rounding(float f, bool operand_nonzero) {
  const uint32_t bits = RoundBf16::ToBits(f);
  const uint32_t exponent = bits & UINT32_C(0x7F800000);
  const bool near_midpoint = ((bits & UINT32_C(0xFFFF)) - UINT32_C(0x7FFC)) <= UINT32_C(8);
  const bool abnormal = exponent == UINT32_C(0x7F800000) || (exponent == 0 && operand_nonzero);
  return static_cast<int32_t>(near_midpoint | abnormal);
}

// Half-to-even rounding of |v| <= 2^22 (clamped quantized values) without a
// libm call: adding 1.5 * 2^23 leaves no fraction bits. Equal to
// std::nearbyint in the default rounding mode; NaN stays NaN.
inline float RoundHalfToEven(float v) {
  constexpr float kMagic = 12582912.0f;
  return (v + kMagic) - kMagic;
}

}  // namespace cpu_kernels
}  // namespace backend
}  // namespace wring

// A row kernel is inlined into its callers; the callers marked
// WRING_CPU_CLONES are also compiled for AVX2 and AVX-512 and picked when the
// program loads (the build's baseline is plain x86-64).
#define WRING_ROW_KERNEL inline __attribute__((always_inline))
#define WRING_CPU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
// A kernel compiled only for AVX-512 (whose CPUs all have FMA), called where
// CpuHasAvx512() says so: for loops that need the FMA instruction, which the
// avx2 and default clones lack (std::fma would call libm per value).
#define WRING_AVX512_KERNEL __attribute__((target("avx512f,fma")))

namespace wring {
namespace backend {
namespace cpu_kernels {

inline bool CpuHasAvx512() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
  return has;
}

}  // namespace cpu_kernels
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_CPU_KERNELS_ROUNDING_H_
