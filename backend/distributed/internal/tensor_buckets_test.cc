#include "backend/distributed/internal/tensor_buckets.h"

#include <torch/torch.h>

#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace distributed {
namespace internal {
namespace {

torch::ScalarType Identity(torch::ScalarType t) { return t; }
torch::ScalarType BfloatAsFloat(torch::ScalarType t) {
  return t == torch::kBFloat16 ? torch::kFloat32 : t;
}

TEST(TensorBucketsTest, OneBufferPerDtypeInOrderOfFirstAppearance) {
  std::vector<torch::Tensor> tensors = {
      torch::arange(6, torch::kFloat32).reshape({2, 3}), torch::arange(4, torch::kInt64),
      torch::full({3}, 7.0f), torch::empty({0}, torch::kInt64)};
  std::vector<TensorBucket> buckets = PackBuckets(tensors, torch::kCPU, Identity);
  ASSERT_EQ(buckets.size(), 2u);
  EXPECT_EQ(buckets[0].dtype, torch::kFloat32);
  EXPECT_EQ(buckets[0].members, (std::vector<size_t>{0, 2}));
  EXPECT_TRUE(buckets[0].flat.equal(torch::tensor({0.f, 1.f, 2.f, 3.f, 4.f, 5.f, 7.f, 7.f, 7.f})));
  EXPECT_EQ(buckets[1].members, (std::vector<size_t>{1, 3}));
  EXPECT_EQ(buckets[1].flat.numel(), 4);
}

TEST(TensorBucketsTest, UnpackWritesBackIntoEveryMemberIncludingViews) {
  torch::Tensor base = torch::zeros({3, 4});
  torch::Tensor transposed = base.t();  // not contiguous
  torch::Tensor other = torch::zeros({2}, torch::kBFloat16);
  std::vector<torch::Tensor> tensors = {transposed, other};
  std::vector<TensorBucket> buckets = PackBuckets(tensors, torch::kCPU, BfloatAsFloat);
  ASSERT_EQ(buckets.size(), 2u);
  EXPECT_EQ(buckets[1].flat.scalar_type(), torch::kFloat32);
  buckets[0].flat.copy_(torch::arange(12, torch::kFloat32));
  buckets[1].flat.copy_(torch::tensor({1.5f, -2.0f}));
  UnpackBuckets(buckets, tensors);
  EXPECT_TRUE(transposed.equal(torch::arange(12, torch::kFloat32).reshape({4, 3})));
  EXPECT_TRUE(base.equal(torch::arange(12, torch::kFloat32).reshape({4, 3}).t()));
  EXPECT_EQ(other.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(other.equal(torch::tensor({1.5f, -2.0f}).to(torch::kBFloat16)));
}

TEST(TensorBucketsTest, LoneContiguousTensorTravelsInPlace) {
  torch::Tensor hessian = torch::randn({8, 8});
  std::vector<torch::Tensor> tensors = {hessian};
  std::vector<TensorBucket> buckets = PackBuckets(tensors, torch::kCPU, Identity);
  ASSERT_EQ(buckets.size(), 1u);
  EXPECT_TRUE(buckets[0].aliases_member);
  EXPECT_EQ(buckets[0].flat.data_ptr(), hessian.data_ptr());
  buckets[0].flat.fill_(2.0f);
  UnpackBuckets(buckets, tensors);
  EXPECT_TRUE(hessian.equal(torch::full({8, 8}, 2.0f)));
}

}  // namespace
}  // namespace internal
}  // namespace distributed
}  // namespace backend
}  // namespace wring
