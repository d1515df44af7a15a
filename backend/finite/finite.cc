#include "backend/finite/finite.h"

#include <atomic>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "backend/base/torch_errors.h"
#include "backend/cpu_kernels/parallel_for.h"
#include "backend/cpu_kernels/rounding.h"

namespace wring {
namespace backend {
namespace finite {
namespace {

std::string DtypeName(torch::Dtype dtype) { return std::string(c10::toString(dtype)); }

// Whether any of n values has all its exponent bits set (a NaN or an inf).
template <typename Bits>
WRING_ROW_KERNEL bool AnyExponentAllOnes(const Bits* values, int64_t n, Bits exponent_mask) {
  Bits all_ones = 0;
  for (int64_t i = 0; i < n; ++i) all_ones |= static_cast<Bits>((values[i] & exponent_mask) == exponent_mask);
  return all_ones != 0;
}
// Compiled for AVX-512 and AVX2 too: the checks read a layer's weights
// several times, and the baseline's 128-bit loop ran at a fifth of the
// memory's rate.
WRING_CPU_CLONES bool AnyExponentAllOnesCloned(const uint16_t* values, int64_t n, uint16_t exponent_mask) {
  return AnyExponentAllOnes(values, n, exponent_mask);
}
WRING_CPU_CLONES bool AnyExponentAllOnesCloned(const uint32_t* values, int64_t n, uint32_t exponent_mask) {
  return AnyExponentAllOnes(values, n, exponent_mask);
}

// Whether every value's exponent bits are below all-ones, `Bits` being the
// dtype's storage.
template <typename Bits>
bool ExponentsBelowAllOnes(const Bits* values, int64_t n, Bits exponent_mask) {
  std::atomic<bool> finite{true};
  at::parallel_for(0, n, 1 << 16, [&](int64_t begin, int64_t end) {
    if (AnyExponentAllOnesCloned(values + begin, end - begin, exponent_mask)) {
      finite.store(false, std::memory_order_relaxed);
    }
  });
  return finite.load();
}

// isfinite(t).all() without its bool tensors: the checks read every weight
// of a layer two or three times, and LibTorch's isfinite on bf16 takes
// several passes (about a second per Qwen3-30B-A3B MoE layer).
bool AllFinite(const torch::Tensor& tensor) {
  if (tensor.device().is_cpu() && tensor.is_contiguous()) {
    const void* data = tensor.data_ptr();
    switch (tensor.scalar_type()) {
      case torch::kBFloat16:
        return ExponentsBelowAllOnes(static_cast<const uint16_t*>(data), tensor.numel(), uint16_t{0x7F80});
      case torch::kHalf:
        return ExponentsBelowAllOnes(static_cast<const uint16_t*>(data), tensor.numel(), uint16_t{0x7C00});
      case torch::kFloat:
        return ExponentsBelowAllOnes(static_cast<const uint32_t*>(data), tensor.numel(), uint32_t{0x7F800000});
      default:
        break;
    }
  }
  return torch::isfinite(tensor).all().item<bool>();
}

}  // namespace

std::string NonFinite::Describe() const {
  std::vector<std::string> parts;
  if (nan > 0) parts.push_back(absl::StrCat(nan, " NaN"));
  if (positive_infinity > 0) parts.push_back(absl::StrCat(positive_infinity, " +inf"));
  if (negative_infinity > 0) parts.push_back(absl::StrCat(negative_infinity, " -inf"));
  return absl::StrCat(absl::StrJoin(parts, ", "), " (first at [", absl::StrJoin(first, ", "), "])");
}

std::optional<NonFinite> FindNonFinite(const torch::Tensor& tensor) {
  if (!tensor.defined() || !tensor.is_floating_point() || tensor.numel() == 0) return std::nullopt;
  if (AllFinite(tensor)) return std::nullopt;
  NonFinite found;
  found.nan = torch::isnan(tensor).sum().item<int64_t>();
  found.positive_infinity = torch::isposinf(tensor).sum().item<int64_t>();
  found.negative_infinity = torch::isneginf(tensor).sum().item<int64_t>();
  const int64_t flat = torch::logical_not(torch::isfinite(tensor)).flatten().nonzero()[0][0].item<int64_t>();
  int64_t rest = flat;
  found.first.assign(tensor.dim(), 0);
  for (int64_t d = tensor.dim() - 1; d >= 0; --d) {
    found.first[d] = rest % tensor.size(d);
    rest /= tensor.size(d);
  }
  return found;
}

absl::Status CheckWeight(const std::string& name, const torch::Tensor& weight) {
  absl::StatusOr<std::optional<NonFinite>> found = CatchTorchErrors(
      name, [&]() -> absl::StatusOr<std::optional<NonFinite>> { return FindNonFinite(weight); });
  if (!found.ok()) return found.status();
  if (!found->has_value()) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat(
      "the checkpoint's weight ", name, " holds ", (*found)->Describe(),
      " as loaded, before wring computed anything: the checkpoint is damaged (or was saved from "
      "a diverged run). Nothing was written. Re-download or re-export the model; if only this "
      "layer is affected and you accept that, restore it from another copy of the model"));
}

absl::Status CheckQuantizationParameter(const std::string& name, const torch::Tensor& value) {
  absl::StatusOr<std::optional<NonFinite>> found = CatchTorchErrors(
      name, [&]() -> absl::StatusOr<std::optional<NonFinite>> { return FindNonFinite(value); });
  if (!found.ok()) return found.status();
  if (!found->has_value()) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat(
      name, " came out as ", (*found)->Describe(),
      " from finite weights and activations; nothing was written. Try another observer or "
      "strategy for this module (e.g. minmax instead of mse, a smaller group_size), or add the "
      "module to the recipe's ignore list, and report this"));
}

absl::Status CheckModifiedWeight(const std::string& name, const torch::Tensor& weight,
                                 const std::string& modifier) {
  absl::StatusOr<std::optional<NonFinite>> found = CatchTorchErrors(
      name, [&]() -> absl::StatusOr<std::optional<NonFinite>> { return FindNonFinite(weight); });
  if (!found.ok()) return found.status();
  if (!found->has_value()) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat(
      modifier, " made ", name, " hold ", (*found)->Describe(), " (", DtypeName(weight.scalar_type()),
      ") from finite weights; nothing was written. Its scales overflow this dtype: try a float32 or "
      "bfloat16 copy of the checkpoint, duo_scaling: false, or leave this mapping out of the "
      "modifier's mappings"));
}

std::string ActivationAdvice(torch::Dtype dtype, bool after_quantization) {
  if (after_quantization) {
    return "It appears only once quantization or smoothing changed the layer: try another "
           "observer or strategy for this module (e.g. mse, per token, a smaller group_size), "
           "duo_scaling: false for AWQ, or add the module to the recipe's ignore list";
  }
  if (dtype == torch::kHalf) {
    return "The model's own forward pass leaves float16's range (65504) on this sample: use a "
           "bfloat16 or float32 copy of the checkpoint (torch_dtype in config.json), or leave the "
           "samples that overflow out of --dataset";
  }
  return absl::StrCat("The model's own forward pass gives it in ", DtypeName(dtype),
                      " on this sample: check the sample (real text, token ids the model was "
                      "trained on) and the checkpoint, or try a float32 copy of the checkpoint");
}

}  // namespace finite
}  // namespace backend
}  // namespace wring
