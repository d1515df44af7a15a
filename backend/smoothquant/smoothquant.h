// llm-compressor 0.14's SmoothQuantModifier arithmetic
// (modifiers/transform/smoothquant/base.py), for one resolved mapping: a
// smooth layer (a norm, or a Linear) whose output feeds the balance Linears.
//
//   calibration   per-channel min and max of the smooth layer's output over
//                 every calibration token (running torch.minimum/maximum),
//                 in the output's dtype;
//   scales        r = max - min (the dynamic range, not the absolute max),
//                 w = 2 * max over the balance weights of |W| per input
//                 channel, s = r^a / w^(1-a) where w > 0, else r
//                 (algorithm "log_equalization": s = r / log2(2 + r)), all in
//                 the model dtype as upstream's tensor operations round them,
//                 then floored at 1e-5 in float32;
//   smoothing     balance weights * s (per input column), smooth weight / s
//                 (per output channel) and its bias / s, each computed in
//                 float32 and stored back in the parameter's dtype.
// (The mapping's resolution lives in the mapping core: mapping/smoothquant.)
#ifndef WRING_BACKEND_SMOOTHQUANT_SMOOTHQUANT_H_
#define WRING_BACKEND_SMOOTHQUANT_SMOOTHQUANT_H_

#include <torch/torch.h>

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "backend/distributed/collectives.h"

namespace wring {
namespace backend {
namespace smoothquant {

enum class Algorithm { kSmoothQuant, kLogEqualization };

// The running per-channel range of a smooth layer's output.
class ChannelRange {
 public:
  // `output` [..., channels]; flattened over everything but the last dim.
  absl::Status Observe(const torch::Tensor& output);
  bool empty() const { return !min_.defined(); }
  // Data-parallel workers: every rank ends with the range over all ranks'
  // outputs (a rank that observed nothing contributes nothing).
  absl::Status CombineOverRanks(distributed::Collectives& collectives, absl::string_view what);
  const torch::Tensor& min() const { return min_; }
  const torch::Tensor& max() const { return max_; }

 private:
  torch::Tensor min_;
  torch::Tensor max_;
};

// _calculate_smoothing_scales + the 1e-5 floor: float32 [channels].
// `balance_weights` [out_k, channels] each (model dtype).
absl::StatusOr<torch::Tensor> SmoothingScales(const ChannelRange& range,
                                              const std::vector<torch::Tensor>& balance_weights,
                                              double smoothing_strength, Algorithm algorithm);

// The parameters _apply_smoothing rewrites, in place (each keeps its dtype).
// `smooth_weight` is a norm's [channels] or a Linear's [channels, in];
// `smooth_bias` may be undefined.
absl::Status ApplySmoothing(const torch::Tensor& scales, torch::Tensor& smooth_weight,
                            torch::Tensor& smooth_bias, std::vector<torch::Tensor>& balance_weights);

}  // namespace smoothquant
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_SMOOTHQUANT_SMOOTHQUANT_H_
