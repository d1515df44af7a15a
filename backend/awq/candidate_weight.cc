#include "backend/awq/candidate_weight.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <type_traits>
#include <vector>

#include "backend/base/torch_errors.h"
#include "backend/cpu_kernels/fake_quantize.h"
#include "backend/cpu_kernels/parallel_for.h"
#include "backend/cpu_kernels/rounding.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace awq {
namespace {

using cpu_kernels::RoundBf16;
using cpu_kernels::RoundFloat;
using cpu_kernels::RoundHalf;
using cpu_kernels::DequantizeLevel;
using cpu_kernels::QuantizeToLevel;
using cpu_kernels::ZeroPoint;
using quantize::QuantizationStrategy;

// x = dtype(W * s) for one row (`W * s` computes in the wider of the two).
template <typename R, typename S>
WRING_ROW_KERNEL void ScaleRow(const typename R::Stored* w, const S* s, float* x, int64_t n) {
  using Product = std::conditional_t<std::is_same<S, double>::value, double, float>;
  for (int64_t j = 0; j < n; ++j) {
    x[j] = R::Round(static_cast<float>(static_cast<Product>(R::Load(w[j])) *
                                       static_cast<Product>(s[j])));
  }
}

// Float bits <-> an int that orders like the float (-0 just before +0); the
// map is its own inverse.
inline int32_t OrderedKey(int32_t bits) { return bits ^ ((bits >> 31) & INT32_C(0x7FFFFFFF)); }
inline float FromOrderedKey(int32_t key) {
  const int32_t bits = OrderedKey(key);
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Each group's minimum and maximum; NaN if the group has one, as
// torch.amin / amax. Integer keys let the loop vectorize. (The sign of a
// zero extreme cannot change the qparams.)
WRING_ROW_KERNEL void GroupExtremes(const float* x, int64_t group, int64_t groups, float* lo, float* hi) {
  for (int64_t g = 0; g < groups; ++g) {
    const float* v = x + g * group;
    int32_t low = std::numeric_limits<int32_t>::max(), high = std::numeric_limits<int32_t>::min();
    int32_t nan = 0;
    for (int64_t j = 0; j < group; ++j) {
      int32_t bits;
      std::memcpy(&bits, &v[j], sizeof bits);
      const int32_t key = OrderedKey(bits);
      low = std::min(low, key);
      high = std::max(high, key);
      nan |= (bits & INT32_C(0x7FFFFFFF)) > INT32_C(0x7F800000);
    }
    lo[g] = nan ? std::numeric_limits<float>::quiet_NaN() : FromOrderedKey(low);
    hi[g] = nan ? std::numeric_limits<float>::quiet_NaN() : FromOrderedKey(high);
  }
}

// The final rounding to the weight's dtype, stored in that dtype or as the
// float32 of the same value (NaN as the float of c10's NaN); kFinite: f is
// no NaN.
template <typename R, bool kFinite, typename Out>
WRING_ROW_KERNEL void StoreRounded(float f, Out* out) {
  if constexpr (std::is_same<Out, typename R::Stored>::value) {
    *out = R::Store(f);
  } else if constexpr (kFinite) {
    *out = R::RoundFinite(f);
  } else {
    *out = f != f ? std::numeric_limits<float>::quiet_NaN() : R::Round(f);
  }
}

// compressed-tensors' fake quantization of one row, then back through 1 / s.
// The steps that cannot change a value are left out: kSymmetric (every zero
// point 0) or int8 zero points (cpu_kernels::ZeroPoint); kFinite (the row,
// its scales and s hold no NaN, infinity or zero divisor): no NaN can arise,
// so the roundings skip their NaN selects.
//
// kByReciprocal (float64 s, a finite row): the division by s through its
// reciprocal `s_inverse` (cpu_kernels::DivideByReciprocal, the same
// quotient), for a caller compiled with FMA.
template <typename R, typename S, typename Out, bool kSymmetric, bool kFinite, bool kByReciprocal = false>
WRING_ROW_KERNEL void FakeQuantizeRow(const float* x, const S* s, const S* s_inverse, const float* scale,
                                      const float* zero, int64_t group, int64_t groups, float qmin, float qmax,
                                      Out* out) {
  using Product = std::conditional_t<std::is_same<S, double>::value, double, float>;
  static_assert(!kByReciprocal || (kFinite && std::is_same<S, double>::value), "finite rows, float64 s");
  constexpr ZeroPoint kZero = kSymmetric ? ZeroPoint::kZero : ZeroPoint::kInt8;
  for (int64_t g = 0; g < groups; ++g) {
    const float sc = scale[g], zp = zero[g];
    for (int64_t k = g * group; k < (g + 1) * group; ++k) {
      const float level = QuantizeToLevel<R, kZero, kFinite>(x[k], sc, zp, qmin, qmax);
      const float v = DequantizeLevel<R, kZero, kFinite>(level, sc, zp);
      Product back;
      if constexpr (kByReciprocal) {
        back = cpu_kernels::DivideByReciprocal(v, s[k], s_inverse[k]);
      } else {
        back = static_cast<Product>(v) / static_cast<Product>(s[k]);
      }
      StoreRounded<R, kFinite>(static_cast<float>(back), &out[k]);
    }
  }
}

// Whether FakeQuantizeRow<..., kFinite = true> may run on a row: its groups'
// extremes and scales are finite (so is every value between), and the
// candidate's s are finite and nonzero (checked once, `s_finite`).
WRING_ROW_KERNEL bool RowIsFinite(const float* lo, const float* hi, const float* scale, int64_t groups) {
  bool finite = true;
  for (int64_t g = 0; g < groups; ++g) {
    finite &= std::isfinite(lo[g]) && std::isfinite(hi[g]) && std::isfinite(scale[g]);
  }
  return finite;
}

// out[k] -= W[k]: the candidate's difference to the original weight, in
// float32 (as the tensor subtraction gives it).
template <typename R>
WRING_ROW_KERNEL void SubtractOriginalRow(const typename R::Stored* w, float* out, int64_t n) {
  for (int64_t j = 0; j < n; ++j) out[j] -= R::Load(w[j]);
}

WRING_CPU_CLONES void SubtractOriginalRowBf16(const uint16_t* w, float* out, int64_t n) {
  SubtractOriginalRow<RoundBf16>(w, out, n);
}
WRING_CPU_CLONES void ScaleRowBf16(const uint16_t* w, const double* s, float* x, int64_t n) {
  ScaleRow<RoundBf16, double>(w, s, x, n);
}
WRING_CPU_CLONES void ScaleRowBf16(const uint16_t* w, const float* s, float* x, int64_t n) {
  ScaleRow<RoundBf16, float>(w, s, x, n);
}
WRING_CPU_CLONES void GroupExtremesCloned(const float* x, int64_t group, int64_t groups, float* lo, float* hi) {
  GroupExtremes(x, group, groups, lo, hi);
}
// One clone set per scales dtype, output (bf16 or its float32 value) and
// variant, told apart by the tag arguments.
template <bool kValue>
using Flag = std::integral_constant<bool, kValue>;
#define WRING_FAKE_QUANTIZE_ROW_BF16(S, Out, kSymmetric, kFinite)                                           \
  WRING_CPU_CLONES void FakeQuantizeRowBf16(const float* x, const S* s, const float* scale,                  \
                                            const float* zero, int64_t group, int64_t groups, float qmin,    \
                                            float qmax, Out* out, Flag<kSymmetric>, Flag<kFinite>) {         \
    FakeQuantizeRow<RoundBf16, S, Out, kSymmetric, kFinite>(x, s, nullptr, scale, zero, group, groups, qmin, \
                                                            qmax, out);                                      \
  }
#define WRING_FAKE_QUANTIZE_ROW_BF16_VARIANTS(S, Out) \
  WRING_FAKE_QUANTIZE_ROW_BF16(S, Out, true, true)    \
  WRING_FAKE_QUANTIZE_ROW_BF16(S, Out, true, false)   \
  WRING_FAKE_QUANTIZE_ROW_BF16(S, Out, false, true)   \
  WRING_FAKE_QUANTIZE_ROW_BF16(S, Out, false, false)
WRING_FAKE_QUANTIZE_ROW_BF16_VARIANTS(double, uint16_t)
WRING_FAKE_QUANTIZE_ROW_BF16_VARIANTS(float, uint16_t)
WRING_FAKE_QUANTIZE_ROW_BF16_VARIANTS(double, float)
WRING_FAKE_QUANTIZE_ROW_BF16_VARIANTS(float, float)
#undef WRING_FAKE_QUANTIZE_ROW_BF16_VARIANTS
#undef WRING_FAKE_QUANTIZE_ROW_BF16
// Finite rows with float64 s, by reciprocals, on a CPU with AVX-512.
#define WRING_FAKE_QUANTIZE_ROW_BF16_BY_RECIPROCAL(Out, kSymmetric)                                           \
  WRING_AVX512_KERNEL void FakeQuantizeRowBf16ByReciprocal(const float* x, const double* s,                  \
                                                           const double* s_inverse, const float* scale,      \
                                                           const float* zero, int64_t group, int64_t groups, \
                                                           float qmin, float qmax, Out* out,                 \
                                                           Flag<kSymmetric>) {                               \
    FakeQuantizeRow<RoundBf16, double, Out, kSymmetric, true, true>(x, s, s_inverse, scale, zero, group,      \
                                                                    groups, qmin, qmax, out);                \
  }
WRING_FAKE_QUANTIZE_ROW_BF16_BY_RECIPROCAL(uint16_t, true)
WRING_FAKE_QUANTIZE_ROW_BF16_BY_RECIPROCAL(uint16_t, false)
WRING_FAKE_QUANTIZE_ROW_BF16_BY_RECIPROCAL(float, true)
WRING_FAKE_QUANTIZE_ROW_BF16_BY_RECIPROCAL(float, false)
#undef WRING_FAKE_QUANTIZE_ROW_BF16_BY_RECIPROCAL

// The float64 steps of a bf16 weight's candidate, dtype(W * s) and the
// division by s, through float32 products with float32 s and 1 / s: each
// product is within 2 units of the float64 one, so it rounds to the same
// bf16 but where NeedsExactBf16Rounding flags it (about 1 value in 7,000),
// and the blocks holding a flagged value recompute those in float64.
// Needs every |s| in [2^-100, 2^100] (normal floats both ways).
constexpr int64_t kShortcutBlock = 128;

WRING_AVX512_KERNEL void ScaleRowBf16Shortcut(const uint16_t* w, const double* s, const float* s_float, float* x,
                                              int64_t n) {
  for (int64_t start = 0; start < n; start += kShortcutBlock) {
    const int64_t end = std::min(n, start + kShortcutBlock);
    int32_t flagged = 0;
    for (int64_t j = start; j < end; ++j) {
      const float p = RoundBf16::Load(w[j]) * s_float[j];
      flagged |= cpu_kernels::NeedsExactBf16Rounding(p, (w[j] & 0x7FFF) != 0);
      x[j] = RoundBf16::Round(p);
    }
    if (flagged == 0) continue;
    for (int64_t j = start; j < end; ++j) {
      const float p = RoundBf16::Load(w[j]) * s_float[j];
      if (cpu_kernels::NeedsExactBf16Rounding(p, (w[j] & 0x7FFF) != 0)) {
        x[j] = RoundBf16::Round(static_cast<float>(static_cast<double>(RoundBf16::Load(w[j])) * s[j]));
      }
    }
  }
}

// FakeQuantizeRow<RoundBf16, double, Out, kSymmetric, kFinite = true> with
// the division by s through float32 1 / s, per group.
template <typename Out, bool kSymmetric>
WRING_ROW_KERNEL void FakeQuantizeRowShortcut(const float* x, const double* s, const double* s_inverse,
                                              const float* s_inverse_float, const float* scale, const float* zero,
                                              int64_t group, int64_t groups, float qmin, float qmax, Out* out) {
  constexpr ZeroPoint kZero = kSymmetric ? ZeroPoint::kZero : ZeroPoint::kInt8;
  for (int64_t g = 0; g < groups; ++g) {
    const float sc = scale[g], zp = zero[g];
    const int64_t start = g * group, end = start + group;
    int32_t flagged = 0;
    for (int64_t k = start; k < end; ++k) {
      const float level = QuantizeToLevel<RoundBf16, kZero, true>(x[k], sc, zp, qmin, qmax);
      const float v = DequantizeLevel<RoundBf16, kZero, true>(level, sc, zp);
      const float q = v * s_inverse_float[k];
      flagged |= cpu_kernels::NeedsExactBf16Rounding(q, v != 0.0f);
      StoreRounded<RoundBf16, true>(q, &out[k]);
    }
    if (flagged == 0) continue;
    for (int64_t k = start; k < end; ++k) {
      const float level = QuantizeToLevel<RoundBf16, kZero, true>(x[k], sc, zp, qmin, qmax);
      const float v = DequantizeLevel<RoundBf16, kZero, true>(level, sc, zp);
      if (cpu_kernels::NeedsExactBf16Rounding(v * s_inverse_float[k], v != 0.0f)) {
        StoreRounded<RoundBf16, true>(static_cast<float>(cpu_kernels::DivideByReciprocal(v, s[k], s_inverse[k])),
                                      &out[k]);
      }
    }
  }
}
#define WRING_FAKE_QUANTIZE_ROW_BF16_SHORTCUT(Out, kSymmetric)                                                 \
  WRING_AVX512_KERNEL void FakeQuantizeRowBf16Shortcut(                                                       \
      const float* x, const double* s, const double* s_inverse, const float* s_inverse_float,                 \
      const float* scale, const float* zero, int64_t group, int64_t groups, float qmin, float qmax, Out* out, \
      Flag<kSymmetric>) {                                                                                     \
    FakeQuantizeRowShortcut<Out, kSymmetric>(x, s, s_inverse, s_inverse_float, scale, zero, group, groups,    \
                                             qmin, qmax, out);                                                \
  }
WRING_FAKE_QUANTIZE_ROW_BF16_SHORTCUT(uint16_t, true)
WRING_FAKE_QUANTIZE_ROW_BF16_SHORTCUT(uint16_t, false)
#undef WRING_FAKE_QUANTIZE_ROW_BF16_SHORTCUT

// Runs the row's variant of FakeQuantizeRow. `s_inverse`: the reciprocals
// of float64 s where they may replace the division, else null;
// `s_inverse_float`: their float32 values where the shortcut applies (a
// bf16 candidate only).
template <typename R, typename S, typename Out, bool kSymmetric, bool kFinite>
WRING_ROW_KERNEL void RunFakeQuantizeRow(const float* x, const S* s, const S* s_inverse,
                                         const float* s_inverse_float, const float* scale, const float* zero,
                                         int64_t group, int64_t groups, float qmin, float qmax, Out* out) {
  if constexpr (std::is_same<R, RoundBf16>::value && std::is_same<S, double>::value && kFinite) {
    if constexpr (std::is_same<Out, uint16_t>::value) {
      if (s_inverse_float != nullptr) {
        FakeQuantizeRowBf16Shortcut(x, s, s_inverse, s_inverse_float, scale, zero, group, groups, qmin, qmax, out,
                                    Flag<kSymmetric>());
        return;
      }
    }
    if (s_inverse != nullptr) {
      FakeQuantizeRowBf16ByReciprocal(x, s, s_inverse, scale, zero, group, groups, qmin, qmax, out,
                                      Flag<kSymmetric>());
      return;
    }
  }
  if constexpr (std::is_same<R, RoundBf16>::value) {
    FakeQuantizeRowBf16(x, s, scale, zero, group, groups, qmin, qmax, out, Flag<kSymmetric>(), Flag<kFinite>());
  } else {
    FakeQuantizeRow<R, S, Out, kSymmetric, kFinite>(x, s, nullptr, scale, zero, group, groups, qmin, qmax, out);
  }
}
template <typename R, typename S, typename Out>
void RunFakeQuantizeRow(bool symmetric, bool finite, const float* x, const S* s, const S* s_inverse,
                        const float* s_inverse_float, const float* scale, const float* zero, int64_t group,
                        int64_t groups, float qmin, float qmax, Out* out) {
  if (symmetric && finite) {
    RunFakeQuantizeRow<R, S, Out, true, true>(x, s, s_inverse, s_inverse_float, scale, zero, group, groups, qmin,
                                              qmax, out);
  } else if (symmetric) {
    RunFakeQuantizeRow<R, S, Out, true, false>(x, s, s_inverse, s_inverse_float, scale, zero, group, groups, qmin,
                                               qmax, out);
  } else if (finite) {
    RunFakeQuantizeRow<R, S, Out, false, true>(x, s, s_inverse, s_inverse_float, scale, zero, group, groups, qmin,
                                               qmax, out);
  } else {
    RunFakeQuantizeRow<R, S, Out, false, false>(x, s, s_inverse, s_inverse_float, scale, zero, group, groups,
                                                qmin, qmax, out);
  }
}

// The fused loop's state for one weight and grid point; rows on demand.
// R: how the weight's dtype rounds; S: the scales' dtype (the grid computes
// them in float32 or float64); Out: the weight's storage or float32;
// kDifference: W' - W instead of W' (float32).
template <typename R, typename S, typename Out, bool kDifference>
class RowMaker {
 public:
  using T = typename R::Stored;
  static constexpr bool kFloatOut = std::is_same<Out, float>::value;
  static_assert(kFloatOut || !kDifference, "the difference is float32");

  static absl::StatusOr<std::shared_ptr<const RowMaker>> Make(const torch::Tensor& weight,
                                                              const torch::Tensor& scales,
                                                              const quantize::QuantizationArgs& args) {
    auto maker = std::shared_ptr<RowMaker>(new RowMaker());
    maker->weight_ = weight;
    maker->scales_ = scales;
    maker->symmetric_ = args.symmetric;
    maker->cols_ = weight.size(1);
    const int64_t cols = maker->cols_;
    maker->group_ = args.strategy == QuantizationStrategy::kGroup ? args.group_size : cols;
    maker->groups_ = cols / maker->group_;
    maker->w_ = reinterpret_cast<const T*>(weight.data_ptr());
    const S* s = maker->s_ = scales.data_ptr<S>();
    maker->s_finite_ = std::all_of(s, s + cols, [](S v) { return std::isfinite(v) && v != 0; });
    // The division by s through reciprocals where it gives the same quotients.
    if (std::is_same<R, RoundBf16>::value && std::is_same<S, double>::value && cpu_kernels::CpuHasAvx512() &&
        std::all_of(s, s + cols, [](S v) { return cpu_kernels::ReciprocalDivisionIsExact(v); })) {
      maker->s_inverse_.resize(cols);
      for (int64_t j = 0; j < cols; ++j) maker->s_inverse_[j] = S(1) / s[j];
    }
    // float32 s and 1 / s where they may stand in (ScaleRowBf16Shortcut);
    // for the bf16 candidate only, which it makes about a sixth faster
    // (measured: the float32 forms, bound by their wider stores, gain
    // nothing).
    if (!kFloatOut && !maker->s_inverse_.empty() && std::all_of(s, s + cols, [](S v) {
          const double magnitude = std::fabs(static_cast<double>(v));
          return magnitude >= 0x1p-100 && magnitude <= 0x1p100;
        })) {
      maker->s_float_.assign(s, s + cols);
      maker->s_inverse_float_.assign(maker->s_inverse_.begin(), maker->s_inverse_.end());
    }
    WRING_ASSIGN_OR_RETURN(const quantize::QuantizedRange range, quantize::CalculateRange(args));
    maker->qmin_ = static_cast<float>(range.min);
    maker->qmax_ = static_cast<float>(range.max);
    return std::shared_ptr<const RowMaker>(std::move(maker));
  }

  // Rows [begin, end) into out, `stride` elements apart. One row at a
  // time, its dtype(W * s) kept in a buffer that stays in the cache: the
  // row's extremes, its qparams (compressed-tensors' arithmetic,
  // cpu_kernels::CalculateGroupQParams), then the fake quantization and the
  // way back through 1 / s.
  void Rows(int64_t begin, int64_t end, Out* out, int64_t stride) const {
    constexpr bool kCloned = std::is_same<R, RoundBf16>::value;
    const int64_t cols = cols_, group = group_, groups = groups_;
    const T* w = w_;
    const S* s = s_;
    std::vector<float> x(cols);
    std::vector<float> lo(groups), hi(groups), q_scale(groups), q_zero(groups);
    for (int64_t r = begin; r < end; ++r) {
      Out* o = out + (r - begin) * stride;
      // The next row into the cache while this one is made: an MoE layer's
      // weights meet the search from memory, and a bf16 row of 2048 is one
      // page, where the hardware's prefetcher stops (measured: 1.98 -> 1.65 ms
      // per candidate of 768 x 2048, the weights in turn).
      if (r + 1 < end) {
        const char* next = reinterpret_cast<const char*>(w + (r + 1) * cols);
        for (int64_t offset = 0; offset < cols * static_cast<int64_t>(sizeof(T)); offset += 64) {
          __builtin_prefetch(next + offset, /*rw=*/0, /*locality=*/3);
        }
      }
      if constexpr (kCloned && std::is_same<S, double>::value) {
        if (s_float_.empty()) {
          ScaleRowBf16(w + r * cols, s, x.data(), cols);
        } else {
          ScaleRowBf16Shortcut(w + r * cols, s, s_float_.data(), x.data(), cols);
        }
        GroupExtremesCloned(x.data(), group, groups, lo.data(), hi.data());
      } else if constexpr (kCloned) {
        ScaleRowBf16(w + r * cols, s, x.data(), cols);
        GroupExtremesCloned(x.data(), group, groups, lo.data(), hi.data());
      } else {
        ScaleRow<R, S>(w + r * cols, s, x.data(), cols);
        GroupExtremes(x.data(), group, groups, lo.data(), hi.data());
      }
      for (int64_t g = 0; g < groups; ++g) {
        const cpu_kernels::GroupQParams q =
            cpu_kernels::CalculateGroupQParams<R>(lo[g], hi[g], symmetric_, qmin_, qmax_);
        q_scale[g] = q.scale;
        q_zero[g] = q.zero;
      }
      const bool finite = s_finite_ && RowIsFinite(lo.data(), hi.data(), q_scale.data(), groups);
      RunFakeQuantizeRow<R, S, Out>(symmetric_, finite, x.data(), s,
                                    s_inverse_.empty() ? nullptr : s_inverse_.data(),
                                    s_inverse_float_.empty() ? nullptr : s_inverse_float_.data(), q_scale.data(),
                                    q_zero.data(), group, groups, qmin_, qmax_, o);
      if constexpr (kDifference && kCloned) {
        SubtractOriginalRowBf16(w + r * cols, o, cols);
      } else if constexpr (kDifference) {
        SubtractOriginalRow<R>(w + r * cols, o, cols);
      }
    }
  }

 private:
  RowMaker() = default;

  torch::Tensor weight_, scales_;  // kept alive for w_ and s_
  const T* w_ = nullptr;
  const S* s_ = nullptr;
  int64_t cols_ = 0, group_ = 0, groups_ = 0;
  bool symmetric_ = false, s_finite_ = false;
  float qmin_ = 0, qmax_ = 0;
  std::vector<S> s_inverse_;
  std::vector<float> s_float_, s_inverse_float_;
};

template <typename R, typename S, typename Out, bool kDifference>
absl::StatusOr<torch::Tensor> FusedCandidate(const torch::Tensor& weight, const torch::Tensor& scales,
                                             const quantize::QuantizationArgs& args) {
  using Maker = RowMaker<R, S, Out, kDifference>;
  WRING_ASSIGN_OR_RETURN(const std::shared_ptr<const Maker> maker, Maker::Make(weight, scales, args));
  torch::Tensor out = Maker::kFloatOut ? torch::empty(weight.sizes(), weight.options().dtype(torch::kFloat))
                                       : torch::empty_like(weight);
  Out* o = reinterpret_cast<Out*>(out.data_ptr());
  const int64_t cols = weight.size(1);
  at::parallel_for(0, weight.size(0), 16,
                   [&](int64_t begin, int64_t end) { maker->Rows(begin, end, o + begin * cols, cols); });
  return out;
}

template <typename R>
absl::StatusOr<torch::Tensor> FusedCandidateForScales(const torch::Tensor& weight,
                                                      const torch::Tensor& scales,
                                                      const quantize::QuantizationArgs& args, CandidateForm form) {
  const bool by_double = scales.scalar_type() == torch::kDouble;
  using T = typename R::Stored;
  switch (form) {
    case CandidateForm::kFloat32Difference:
      return by_double ? FusedCandidate<R, double, float, true>(weight, scales, args)
                       : FusedCandidate<R, float, float, true>(weight, scales, args);
    case CandidateForm::kFloat32:
      if (!std::is_same<T, float>::value) {
        return by_double ? FusedCandidate<R, double, float, false>(weight, scales, args)
                         : FusedCandidate<R, float, float, false>(weight, scales, args);
      }
      break;
    case CandidateForm::kWeightDtype:
      break;
  }
  return by_double ? FusedCandidate<R, double, T, false>(weight, scales, args)
                   : FusedCandidate<R, float, T, false>(weight, scales, args);
}

bool HasFusedLoop(const torch::Tensor& weight, const torch::Tensor& scales,
                  const quantize::QuantizationArgs& args) {
  const torch::Dtype dtype = weight.scalar_type();
  if (!weight.device().is_cpu() || weight.dim() != 2 || !weight.is_contiguous() || weight.numel() == 0 ||
      (dtype != torch::kBFloat16 && dtype != torch::kHalf && dtype != torch::kFloat)) {
    return false;
  }
  if (!scales.device().is_cpu() || scales.dim() != 1 || !scales.is_contiguous() ||
      scales.size(0) != weight.size(1) ||
      (scales.scalar_type() != torch::kFloat && scales.scalar_type() != torch::kDouble)) {
    return false;
  }
  if (args.type != quantize::QuantizationType::kInt || !quantize::ValidateArgs(args).ok()) return false;
  if (args.strategy == QuantizationStrategy::kChannel) return true;
  // Columns that are no whole number of groups get the chain's error.
  return args.strategy == QuantizationStrategy::kGroup && weight.size(1) >= args.group_size &&
         weight.size(1) % args.group_size == 0;
}

}  // namespace

absl::StatusOr<torch::Tensor> CandidateWeightByOps(const torch::Tensor& weight,
                                                   const torch::Tensor& scales,
                                                   const quantize::QuantizationArgs& args) {
  return CatchTorchErrors("AWQ candidate weight", [&]() -> absl::StatusOr<torch::Tensor> {
    const torch::Tensor row = scales.to(weight.device()).view({1, -1});
    const torch::Tensor scaled = (weight * row).to(weight.scalar_type());
    WRING_ASSIGN_OR_RETURN(quantize::QParams qparams, quantize::ComputeWeightQParams(scaled, args));
    WRING_ASSIGN_OR_RETURN(torch::Tensor fake, quantize::FakeQuantize(scaled, qparams, args));
    return (fake / row).to(weight.scalar_type());
  });
}

absl::StatusOr<std::optional<CandidateRows>> CandidateRows::Make(const torch::Tensor& weight,
                                                                 const torch::Tensor& scales,
                                                                 const quantize::QuantizationArgs& args) {
  if (weight.scalar_type() != torch::kBFloat16 || !HasFusedLoop(weight, scales, args)) {
    return std::optional<CandidateRows>();
  }
  return CatchTorchErrors("AWQ candidate rows", [&]() -> absl::StatusOr<std::optional<CandidateRows>> {
    CandidateRows rows;
    rows.rows_ = weight.size(0);
    rows.columns_ = weight.size(1);
    auto fill_with = [&](auto scale_type) -> absl::Status {
      using Maker = RowMaker<RoundBf16, decltype(scale_type), uint16_t, false>;
      WRING_ASSIGN_OR_RETURN(std::shared_ptr<const Maker> maker, Maker::Make(weight, scales, args));
      rows.fill_ = [maker](int64_t first, int64_t count, uint16_t* out, int64_t stride) {
        maker->Rows(first, first + count, out, stride);
      };
      return absl::OkStatus();
    };
    WRING_RETURN_IF_ERROR(scales.scalar_type() == torch::kDouble ? fill_with(double()) : fill_with(float()));
    return std::optional<CandidateRows>(std::move(rows));
  });
}

absl::StatusOr<torch::Tensor> CandidateWeight(const torch::Tensor& weight, const torch::Tensor& scales,
                                              const quantize::QuantizationArgs& args, CandidateForm form) {
  if (!HasFusedLoop(weight, scales, args)) {
    WRING_ASSIGN_OR_RETURN(torch::Tensor chain, CandidateWeightByOps(weight, scales, args));
    return CatchTorchErrors("AWQ candidate weight", [&]() -> absl::StatusOr<torch::Tensor> {
      switch (form) {
        case CandidateForm::kWeightDtype: return chain;
        case CandidateForm::kFloat32: return chain.to(torch::kFloat);
        case CandidateForm::kFloat32Difference: return chain.to(torch::kFloat) - weight.to(torch::kFloat);
      }
      return chain;
    });
  }
  return CatchTorchErrors("AWQ candidate weight", [&]() -> absl::StatusOr<torch::Tensor> {
    switch (weight.scalar_type()) {
      case torch::kBFloat16: return FusedCandidateForScales<RoundBf16>(weight, scales, args, form);
      case torch::kHalf: return FusedCandidateForScales<RoundHalf>(weight, scales, args, form);
      default: return FusedCandidateForScales<RoundFloat>(weight, scales, args, form);
    }
  });
}

}  // namespace awq
}  // namespace backend
}  // namespace wring
