#include "backend/awq/apply_scales.h"

#include <torch/torch.h>

#include <limits>

#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace awq {
namespace {

// bf16 weights with what rounding and conversion meet at their edges:
// zeros of both signs, subnormals, the largest values (overflowing once
// scaled), an infinity and a NaN.
torch::Tensor EdgyWeight(int64_t rows, int64_t cols, uint64_t seed) {
  torch::manual_seed(seed);
  torch::Tensor w = (torch::randn({rows, cols}) * torch::exp(torch::randn({rows, cols}) * 4)).to(torch::kBFloat16);
  w[0][0] = 0.0f;
  w[0][1] = -0.0f;
  w[0][2] = 1e-40f;
  w[1][3] = 3e38f;
  w[1][4] = -3e38f;
  w[2][5] = std::numeric_limits<float>::infinity();
  w[2][6] = std::numeric_limits<float>::quiet_NaN();
  return w;
}

torch::Tensor EdgyScales(int64_t n, torch::Dtype dtype, uint64_t seed) {
  torch::manual_seed(seed);
  torch::Tensor s = torch::exp(torch::randn({n}, torch::kDouble) * 3).to(dtype);
  s[0] = 1e-30;  // subnormal products and huge quotients
  s[1] = 1e30;
  return s;
}

// Equal bits, and NaN where the tensor operations give NaN (whose bits
// LibTorch's vectorized conversion sets to 0xFFFF, its scalar one to
// 0x7FC0; the layer's checks refuse either).
void ExpectSameBits(const torch::Tensor& got, const torch::Tensor& expected) {
  ASSERT_EQ(got.scalar_type(), expected.scalar_type());
  ASSERT_EQ(got.sizes(), expected.sizes());
  const torch::Tensor nan = torch::isnan(expected);
  EXPECT_TRUE(torch::equal(torch::isnan(got), nan));
  EXPECT_TRUE(torch::equal(got.view(torch::kShort).masked_fill(nan, 0),
                           expected.contiguous().view(torch::kShort).masked_fill(nan, 0)));
}

TEST(ApplyScales, Bf16WeightsGetTheTensorOperationsBitsForFloat64AndFloat32Scales) {
  for (const torch::Dtype dtype : {torch::kDouble, torch::kFloat}) {
    SCOPED_TRACE(c10::toString(dtype));
    const torch::Tensor w = EdgyWeight(37, 300, 1);
    const torch::Tensor columns = EdgyScales(300, dtype, 2), rows = EdgyScales(37, dtype, 3);
    ASSERT_TRUE(torch::isnan(w).any().item<bool>() && torch::isinf(w).any().item<bool>());
    ExpectSameBits(MultiplyColumns(w, columns), (w * columns.view({1, -1})).to(torch::kBFloat16));
    ExpectSameBits(DivideRows(w, rows), (w.to(dtype) / rows.view({-1, 1})).to(torch::kBFloat16));
    // A slice of a larger weight (the smooth layer's last rows).
    const torch::Tensor tail = EdgyWeight(50, 300, 4).slice(0, 13);
    ExpectSameBits(DivideRows(tail, rows), (tail.to(dtype) / rows.view({-1, 1})).to(torch::kBFloat16));
  }
}

TEST(ApplyScales, OtherDtypesTakeTheTensorOperations) {
  torch::manual_seed(5);
  const torch::Tensor w = torch::randn({4, 6}).to(torch::kHalf), s = torch::rand({6}, torch::kDouble) + 0.5;
  EXPECT_TRUE(torch::equal(MultiplyColumns(w, s), (w * s.view({1, -1})).to(torch::kHalf)));
  const torch::Tensor r = torch::rand({4}, torch::kDouble) + 0.5;
  EXPECT_TRUE(torch::equal(DivideRows(w, r), (w.to(torch::kDouble) / r.view({-1, 1})).to(torch::kHalf)));
}

}  // namespace
}  // namespace awq
}  // namespace backend
}  // namespace wring
