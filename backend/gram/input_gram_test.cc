#include "backend/gram/input_gram.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace wring {
namespace backend {
namespace gram {
namespace {

TEST(InputGram, SumsTheProductsOfEveryBatchAndCountsRowsAndSamples) {
  torch::manual_seed(5);
  const std::vector<torch::Tensor> inputs = {
      torch::randn({1, 7, 12}).to(torch::kBFloat16),  // one sample
      torch::randn({3, 2, 12}).to(torch::kBFloat16),  // three samples
      torch::randn({5, 12}).to(torch::kBFloat16),     // 2-D: one sample
  };
  InputGram gram;
  for (const torch::Tensor& x : inputs) ASSERT_TRUE(gram.Add(x).ok());
  torch::Tensor expected = torch::zeros({12, 12}, torch::kFloat64);
  for (const torch::Tensor& x : inputs) {
    const torch::Tensor x64 = x.reshape({-1, 12}).to(torch::kFloat64);
    expected += x64.t().mm(x64);
  }
  EXPECT_EQ(gram.rows(), 7 + 6 + 5);
  EXPECT_EQ(gram.samples(), 1 + 3 + 1);
  EXPECT_EQ(gram.width(), 12);
  EXPECT_EQ(gram.matrix().scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::allclose(gram.matrix().to(torch::kFloat64), expected, 1e-5, 1e-5));
  EXPECT_TRUE(gram.finite());
}

TEST(InputGram, ScalesEachInputBeforeTheProductAsGptqDoes) {
  torch::manual_seed(6);
  const torch::Tensor x = torch::randn({1, 9, 8}).to(torch::kBFloat16);
  InputGram scaled(std::sqrt(2.0));
  ASSERT_TRUE(scaled.Add(x).ok());
  // Bit-for-bit what llm-compressor computes: (sqrt(2) * x_f32)^T (sqrt(2) * x_f32).
  const torch::Tensor xs = x.reshape({-1, 8}).to(torch::kFloat32) * std::sqrt(2.0);
  EXPECT_TRUE(torch::equal(scaled.matrix(), xs.t().mm(xs)));
}

TEST(InputGram, EmptyBatchesCountAsSamplesButAddNothing) {
  InputGram gram;
  ASSERT_TRUE(gram.Add(torch::zeros({2, 0, 4})).ok());
  EXPECT_EQ(gram.samples(), 2);
  EXPECT_EQ(gram.rows(), 0);
  EXPECT_EQ(gram.width(), 4);
  EXPECT_TRUE(torch::equal(gram.matrix(), torch::zeros({4, 4})));
}

TEST(InputGram, WidthMismatchAndScalarsAreErrorsAndNonFiniteIsReported) {
  InputGram gram;
  EXPECT_FALSE(gram.Add(torch::tensor(1.0)).ok());
  ASSERT_TRUE(gram.Add(torch::randn({3, 4})).ok());
  const absl::Status mismatch = gram.Add(torch::randn({3, 5}));
  EXPECT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.message().find("widths 4 and 5"), std::string::npos) << mismatch;
  torch::Tensor bad = torch::ones({1, 4});
  bad[0][2] = std::numeric_limits<float>::infinity();
  ASSERT_TRUE(gram.Add(bad).ok());
  EXPECT_FALSE(gram.finite());
  const torch::Tensor taken = gram.TakeMatrix();
  EXPECT_EQ(taken.size(0), 4);
  EXPECT_FALSE(gram.matrix().defined());
}

// bf16 rows (on a CPU with AMX tiles, summed there): many rows, so that
// the float32 sums' order matters, within float32 rounding of the float64
// sums, symmetric, and a NaN or an inf in any row still shows.
TEST(InputGram, Bf16RowsSumWithinFloat32RoundingAndShowNonFiniteValues) {
  torch::manual_seed(7);
  const torch::Tensor x = torch::randn({2, 1000, 48}).to(torch::kBFloat16);
  InputGram gram;
  ASSERT_TRUE(gram.Add(x).ok());
  const torch::Tensor x64 = x.reshape({-1, 48}).to(torch::kFloat64);
  const torch::Tensor exact = x64.t().mm(x64), magnitude = x64.abs().t().mm(x64.abs());
  const torch::Tensor excess = (gram.matrix().to(torch::kFloat64) - exact).abs() - magnitude * std::ldexp(2000.0, -24);
  EXPECT_LE(excess.max().item<double>(), 0.0);
  EXPECT_TRUE(torch::equal(gram.matrix(), gram.matrix().t()));
  EXPECT_TRUE(gram.finite());
  for (const float bad : {std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()}) {
    InputGram with_bad;
    torch::Tensor y = x.clone();
    y[1][500][3] = bad;
    ASSERT_TRUE(with_bad.Add(y).ok());
    EXPECT_FALSE(with_bad.finite()) << bad;
  }
}

}  // namespace
}  // namespace gram
}  // namespace backend
}  // namespace wring
