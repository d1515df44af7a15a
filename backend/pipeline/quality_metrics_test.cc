#include "backend/pipeline/quality_metrics.h"

#include <cmath>
#include <string>

#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace pipeline {
namespace {

TEST(RelativeErrorTest, SumsSquaredDifferencesOverSamples) {
  RelativeError error;
  const auto f64 = torch::dtype(torch::kFloat64);
  const torch::Tensor a = torch::tensor({1.0, 2.0, 2.0}, f64);  // ||a||^2 = 9
  error.Add(a * 1.1, a);                                        // diff 0.09
  const torch::Tensor b = torch::tensor({3.0f});                // ||b||^2 = 9
  error.Add(torch::tensor({0.0f}), b);                          // diff 9
  EXPECT_NEAR(error.Value(), (0.09 + 9.0) / 18.0, 1e-12);
}

// The single pass over contiguous bf16 / float32 weights (several chunks),
// against the float64 tensor arithmetic it stands for; a transposed view
// takes that arithmetic itself.
TEST(RelativeErrorTest, WeightsOfEachDtypeEqualTheFloat64Sums) {
  torch::manual_seed(5);
  for (torch::Dtype dtype : {torch::kBFloat16, torch::kFloat, torch::kHalf}) {
    SCOPED_TRACE(std::string(c10::toString(dtype)));
    const torch::Tensor reference = torch::randn({300, 700}).to(dtype);
    const torch::Tensor value = (reference.to(torch::kFloat) + 0.01 * torch::randn({300, 700})).to(dtype);
    const torch::Tensor r = reference.to(torch::kFloat64), v = value.to(torch::kFloat64);
    const double expected = (v - r).pow(2).sum().item<double>() / r.pow(2).sum().item<double>();
    RelativeError contiguous;
    contiguous.Add(value, reference);
    EXPECT_NEAR(contiguous.Value(), expected, 1e-12 * expected);
    RelativeError transposed;
    transposed.Add(value.t(), reference.t());
    EXPECT_NEAR(transposed.Value(), expected, 1e-12 * expected);
    EXPECT_GT(expected, 1e-6);
  }
}

TEST(RelativeErrorTest, AllZeroReferenceIsZero) {
  RelativeError error;
  error.Add(torch::ones({4}), torch::zeros({4}));
  EXPECT_EQ(error.Value(), 0);
}

TEST(RelativeErrorTest, NaNIsNaNNotZero) {
  // A NaN reference once made every later layer report 0 error.
  RelativeError error;
  error.Add(torch::ones({2}), torch::tensor({1.0f, std::nanf("")}));
  EXPECT_TRUE(std::isnan(error.Value()));
  RelativeError value_nan;
  value_nan.Add(torch::tensor({std::nanf(""), 1.0f}), torch::ones({2}));
  EXPECT_TRUE(std::isnan(value_nan.Value()));
}

TEST(PerplexityTest, UniformLogitsGiveTheVocabularySize) {
  Perplexity perplexity;
  perplexity.Add(torch::zeros({1, 5, 37}, torch::kBFloat16), torch::zeros({1, 5}, torch::kInt64));
  EXPECT_EQ(perplexity.tokens(), 4);
  EXPECT_NEAR(perplexity.Value(), 37.0, 1e-4);
}

TEST(PerplexityTest, ScoresEachTokenByThePositionBeforeIt) {
  // Position t predicts ids[t + 1]: a large logit there makes every
  // prediction certain, a large logit on ids[t] instead makes none.
  const torch::Tensor ids = torch::tensor({{2, 0, 1}}, torch::kInt64);
  torch::Tensor right = torch::zeros({1, 3, 3});
  right[0][0][0] = 50;
  right[0][1][1] = 50;
  Perplexity certain;
  certain.Add(right, ids);
  EXPECT_NEAR(certain.Value(), 1.0, 1e-6);

  torch::Tensor shifted = torch::zeros({1, 3, 3});
  shifted[0][0][2] = 50;
  shifted[0][1][0] = 50;
  Perplexity wrong;
  wrong.Add(shifted, ids);
  EXPECT_GT(wrong.Value(), 1e10);
}

TEST(PerplexityTest, NothingScoredIsZero) {
  Perplexity perplexity;
  perplexity.Add(torch::zeros({1, 1, 8}), torch::zeros({1, 1}, torch::kInt64));
  EXPECT_EQ(perplexity.tokens(), 0);
  EXPECT_EQ(perplexity.Value(), 0);
}

}  // namespace
}  // namespace pipeline
}  // namespace backend
}  // namespace wring
