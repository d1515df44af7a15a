#include "backend/observe/kv_cache_calibrator.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "backend/observe/internal/calibrated_value.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace observe {

KvCacheCalibrator::KvCacheCalibrator(std::unique_ptr<internal::CalibratedValue> key,
                                     std::unique_ptr<internal::CalibratedValue> value,
                                     int64_t num_kv_heads, int64_t head_dim)
    : key_(std::move(key)), value_(std::move(value)), num_kv_heads_(num_kv_heads), head_dim_(head_dim) {}
KvCacheCalibrator::~KvCacheCalibrator() = default;

bool KvCacheCalibrator::is_dynamic() const { return key_->is_dynamic(); }
const std::string& KvCacheCalibrator::observer_name() const { return key_->observer_name(); }
const quantize::QuantizationArgs& KvCacheCalibrator::args() const { return key_->args(); }

absl::StatusOr<std::unique_ptr<KvCacheCalibrator>> KvCacheCalibrator::Create(
    const mapping::QuantizationArgs& kv_cache_scheme, torch::Dtype attention_dtype, int64_t num_kv_heads,
    int64_t head_dim) {
  WRING_ASSIGN_OR_RETURN(const ObservedArgs args, FromMappingArgs(kv_cache_scheme, "kv_cache_scheme"));
  if (num_kv_heads <= 0 || head_dim <= 0) {
    return absl::InvalidArgumentError("KvCacheCalibrator: num_kv_heads and head_dim must be positive");
  }
  using quantize::QuantizationStrategy;
  const QuantizationStrategy strategy = args.quantize.strategy;
  std::vector<int64_t> param_shape;
  if (!args.dynamic) {
    if (strategy == QuantizationStrategy::kTensor) {
      param_shape = {1};
    } else if (strategy == QuantizationStrategy::kAttnHead) {
      param_shape = {num_kv_heads, 1, 1};
    } else {
      return absl::InvalidArgumentError(
          "kv_cache_scheme.strategy: a static KV cache is quantized per tensor or per attention head (attn_head)");
    }
  }
  const bool with_zero_point = !args.quantize.symmetric;
  WRING_ASSIGN_OR_RETURN(std::unique_ptr<internal::CalibratedValue> key,
                         internal::CalibratedValue::Create("k", ObservedValue::kAttention, args, param_shape,
                                                           attention_dtype, with_zero_point));
  WRING_ASSIGN_OR_RETURN(std::unique_ptr<internal::CalibratedValue> value,
                         internal::CalibratedValue::Create("v", ObservedValue::kAttention, args, param_shape,
                                                           attention_dtype, with_zero_point));
  return std::unique_ptr<KvCacheCalibrator>(
      new KvCacheCalibrator(std::move(key), std::move(value), num_kv_heads, head_dim));
}

absl::Status KvCacheCalibrator::CheckStates(const torch::Tensor& states, const char* what) const {
  if (!states.defined() || states.dim() != 4 || states.size(1) != num_kv_heads_ || states.size(3) != head_dim_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "KvCacheCalibrator: ", what, " must be [batch, ", num_kv_heads_, ", tokens, ", head_dim_, "], got [",
        states.defined() ? absl::StrJoin(states.sizes(), ", ") : "undefined", "]"));
  }
  return absl::OkStatus();
}

std::vector<Observer*> KvCacheCalibrator::Observers() const {
  std::vector<Observer*> observers;
  for (const auto* value : {key_.get(), value_.get()}) {
    if (value->observer() != nullptr) observers.push_back(value->observer());
  }
  return observers;
}

absl::Status KvCacheCalibrator::ObserveKey(const torch::Tensor& key_states) {
  WRING_RETURN_IF_ERROR(CheckStates(key_states, "key states"));
  return key_->Observe(key_states);
}

absl::Status KvCacheCalibrator::ObserveValue(const torch::Tensor& value_states) {
  WRING_RETURN_IF_ERROR(CheckStates(value_states, "value states"));
  return value_->Observe(value_states);
}

absl::Status KvCacheCalibrator::UpdateQParams() {
  WRING_RETURN_IF_ERROR(key_->UpdateQParams());
  return value_->UpdateQParams();
}

absl::StatusOr<KvCacheQParams> KvCacheCalibrator::Freeze() {
  WRING_RETURN_IF_ERROR(UpdateQParams());
  KvCacheQParams out;
  WRING_ASSIGN_OR_RETURN(out.key, key_->StoredQParams());
  WRING_ASSIGN_OR_RETURN(out.value, value_->StoredQParams());
  return out;
}

absl::StatusOr<torch::Tensor> KvCacheCalibrator::FakeQuantizeKey(const torch::Tensor& key_states) const {
  WRING_RETURN_IF_ERROR(CheckStates(key_states, "key states"));
  return key_->FakeQuantize(key_states);
}

absl::StatusOr<torch::Tensor> KvCacheCalibrator::FakeQuantizeValue(const torch::Tensor& value_states) const {
  WRING_RETURN_IF_ERROR(CheckStates(value_states, "value states"));
  return value_->FakeQuantize(value_states);
}

}  // namespace observe
}  // namespace backend
}  // namespace wring
