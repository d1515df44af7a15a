#include "backend/awq/candidate_weight.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "backend/base/torch_errors.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace awq {
namespace {

using quantize::QuantizationStrategy;

// A LibTorch CPU kernel on a reduced-precision tensor computes in float and
// rounds the result once to the tensor's dtype; a float64 result is first
// narrowed to float (c10::BFloat16 and c10::Half convert from float only).
template <typename T>
T Narrow(double v) {
  return T(static_cast<float>(v));
}
template <typename T>
T Narrow(float v) {
  return T(v);
}

template <typename T>
bool IsNan(T v) {
  return std::isnan(static_cast<float>(v));
}

// NaN-propagating, as torch.amin / amax and torch.clamp are.
template <typename T>
T Lesser(T a, T b) {
  if (IsNan(a)) return a;
  if (IsNan(b)) return b;
  return static_cast<float>(b) < static_cast<float>(a) ? b : a;
}
template <typename T>
T Greater(T a, T b) {
  if (IsNan(a)) return a;
  if (IsNan(b)) return b;
  return static_cast<float>(b) > static_cast<float>(a) ? b : a;
}

// T: the weight's dtype; S: the scales' (the grid computes them in float32
// or float64, and `W * s` computes in the wider of the two).
template <typename T, typename S>
absl::StatusOr<torch::Tensor> FusedCandidate(const torch::Tensor& weight, const torch::Tensor& scales,
                                             const quantize::QuantizationArgs& args) {
  using Product = std::conditional_t<std::is_same<S, double>::value, double, float>;
  const int64_t rows = weight.size(0), cols = weight.size(1);
  const int64_t group = args.strategy == QuantizationStrategy::kGroup ? args.group_size : cols;
  const int64_t groups = cols / group;
  const T* w = weight.data_ptr<T>();
  const S* s = scales.data_ptr<S>();

  // Pass 1: dtype(W * s) and each group's minimum and maximum.
  torch::Tensor scaled = torch::empty_like(weight);
  torch::Tensor minima = torch::empty({rows, groups}, weight.options());
  torch::Tensor maxima = torch::empty({rows, groups}, weight.options());
  T* x = scaled.data_ptr<T>();
  T* lo = minima.data_ptr<T>();
  T* hi = maxima.data_ptr<T>();
  at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t at = r * cols + g * group;
        T low = Narrow<T>(static_cast<Product>(static_cast<Product>(w[at]) * s[g * group]));
        T high = low;
        for (int64_t j = 0; j < group; ++j) {
          const T v = Narrow<T>(static_cast<Product>(static_cast<Product>(w[at + j]) * s[g * group + j]));
          x[at + j] = v;
          low = Lesser(low, v);
          high = Greater(high, v);
        }
        lo[r * groups + g] = low;
        hi[r * groups + g] = high;
      }
    }
  });

  WRING_ASSIGN_OR_RETURN(const quantize::QParams qparams,
                         quantize::CalculateQParams(minima, maxima, args));
  WRING_ASSIGN_OR_RETURN(const quantize::QuantizedRange range, quantize::CalculateRange(args));
  const torch::Tensor scale = qparams.scale.contiguous();
  const torch::Tensor zero = qparams.zero_point.to(weight.scalar_type()).contiguous();
  const T* q_scale = scale.data_ptr<T>();
  const T* q_zero = zero.data_ptr<T>();
  const T range_min = T(static_cast<float>(range.min)), range_max = T(static_cast<float>(range.max));

  // Pass 2: compressed-tensors' fake quantization, then back through 1 / s.
  torch::Tensor out = torch::empty_like(weight);
  T* o = out.data_ptr<T>();
  at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      for (int64_t g = 0; g < groups; ++g) {
        const float sc = static_cast<float>(q_scale[r * groups + g]);
        const float zp = static_cast<float>(q_zero[r * groups + g]);
        const int64_t at = r * cols + g * group;
        for (int64_t j = 0; j < group; ++j) {
          T v = T(static_cast<float>(x[at + j]) / sc);
          v = T(static_cast<float>(v) + zp);
          if (!IsNan(v)) v = Greater(Lesser(v, range_max), range_min);
          v = T(std::nearbyint(static_cast<float>(v)));  // half to even
          v = T(static_cast<float>(v) - zp);
          v = T(static_cast<float>(v) * sc);
          o[at + j] = Narrow<T>(static_cast<Product>(static_cast<Product>(v) / s[g * group + j]));
        }
      }
    }
  });
  return out;
}

template <typename T>
absl::StatusOr<torch::Tensor> FusedCandidateForScales(const torch::Tensor& weight,
                                                      const torch::Tensor& scales,
                                                      const quantize::QuantizationArgs& args) {
  if (scales.scalar_type() == torch::kDouble) return FusedCandidate<T, double>(weight, scales, args);
  return FusedCandidate<T, float>(weight, scales, args);
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

absl::StatusOr<torch::Tensor> CandidateWeight(const torch::Tensor& weight, const torch::Tensor& scales,
                                              const quantize::QuantizationArgs& args) {
  if (!HasFusedLoop(weight, scales, args)) return CandidateWeightByOps(weight, scales, args);
  return CatchTorchErrors("AWQ candidate weight", [&]() -> absl::StatusOr<torch::Tensor> {
    switch (weight.scalar_type()) {
      case torch::kBFloat16: return FusedCandidateForScales<c10::BFloat16>(weight, scales, args);
      case torch::kHalf: return FusedCandidateForScales<c10::Half>(weight, scales, args);
      default: return FusedCandidateForScales<float>(weight, scales, args);
    }
  });
}

}  // namespace awq
}  // namespace backend
}  // namespace wring
