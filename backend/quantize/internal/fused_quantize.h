// compressed-tensors' quantize / fake quantize of a 2-D weight by channel or
// group to ints, in one vectorized pass parallel over rows, for the layout
// every Linear weight has on the CPU (contiguous bf16 / fp16 / fp32, scales
// of the weight's dtype). The same values as the tensor operations of
// quantize.cc's ApplyQuantizeOp, each step rounded to the dtype as its own
// tensor would be; CompressLayer runs both on every weight of a layer.
#ifndef WRING_BACKEND_QUANTIZE_INTERNAL_FUSED_QUANTIZE_H_
#define WRING_BACKEND_QUANTIZE_INTERNAL_FUSED_QUANTIZE_H_

#include <torch/torch.h>

#include <cstdint>
#include <optional>

namespace wring {
namespace backend {
namespace quantize {
namespace internal {

// `x` [rows, cols]; `scale` and `zero_point` (undefined for none) one per
// row and group of `group` columns. Levels in [qmin, qmax]. `dequantize`:
// the fake-quantized weight (x's dtype), else the levels as `dtype` (x's
// dtype without one). nullopt where the layout is another: the caller then
// takes the tensor operations.
std::optional<torch::Tensor> FusedQuantize(const torch::Tensor& x, const torch::Tensor& scale,
                                           const torch::Tensor& zero_point, int64_t group, double qmin, double qmax,
                                           bool dequantize, std::optional<torch::Dtype> dtype);

}  // namespace internal
}  // namespace quantize
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_QUANTIZE_INTERNAL_FUSED_QUANTIZE_H_
