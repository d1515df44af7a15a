// Applying the grid search's best scales s (upstream's _apply_best_scales):
// each balance layer's weight becomes dtype(W * s), s over its input
// features, and a Linear smooth layer's last s.size(0) output rows
// dtype(W / s), both computed in s's dtype (float32 or float64) as the
// tensor operations promote them.
//
// For an MoE layer this runs once per expert mapping on weights of a few
// megabytes, and the tensor operations' float64 temporaries made it about
// a sixth of the Gram losses' time: a bf16 weight on the CPU takes one pass
// with the same values; any other weight the tensor operations.
#ifndef WRING_BACKEND_AWQ_APPLY_SCALES_H_
#define WRING_BACKEND_AWQ_APPLY_SCALES_H_

#include <torch/torch.h>

namespace wring {
namespace backend {
namespace awq {

// (weight * scales.view({1, -1})).to(weight's dtype): weight [out, in],
// scales [in] on weight's device.
torch::Tensor MultiplyColumns(const torch::Tensor& weight, const torch::Tensor& scales);

// (rows.to(scales' dtype) / scales.view({-1, 1})).to(rows' dtype): rows
// [n, in], scales [n] on rows' device.
torch::Tensor DivideRows(const torch::Tensor& rows, const torch::Tensor& scales);

}  // namespace awq
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_AWQ_APPLY_SCALES_H_
