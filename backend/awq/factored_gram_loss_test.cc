#include "backend/awq/factored_gram_loss.h"

#include <gtest/gtest.h>

#include "backend/cpu_kernels/bf16_linear.h"

namespace wring {
namespace backend {
namespace awq {
namespace {

class FactoredGramLossTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cpu_kernels::HasBf16Linear()) GTEST_SKIP() << "neither AMX nor AVX512-BF16 here (or turned off)";
    torch::manual_seed(11);
  }
};

// What upstream computes, in float64: the outputs, then their mean squared
// difference.
double DirectLoss(const torch::Tensor& inputs, const torch::Tensor& current, const torch::Tensor& trial) {
  const torch::Tensor x = inputs.to(torch::kDouble);
  const torch::Tensor d = x.mm(trial.to(torch::kDouble).t()) - x.mm(current.to(torch::kDouble).t());
  return d.pow(2).mean().item<double>();
}

TEST_F(FactoredGramLossTest, EqualsTheMeanSquaredOutputDifference) {
  for (int64_t width : {96, 200}) {
    SCOPED_TRACE(testing::Message() << "width " << width);
    const torch::Tensor inputs = torch::randn({3 * width, width}).to(torch::kBFloat16);
    inputs.select(1, 5).mul_(30);  // an outlier channel, as activations have
    const torch::Tensor current = torch::randn({70, width}).to(torch::kBFloat16);
    LinearGram gram;
    ASSERT_TRUE(gram.Add(inputs).ok());
    auto factored = FactoredGramLoss::Make(gram, current);
    ASSERT_TRUE(factored.ok()) << factored.status();
    ASSERT_TRUE(factored->has_value());
    // Candidates near and far, as a grid search meets them.
    for (double step : {0.002, 0.05, 0.5}) {
      const torch::Tensor trial =
          (current.to(torch::kFloat) + step * torch::randn({70, width})).to(torch::kBFloat16);
      auto loss = (*factored)->MeanSquaredOutput(trial);
      ASSERT_TRUE(loss.ok()) << loss.status();
      const double direct = DirectLoss(inputs, current, trial);
      EXPECT_NEAR(*loss, direct, 1e-4 * direct) << "step " << step;
      auto by_syrk = gram.MeanSquaredOutputDifference(current, trial);
      ASSERT_TRUE(by_syrk.ok());
      EXPECT_NEAR(*loss, *by_syrk, 1e-4 * direct);
    }
    auto same = (*factored)->MeanSquaredOutput(current);
    ASSERT_TRUE(same.ok());
    EXPECT_EQ(*same, 0);
  }
}

// The grid search's way: the candidate's rows made as the product takes
// them, the same loss as from the whole candidate.
TEST_F(FactoredGramLossTest, TakesTheCandidatesRowsAsTheyAreMade) {
  const torch::Tensor current = (torch::randn({100, 256}) * 0.02).to(torch::kBFloat16);
  LinearGram gram;
  ASSERT_TRUE(gram.Add(torch::randn({600, 256}).to(torch::kBFloat16)).ok());
  auto factored = FactoredGramLoss::Make(gram, current);
  ASSERT_TRUE(factored.ok() && factored->has_value());
  quantize::QuantizationArgs args;
  args.num_bits = 4;
  args.symmetric = true;
  args.strategy = quantize::QuantizationStrategy::kGroup;
  args.group_size = 128;
  const torch::Tensor scales = torch::rand({256}, torch::kDouble) + 0.5;
  auto rows = CandidateRows::Make(current, scales, args);
  ASSERT_TRUE(rows.ok() && rows->has_value()) << rows.status();
  auto whole = CandidateWeight(current, scales, args);
  ASSERT_TRUE(whole.ok());
  auto from_rows = (*factored)->MeanSquaredOutput(**rows);
  auto from_whole = (*factored)->MeanSquaredOutput(*whole);
  ASSERT_TRUE(from_rows.ok() && from_whole.ok()) << from_rows.status();
  EXPECT_GT(*from_whole, 0);
  EXPECT_NEAR(*from_rows, *from_whole, 1e-12 * *from_whole);
  auto other = CandidateRows::Make(current.slice(0, 0, 50), scales, args);
  ASSERT_TRUE(other.ok() && other->has_value());
  EXPECT_FALSE((*factored)->MeanSquaredOutput(**other).ok());
}

TEST_F(FactoredGramLossTest, LeavesWhatItCannotFactorToLinearGram) {
  const torch::Tensor current = torch::randn({8, 64}).to(torch::kBFloat16);
  LinearGram few;  // 10 inputs of width 64: G is singular
  ASSERT_TRUE(few.Add(torch::randn({10, 64})).ok());
  auto singular = FactoredGramLoss::Make(few, current);
  ASSERT_TRUE(singular.ok()) << singular.status();
  EXPECT_FALSE(singular->has_value());

  LinearGram enough;
  ASSERT_TRUE(enough.Add(torch::randn({200, 64})).ok());
  auto float32 = FactoredGramLoss::Make(enough, current.to(torch::kFloat));
  ASSERT_TRUE(float32.ok());
  EXPECT_FALSE(float32->has_value());
  EXPECT_FALSE(FactoredGramLoss::Applies(current.to(torch::kFloat)));
  EXPECT_TRUE(FactoredGramLoss::Applies(current));

  auto factored = FactoredGramLoss::Make(enough, current);
  ASSERT_TRUE(factored.ok() && factored->has_value());
  EXPECT_FALSE((*factored)->MeanSquaredOutput(current.to(torch::kFloat)).ok());
  EXPECT_FALSE((*factored)->MeanSquaredOutput(current.slice(0, 0, 4)).ok());
}

TEST(FactoredGramLossFlops, CountsTheTriangleOfBothParts) {
  // 64 columns: strips of 2 and 1 chunks, two parts, 32 x 32 per chunk.
  EXPECT_EQ(FactoredGramLossFlops(10, 64), 2.0 * 10 * 2 * 32 * 32 * 3);
}

}  // namespace
}  // namespace awq
}  // namespace backend
}  // namespace wring
