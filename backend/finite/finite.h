// Non-finite values (NaN, +inf, -inf) found and named.
//
// One NaN in one weight used to give a checkpoint with NaN scales, a quality
// report of "-nan" and a 0 output error for every later layer: a run must
// stop instead, naming the tensor, where in it, and what to try. The check
// is one pass (isfinite().all()) on the tensor's own device; counting and
// locating happen only once something was found. Every finding is a
// DATA_LOSS status (`wring compress` exits 3).
#ifndef WRING_BACKEND_FINITE_FINITE_H_
#define WRING_BACKEND_FINITE_FINITE_H_

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace wring {
namespace backend {
namespace finite {

struct NonFinite {
  int64_t nan = 0;
  int64_t positive_infinity = 0;
  int64_t negative_infinity = 0;
  std::vector<int64_t> first;  // index of the first one, in row-major order

  // "3 NaN, 1 +inf (first at [0, 12, 40])".
  std::string Describe() const;
};

// Nothing for a finite (or non-floating) tensor.
std::optional<NonFinite> FindNonFinite(const torch::Tensor& tensor);

// Weights as they load: `name` is the checkpoint's tensor name.
absl::Status CheckWeight(const std::string& name, const torch::Tensor& weight);

// Scales and zero points before they are written: `name` is the tensor's
// name in the checkpoint (".weight_scale", ".input_scale", ...).
absl::Status CheckQuantizationParameter(const std::string& name, const torch::Tensor& value);

// Weights a modifier changed (AWQ's smoothing), checked before they are
// quantized: `modifier` names it for the message.
absl::Status CheckModifiedWeight(const std::string& name, const torch::Tensor& weight,
                                 const std::string& modifier);

// What to try when an activation of `dtype` went non-finite: in the model's
// own forward pass (`after_quantization` false: the dtype's range or the
// data), or only once quantization or smoothing changed the layer.
std::string ActivationAdvice(torch::Dtype dtype, bool after_quantization);

}  // namespace finite
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_FINITE_FINITE_H_
