#include "backend/finite/finite.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "backend/base/torch_errors.h"

namespace wring {
namespace backend {
namespace finite {
namespace {

std::string DtypeName(torch::Dtype dtype) { return std::string(c10::toString(dtype)); }

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
  if (torch::isfinite(tensor).all().item<bool>()) return std::nullopt;
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
