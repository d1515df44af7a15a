#include "backend/awq/linear_gram.h"

#include <gtest/gtest.h>

#include <limits>

namespace wring {
namespace backend {
namespace awq {
namespace {

// What upstream computes: the outputs themselves, then their mean squared
// difference (in float64 here, so only the Gram form's float32 rounds).
double DirectLoss(const std::vector<torch::Tensor>& inputs, const torch::Tensor& current,
                  const torch::Tensor& trial) {
  double sum = 0, elements = 0;
  for (const torch::Tensor& x : inputs) {
    const torch::Tensor x64 = x.to(torch::kFloat64);
    const torch::Tensor d = x64.matmul(trial.to(torch::kFloat64).t()) -
                            x64.matmul(current.to(torch::kFloat64).t());
    sum += d.pow(2).sum().item<double>();
    elements += static_cast<double>(d.numel());
  }
  return sum / elements;
}

// Widths of one block of D^T D columns, exactly two, and with a remainder;
// D^T D by BLAS's ssyrk and by LibTorch's blocks.
TEST(LinearGram, EqualsTheMeanSquaredOutputDifferenceOverAllBatches) {
  for (const bool blas : {true, false}) {
  for (int64_t width : {40, 512, 600}) {
    SCOPED_TRACE(testing::Message() << "width " << width << (blas ? ", BLAS" : ", blocks"));
    torch::manual_seed(3);
    const torch::Tensor current = torch::randn({24, width}).to(torch::kBFloat16);
    const torch::Tensor trial = (current.to(torch::kFloat32) + 0.05 * torch::randn({24, width}))
                                    .to(torch::kBFloat16);
    std::vector<torch::Tensor> inputs = {torch::randn({1, 17, width}).to(torch::kBFloat16),
                                         torch::randn({1, 5, width}).to(torch::kBFloat16),
                                         torch::randn({1, 31, width}).to(torch::kBFloat16)};
    inputs[1].select(2, 3).mul_(40);             // an outlier channel
    inputs[2].select(2, width - 1).mul_(-20);    // and one in the last block
    LinearGram gram(blas);
    for (const torch::Tensor& x : inputs) ASSERT_TRUE(gram.Add(x).ok());
    EXPECT_EQ(gram.rows(), 53);
    EXPECT_EQ(gram.width(), width);
    EXPECT_TRUE(gram.finite());
    auto loss = gram.MeanSquaredOutputDifference(current, trial);
    ASSERT_TRUE(loss.ok()) << loss.status();
    const double direct = DirectLoss(inputs, current, trial);
    EXPECT_NEAR(*loss, direct, 1e-5 * direct);

    auto same = gram.MeanSquaredOutputDifference(current, current);
    ASSERT_TRUE(same.ok());
    EXPECT_EQ(*same, 0);
    // From the difference itself, as the grid search passes it.
    auto from_difference = gram.MeanSquaredOutput(trial.to(torch::kFloat32) - current.to(torch::kFloat32));
    ASSERT_TRUE(from_difference.ok()) << from_difference.status();
    EXPECT_EQ(*from_difference, *loss);

    // More inputs after a loss: the next loss sees them.
    inputs.push_back(torch::randn({2, 9, width}).to(torch::kBFloat16) * 3);
    ASSERT_TRUE(gram.Add(inputs.back()).ok());
    auto more = gram.MeanSquaredOutputDifference(current, trial);
    ASSERT_TRUE(more.ok()) << more.status();
    const double direct_more = DirectLoss(inputs, current, trial);
    EXPECT_NEAR(*more, direct_more, 1e-5 * direct_more);
    EXPECT_GT(std::abs(*more - *loss), 1e-3 * direct_more);
  }
  }
}

TEST(LinearGram, MismatchedShapesAndEmptyInputsAreErrors) {
  LinearGram gram;
  EXPECT_FALSE(gram.MeanSquaredOutputDifference(torch::zeros({2, 4}), torch::zeros({2, 4})).ok());
  ASSERT_TRUE(gram.Add(torch::randn({3, 4})).ok());
  EXPECT_FALSE(gram.Add(torch::randn({3, 5})).ok());
  EXPECT_FALSE(gram.MeanSquaredOutputDifference(torch::zeros({2, 5}), torch::zeros({2, 5})).ok());
  EXPECT_FALSE(gram.MeanSquaredOutputDifference(torch::zeros({2, 4}), torch::zeros({3, 4})).ok());
  EXPECT_FALSE(gram.MeanSquaredOutput(torch::zeros({2, 5})).ok());
  EXPECT_FALSE(gram.MeanSquaredOutput(torch::zeros({4})).ok());
}

TEST(LinearGram, NonFiniteInputsAreReported) {
  LinearGram gram;
  torch::Tensor x = torch::randn({3, 4});
  x[1][2] = std::numeric_limits<float>::infinity();
  ASSERT_TRUE(gram.Add(x).ok());
  EXPECT_FALSE(gram.finite());
}

}  // namespace
}  // namespace awq
}  // namespace backend
}  // namespace wring
