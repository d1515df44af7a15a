#include "backend/observe/activation_calibrator.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "backend/observe/internal/calibrated_value.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace observe {

ActivationCalibrator::ActivationCalibrator(std::unique_ptr<internal::CalibratedValue> value)
    : value_(std::move(value)) {}
ActivationCalibrator::~ActivationCalibrator() = default;

bool ActivationCalibrator::is_dynamic() const { return value_->is_dynamic(); }
const std::string& ActivationCalibrator::observer_name() const { return value_->observer_name(); }
const quantize::QuantizationArgs& ActivationCalibrator::args() const { return value_->args(); }

absl::StatusOr<std::unique_ptr<ActivationCalibrator>> ActivationCalibrator::Create(
    const mapping::QuantizationArgs& input_args, torch::Dtype weight_dtype, int64_t in_features) {
  WRING_ASSIGN_OR_RETURN(const ObservedArgs args, FromMappingArgs(input_args, "input_activations"));
  using quantize::QuantizationStrategy;
  const QuantizationStrategy strategy = args.quantize.strategy;
  if (strategy != QuantizationStrategy::kToken && strategy != QuantizationStrategy::kTensor &&
      strategy != QuantizationStrategy::kGroup) {
    return absl::InvalidArgumentError(
        "input_activations.strategy: Linear inputs are quantized per tensor, token or group");
  }
  if (in_features <= 0) return absl::InvalidArgumentError("ActivationCalibrator: in_features must be positive");
  std::vector<int64_t> param_shape = {1};
  if (strategy == QuantizationStrategy::kGroup) {
    // strategy_cdiv (non-strict): a partial last group still gets a slot.
    param_shape = {(in_features + args.quantize.group_size - 1) / args.quantize.group_size};
  }
  // Linear modules register a zero point even for symmetric args
  // (force_zero_point before compression).
  WRING_ASSIGN_OR_RETURN(std::unique_ptr<internal::CalibratedValue> value,
                         internal::CalibratedValue::Create("input", ObservedValue::kActivation, args,
                                                           std::move(param_shape), weight_dtype,
                                                           /*with_zero_point=*/true));
  return std::unique_ptr<ActivationCalibrator>(new ActivationCalibrator(std::move(value)));
}

absl::Status ActivationCalibrator::Observe(const torch::Tensor& input) { return value_->Observe(input); }

std::vector<Observer*> ActivationCalibrator::Observers() const {
  if (value_->observer() == nullptr) return {};
  return {value_->observer()};
}

absl::Status ActivationCalibrator::UpdateQParams() { return value_->UpdateQParams(); }

absl::StatusOr<quantize::QParams> ActivationCalibrator::Freeze() {
  WRING_RETURN_IF_ERROR(value_->UpdateQParams());
  return value_->StoredQParams();
}

absl::StatusOr<torch::Tensor> ActivationCalibrator::FakeQuantize(const torch::Tensor& input) const {
  return value_->FakeQuantize(input);
}

}  // namespace observe
}  // namespace backend
}  // namespace wring
