// One calibrated activation quantity (a Linear's input, an attention's keys
// or values): its observer, and the `<base>_scale` / `<base>_zero_point`
// parameters compressed-tensors registers for it (initialize_qparams) and
// llm-compressor's update_qparams fills. Shared by the public calibrators.
#ifndef WRING_BACKEND_OBSERVE_INTERNAL_CALIBRATED_VALUE_H_
#define WRING_BACKEND_OBSERVE_INTERNAL_CALIBRATED_VALUE_H_

#include <torch/torch.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "backend/observe/args.h"
#include "backend/observe/observer.h"
#include "backend/quantize/quantize.h"

namespace wring {
namespace backend {
namespace observe {
namespace internal {

class CalibratedValue {
 public:
  // `param_shape`: the registered scale shape. `param_dtype`: the dtype the
  // module registers the scale with. `with_zero_point`: whether a zero
  // point parameter exists (asymmetric, or force_zero_point for Linear).
  static absl::StatusOr<std::unique_ptr<CalibratedValue>> Create(std::string base_name, ObservedValue value,
                                                                 const ObservedArgs& args,
                                                                 std::vector<int64_t> param_shape,
                                                                 torch::Dtype param_dtype, bool with_zero_point);

  bool is_dynamic() const { return args_.dynamic; }
  const quantize::QuantizationArgs& args() const { return args_.quantize; }
  const std::string& observer_name() const { return observer_name_; }
  // Null for dynamic args.
  Observer* observer() const { return observer_.get(); }

  absl::Status Observe(const torch::Tensor& value);
  absl::Status UpdateQParams();
  // Static: the parameters after UpdateQParams; FailedPrecondition before.
  absl::StatusOr<quantize::QParams> StoredQParams() const;
  absl::StatusOr<torch::Tensor> FakeQuantize(const torch::Tensor& value) const;

 private:
  CalibratedValue(std::string base_name, const ObservedArgs& args, std::vector<int64_t> param_shape,
                  torch::Dtype param_dtype, bool with_zero_point)
      : base_name_(std::move(base_name)),
        args_(args),
        param_shape_(std::move(param_shape)),
        param_dtype_(param_dtype),
        with_zero_point_(with_zero_point) {}

  std::string base_name_;
  ObservedArgs args_;
  std::vector<int64_t> param_shape_;
  torch::Dtype param_dtype_;
  bool with_zero_point_;
  std::string observer_name_;
  std::unique_ptr<Observer> observer_;  // null for dynamic args
  std::optional<quantize::QParams> stored_;
};

// initialize_qparams' scale dtype: the observed (weight) dtype when it is
// floating, else float16.
torch::Dtype ScaleParamDtype(torch::Dtype observed_dtype);

}  // namespace internal
}  // namespace observe
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_OBSERVE_INTERNAL_CALIBRATED_VALUE_H_
