#include "backend/quantize/internal/fused_quantize.h"

#include <cstdint>
#include <type_traits>

#include "backend/cpu_kernels/fake_quantize.h"
#include "backend/cpu_kernels/parallel_for.h"
#include "backend/cpu_kernels/rounding.h"

namespace wring {
namespace backend {
namespace quantize {
namespace internal {
namespace {

using cpu_kernels::RoundBf16;
using cpu_kernels::RoundFloat;
using cpu_kernels::RoundHalf;
using cpu_kernels::DequantizeLevel;
using cpu_kernels::QuantizeToLevel;
using cpu_kernels::ZeroPoint;

// R::Store, for bf16 as 32-bit selects the vectorizer takes (c10's NaN,
// else the rounded value's upper half).
template <typename R>
WRING_ROW_KERNEL typename R::Stored StoreVectorizable(float rounded) {
  if constexpr (std::is_same<R, RoundBf16>::value) {
    const uint32_t bits = rounded != rounded ? UINT32_C(0x7FC00000) : RoundBf16::ToBits(rounded);
    return static_cast<uint16_t>(bits >> 16);
  } else {
    return R::Store(rounded);
  }
}

// One row: x / scale, + zero point, clamp, round half to even (the level);
// then, dequantizing, - zero point, * scale; each rounded to the dtype.
template <typename R, bool kZeroPoint, bool kDequantize, typename Out>
WRING_ROW_KERNEL void QuantizeRow(const typename R::Stored* x, const float* scale, const float* zero,
                                  int64_t group, int64_t groups, float qmin, float qmax, Out* out) {
  constexpr ZeroPoint kZero = kZeroPoint ? ZeroPoint::kAny : ZeroPoint::kNone;
  for (int64_t g = 0; g < groups; ++g) {
    const float sc = scale[g], zp = kZeroPoint ? zero[g] : 0.0f;
    for (int64_t k = g * group; k < (g + 1) * group; ++k) {
      const float v = QuantizeToLevel<R, kZero>(R::Load(x[k]), sc, zp, qmin, qmax);
      if constexpr (kDequantize) {
        out[k] = StoreVectorizable<R>(DequantizeLevel<R, kZero>(v, sc, zp));
      } else if constexpr (std::is_same<Out, int8_t>::value) {
        // NaN: 0, as PyTorch's cast on x86; selected in float so it vectorizes.
        out[k] = static_cast<int8_t>(static_cast<int32_t>(v != v ? 0.0f : v));
      } else {
        out[k] = StoreVectorizable<R>(v);
      }
    }
  }
}

#define WRING_QUANTIZE_ROW_BF16(kZeroPoint, kDequantize, Out, Name)                                          \
  WRING_CPU_CLONES void Name(const uint16_t* x, const float* scale, const float* zero, int64_t group,        \
                             int64_t groups, float qmin, float qmax, Out* out) {                             \
    QuantizeRow<RoundBf16, kZeroPoint, kDequantize, Out>(x, scale, zero, group, groups, qmin, qmax, out);   \
  }
WRING_QUANTIZE_ROW_BF16(true, true, uint16_t, FakeQuantizeRowBf16WithZero)
WRING_QUANTIZE_ROW_BF16(false, true, uint16_t, FakeQuantizeRowBf16)
WRING_QUANTIZE_ROW_BF16(true, false, int8_t, QuantizeRowBf16WithZero)
WRING_QUANTIZE_ROW_BF16(false, false, int8_t, QuantizeRowBf16)
#undef WRING_QUANTIZE_ROW_BF16

// The row kernel for R, with the bf16 ones' CPU clones.
template <typename R, bool kZeroPoint, bool kDequantize, typename Out>
void Row(const typename R::Stored* x, const float* scale, const float* zero, int64_t group, int64_t groups,
         float qmin, float qmax, Out* out) {
  constexpr bool kBf16Clone =
      std::is_same<R, RoundBf16>::value && (kDequantize || std::is_same<Out, int8_t>::value);
  if constexpr (kBf16Clone && kDequantize && kZeroPoint) {
    FakeQuantizeRowBf16WithZero(x, scale, zero, group, groups, qmin, qmax, out);
  } else if constexpr (kBf16Clone && kDequantize) {
    FakeQuantizeRowBf16(x, scale, zero, group, groups, qmin, qmax, out);
  } else if constexpr (kBf16Clone && kZeroPoint) {
    QuantizeRowBf16WithZero(x, scale, zero, group, groups, qmin, qmax, out);
  } else if constexpr (kBf16Clone) {
    QuantizeRowBf16(x, scale, zero, group, groups, qmin, qmax, out);
  } else {
    QuantizeRow<R, kZeroPoint, kDequantize, Out>(x, scale, zero, group, groups, qmin, qmax, out);
  }
}

template <typename R, bool kDequantize, typename Out>
torch::Tensor Apply(const torch::Tensor& x, const torch::Tensor& scale, const torch::Tensor& zero, int64_t group,
                    float qmin, float qmax, torch::Tensor out) {
  using T = typename R::Stored;
  const int64_t rows = x.size(0), cols = x.size(1), groups = cols / group;
  const T* in = reinterpret_cast<const T*>(x.data_ptr());
  const float* sc = scale.data_ptr<float>();
  const float* zp = zero.defined() ? zero.data_ptr<float>() : nullptr;
  Out* o = reinterpret_cast<Out*>(out.data_ptr());
  at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      if (zp != nullptr) {
        Row<R, true, kDequantize, Out>(in + r * cols, sc + r * groups, zp + r * groups, group, groups, qmin, qmax,
                                       o + r * cols);
      } else {
        Row<R, false, kDequantize, Out>(in + r * cols, sc + r * groups, nullptr, group, groups, qmin, qmax,
                                        o + r * cols);
      }
    }
  });
  return out;
}

template <typename R>
std::optional<torch::Tensor> ForDtype(const torch::Tensor& x, const torch::Tensor& scale, const torch::Tensor& zero,
                                      int64_t group, float qmin, float qmax, bool dequantize,
                                      std::optional<torch::Dtype> dtype) {
  using T = typename R::Stored;
  if (dequantize) return Apply<R, true, T>(x, scale, zero, group, qmin, qmax, torch::empty_like(x));
  if (dtype == torch::kChar) {
    return Apply<R, false, int8_t>(x, scale, zero, group, qmin, qmax, torch::empty(x.sizes(), torch::kChar));
  }
  if (!dtype.has_value() || *dtype == x.scalar_type()) {
    return Apply<R, false, T>(x, scale, zero, group, qmin, qmax, torch::empty_like(x));
  }
  return std::nullopt;
}

}  // namespace

std::optional<torch::Tensor> FusedQuantize(const torch::Tensor& x, const torch::Tensor& scale,
                                           const torch::Tensor& zero_point, int64_t group, double qmin, double qmax,
                                           bool dequantize, std::optional<torch::Dtype> dtype) {
  const torch::Dtype type = x.scalar_type();
  if (!x.device().is_cpu() || x.dim() != 2 || !x.is_contiguous() || x.numel() == 0 || group <= 0 ||
      x.size(1) % group != 0 || (type != torch::kBFloat16 && type != torch::kHalf && type != torch::kFloat)) {
    return std::nullopt;
  }
  // x / scale rounds in x's dtype only when the scale has that dtype.
  const int64_t slots = x.size(0) * (x.size(1) / group);
  if (!scale.device().is_cpu() || scale.scalar_type() != type || scale.numel() != slots) return std::nullopt;
  if (zero_point.defined() && (!zero_point.device().is_cpu() || zero_point.numel() != slots ||
                               zero_point.is_floating_point())) {
    return std::nullopt;
  }
  // Both exact in float: values of x's dtype, small integers.
  const torch::Tensor scale32 = scale.to(torch::kFloat).contiguous();
  const torch::Tensor zero32 =
      zero_point.defined() ? zero_point.to(type).to(torch::kFloat).contiguous() : torch::Tensor();
  const float lo = static_cast<float>(qmin), hi = static_cast<float>(qmax);
  switch (type) {
    case torch::kBFloat16: return ForDtype<RoundBf16>(x, scale32, zero32, group, lo, hi, dequantize, dtype);
    case torch::kHalf: return ForDtype<RoundHalf>(x, scale32, zero32, group, lo, hi, dequantize, dtype);
    default: return ForDtype<RoundFloat>(x, scale32, zero32, group, lo, hi, dequantize, dtype);
  }
}

}  // namespace internal
}  // namespace quantize
}  // namespace backend
}  // namespace wring
