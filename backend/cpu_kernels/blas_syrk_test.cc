#include "backend/cpu_kernels/blas_syrk.h"

#include <torch/torch.h>

#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace cpu_kernels {
namespace {

// Debian's LibTorch, which the tests link, loads OpenBLAS: the product must
// be there, and equal A^T A on its lower triangle.
TEST(BlasSyrkTest, LowerTriangleIsTheColumnGram) {
  ASSERT_TRUE(HasBlasSyrk());
  torch::manual_seed(3);
  for (const auto& [rows, cols] : {std::make_pair(37, 5), std::make_pair(64, 130), std::make_pair(1, 9)}) {
    const torch::Tensor a = torch::randn({rows, cols});
    torch::Tensor c = torch::full({cols, cols}, 7.0f);
    ASSERT_TRUE(ColumnGramLowerTriangle(a.data_ptr<float>(), rows, cols, c.data_ptr<float>()));
    const torch::Tensor expected = a.to(torch::kDouble).t().mm(a.to(torch::kDouble));
    const torch::Tensor lower = torch::ones({cols, cols}, torch::kBool).tril();
    EXPECT_TRUE(torch::allclose(c.masked_select(lower).to(torch::kDouble), expected.masked_select(lower), 1e-5,
                                1e-4))
        << rows << " x " << cols;
    // The strict upper triangle is not written.
    EXPECT_TRUE(torch::all(c.masked_select(lower.logical_not()) == 7.0f).item<bool>()) << rows << " x " << cols;
  }
}

TEST(BlasSyrkTest, EmptyMatricesAreLeftToTheCaller) {
  float c = 1.0f;
  EXPECT_FALSE(ColumnGramLowerTriangle(&c, 0, 1, &c));
  EXPECT_FALSE(ColumnGramLowerTriangle(&c, 1, 0, &c));
  EXPECT_EQ(c, 1.0f);
}

}  // namespace
}  // namespace cpu_kernels
}  // namespace backend
}  // namespace wring
