// Many tensors as a few flat messages: one contiguous buffer per dtype.
//
// A c10d call with several tensors means "one tensor per local device", not
// "several values", and one call per small tensor (a layer's observers have
// dozens) would pay the network latency each time. So the tensors of a
// collective are packed into one flat buffer per dtype on the group's
// device, in the dtype the backend can reduce (Gloo in LibTorch 1.13 has no
// bfloat16: it travels as float32, which MIN / MAX keep exact and SUM rounds
// once), and copied back afterwards.
#ifndef WRING_BACKEND_DISTRIBUTED_INTERNAL_TENSOR_BUCKETS_H_
#define WRING_BACKEND_DISTRIBUTED_INTERNAL_TENSOR_BUCKETS_H_

#include <torch/torch.h>

#include <functional>
#include <vector>

#include "absl/types/span.h"

namespace wring {
namespace backend {
namespace distributed {
namespace internal {

struct TensorBucket {
  torch::ScalarType dtype;  // the members' dtype
  std::vector<size_t> members;  // indices into the packed span
  torch::Tensor flat;  // 1-D, on the transport device, in the transport dtype
  // `flat` is the single member's own storage: nothing to copy back.
  bool aliases_member = false;
};

// Groups `tensors` by dtype (in order of first appearance) and copies each
// group into one flat buffer on `device` in transport_dtype(dtype). A lone
// contiguous member already on `device` in its transport dtype is used in
// place. Empty tensors take part with no elements.
std::vector<TensorBucket> PackBuckets(
    absl::Span<const torch::Tensor> tensors, const torch::Device& device,
    const std::function<torch::ScalarType(torch::ScalarType)>& transport_dtype);

// Copies each bucket's flat buffer back into its members (converting dtype
// and device as needed).
void UnpackBuckets(const std::vector<TensorBucket>& buckets,
                   absl::Span<const torch::Tensor> tensors);

}  // namespace internal
}  // namespace distributed
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_DISTRIBUTED_INTERNAL_TENSOR_BUCKETS_H_
