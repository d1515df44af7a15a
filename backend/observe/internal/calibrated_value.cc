#include "backend/observe/internal/calibrated_value.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "backend/base/torch_errors.h"
#include "backend/compat/torch_compat.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace observe {
namespace internal {

torch::Dtype ScaleParamDtype(torch::Dtype observed_dtype) {
  switch (observed_dtype) {
    case torch::kHalf:
    case torch::kBFloat16:
    case torch::kFloat:
    case torch::kDouble:
      return observed_dtype;
    default:
      return torch::kHalf;
  }
}

absl::StatusOr<std::unique_ptr<CalibratedValue>> CalibratedValue::Create(std::string base_name, ObservedValue value,
                                                                         const ObservedArgs& args,
                                                                         std::vector<int64_t> param_shape,
                                                                         torch::Dtype param_dtype,
                                                                         bool with_zero_point) {
  std::unique_ptr<CalibratedValue> calibrated(new CalibratedValue(std::move(base_name), args, std::move(param_shape),
                                                                  ScaleParamDtype(param_dtype), with_zero_point));
  if (args.dynamic) return calibrated;  // computed per call, nothing observed or stored
  calibrated->observer_name_ = ResolveObserverName(args.observer, value);
  WRING_ASSIGN_OR_RETURN(const ObserverOptions options,
                         ParseObserverOptions(calibrated->observer_name_, args.observer_kwargs));
  WRING_ASSIGN_OR_RETURN(calibrated->observer_, Observer::Create(value, args.quantize, options));
  return calibrated;
}

absl::Status CalibratedValue::Observe(const torch::Tensor& value) {
  if (observer_ == nullptr) return absl::OkStatus();
  return observer_->Observe(value);
}

absl::Status CalibratedValue::UpdateQParams() {
  if (observer_ == nullptr || !observer_->has_statistics()) return absl::OkStatus();
  WRING_ASSIGN_OR_RETURN(const quantize::QParams computed, observer_->GetQParams());
  if (computed.scale.sizes().vec() != param_shape_) {
    return absl::InvalidArgumentError(absl::StrCat(
        base_name_, "_scale: observed qparams have shape [", absl::StrJoin(computed.scale.sizes(), ", "),
        "] but the parameter is [", absl::StrJoin(param_shape_, ", "),
        "]; the observed tensors do not match the module's shape"));
  }
  // update_offload_parameter copies into the registered parameters, which
  // casts the scale to the module's dtype.
  return CatchTorchErrors("UpdateQParams", [&]() -> absl::Status {
    quantize::QParams stored;
    stored.scale = computed.scale.to(param_dtype_).contiguous();
    if (with_zero_point_) stored.zero_point = computed.zero_point.contiguous();
    stored_ = std::move(stored);
    return absl::OkStatus();
  });
}

absl::StatusOr<quantize::QParams> CalibratedValue::StoredQParams() const {
  if (args_.dynamic) {
    return absl::FailedPreconditionError(absl::StrCat(base_name_, ": dynamic quantization stores no qparams"));
  }
  if (!stored_) {
    return absl::FailedPreconditionError(absl::StrCat(
        base_name_, "_scale was never calibrated: no calibration data reached this module (upstream warns "
                    "\"Attempted to calibrate a module ",
        base_name_, " without statistics\" and leaves the parameter uninitialized)"));
  }
  return *stored_;
}

absl::StatusOr<torch::Tensor> CalibratedValue::FakeQuantize(const torch::Tensor& value) const {
  if (!value.defined()) return absl::InvalidArgumentError("FakeQuantize: undefined value");
  if (value.numel() == 0) return value;
  if (args_.dynamic) {
    WRING_ASSIGN_OR_RETURN(const quantize::QParams qparams, quantize::ComputeDynamicQParams(value, args_.quantize));
    return quantize::FakeQuantize(value, qparams, args_.quantize);
  }
  WRING_ASSIGN_OR_RETURN(const quantize::QParams qparams, StoredQParams());
  return quantize::FakeQuantize(value, qparams, args_.quantize);
}

}  // namespace internal
}  // namespace observe
}  // namespace backend
}  // namespace wring
