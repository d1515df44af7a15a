// Calibration of one Linear's input activations, as llm-compressor's
// QuantizationModifier does it with compressed-tensors' module lifecycle.
//
// Static args (dynamic: false): the module gets an input observer
// (ResolveObserverName: the args' observer, or "minmax" when unset) that sees
// every forward call's input before the module runs (calibrate_input_hook, a
// forward pre-hook: the raw, unquantized input). At the end of each
// sequential epoch UpdateQParams turns the statistics into `input_scale` (the
// Linear weight's dtype, shape (1,) for tensor, (in_features / g,) for group)
// and `input_zero_point` (int8, or float8_e4m3fn for fp8 args) and clears the
// statistics. Dynamic args (dynamic: true, e.g. per-token W8A8 / FP8_DYNAMIC,
// FP8_BLOCK's group-128 inputs): nothing is observed or stored; FakeQuantize
// computes qparams per call (compute_dynamic_scales_and_zp).
//
// FakeQuantize is what the module feeds its matmul when quantization is
// enabled (forward_quantize). llm-compressor's calibration pipelines run with
// quantization disabled, so during calibration the module sees the raw input;
// FakeQuantize applies to the frozen model (and to pipelines that enable it).
#ifndef WRING_BACKEND_OBSERVE_ACTIVATION_CALIBRATOR_H_
#define WRING_BACKEND_OBSERVE_ACTIVATION_CALIBRATOR_H_

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "backend/observe/observer.h"
#include "backend/quantize/quantize.h"
#include "mapping/quantization/quantization_args.h"

namespace wring {
namespace backend {
namespace observe {
namespace internal {
class CalibratedValue;
}  // namespace internal

class ActivationCalibrator {
 public:
  // `input_args`: the module's scheme.input_activations (validated).
  // `weight_dtype` / `in_features`: the Linear weight's dtype and column
  // count, which fix the parameters' dtype and shape.
  static absl::StatusOr<std::unique_ptr<ActivationCalibrator>> Create(const mapping::QuantizationArgs& input_args,
                                                                      torch::Dtype weight_dtype, int64_t in_features);

  ~ActivationCalibrator();

  bool is_dynamic() const;
  // Empty for dynamic args.
  const std::string& observer_name() const;
  // The input observer (data-parallel workers combine its statistics);
  // empty for dynamic args.
  std::vector<Observer*> Observers() const;
  const quantize::QuantizationArgs& args() const;

  // The Linear's input for one forward call ([batch, tokens, in_features]).
  // No-op for dynamic args.
  absl::Status Observe(const torch::Tensor& input);

  // on_sequential_epoch_end: statistics -> parameters (no-op without any).
  absl::Status UpdateQParams();

  // end_calibration: UpdateQParams, then the stored parameters (scale in the
  // weight dtype; zero point as registered, zeros for symmetric args, which
  // the compressor drops). FailedPrecondition for dynamic args or when no
  // input was ever observed.
  absl::StatusOr<quantize::QParams> Freeze();

  // forward_quantize on the input: frozen qparams (static) or per-call ones.
  absl::StatusOr<torch::Tensor> FakeQuantize(const torch::Tensor& input) const;

 private:
  explicit ActivationCalibrator(std::unique_ptr<internal::CalibratedValue> value);

  std::unique_ptr<internal::CalibratedValue> value_;
};

}  // namespace observe
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_OBSERVE_ACTIVATION_CALIBRATOR_H_
