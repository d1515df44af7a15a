#include "backend/distributed/internal/tensor_buckets.h"

#include <algorithm>

namespace wring {
namespace backend {
namespace distributed {
namespace internal {

std::vector<TensorBucket> PackBuckets(
    absl::Span<const torch::Tensor> tensors, const torch::Device& device,
    const std::function<torch::ScalarType(torch::ScalarType)>& transport_dtype) {
  std::vector<TensorBucket> buckets;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const torch::ScalarType dtype = tensors[i].scalar_type();
    auto it = std::find_if(buckets.begin(), buckets.end(),
                           [&](const TensorBucket& b) { return b.dtype == dtype; });
    if (it == buckets.end()) {
      buckets.push_back(TensorBucket{dtype, {}, torch::Tensor(), false});
      it = buckets.end() - 1;
    }
    it->members.push_back(i);
  }
  for (TensorBucket& bucket : buckets) {
    const torch::ScalarType wire = transport_dtype(bucket.dtype);
    const auto flat_options = torch::TensorOptions().dtype(wire).device(device);
    if (bucket.members.size() == 1) {
      const torch::Tensor& only = tensors[bucket.members[0]];
      if (only.is_contiguous() && only.device() == device && only.scalar_type() == wire) {
        bucket.flat = only.view({-1});
        bucket.aliases_member = true;
        continue;
      }
    }
    int64_t total = 0;
    for (size_t i : bucket.members) total += tensors[i].numel();
    bucket.flat = torch::empty({total}, flat_options);
    int64_t offset = 0;
    for (size_t i : bucket.members) {
      const int64_t n = tensors[i].numel();
      bucket.flat.narrow(0, offset, n).copy_(tensors[i].reshape({-1}));
      offset += n;
    }
  }
  return buckets;
}

void UnpackBuckets(const std::vector<TensorBucket>& buckets,
                   absl::Span<const torch::Tensor> tensors) {
  for (const TensorBucket& bucket : buckets) {
    if (bucket.aliases_member) continue;
    int64_t offset = 0;
    for (size_t i : bucket.members) {
      torch::Tensor target = tensors[i];
      const int64_t n = target.numel();
      target.copy_(bucket.flat.narrow(0, offset, n).view(target.sizes()));
      offset += n;
    }
  }
}

}  // namespace internal
}  // namespace distributed
}  // namespace backend
}  // namespace wring
