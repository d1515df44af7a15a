// SmoothQuant against llm-compressor 0.14.0.1's own SmoothQuantModifier on
// the same layers (testdata/make_smoothquant_unit_reference.py).
#include "backend/smoothquant/smoothquant.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "backend/safetensors/reader.h"
#include "mapping/testing/runfiles.h"

namespace wring {
namespace backend {
namespace smoothquant {
namespace {

std::string TestData(const std::string& name) {
  return mapping::testing::RunfilePath("backend/smoothquant/testdata/" + name);
}

struct Case {
  std::string name;
  double strength;
  Algorithm algorithm;
};

class SmoothQuantReference : public ::testing::Test {
 protected:
  void SetUp() override {
    auto file = safetensors::SafetensorsFile::Open(TestData("smoothquant_cases.safetensors"));
    ASSERT_TRUE(file.ok()) << file.status();
    file_ = std::move(*file);
  }
  torch::Tensor Get(const std::string& name) {
    auto t = file_->Get(name);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? t->clone() : torch::Tensor();
  }
  std::unique_ptr<safetensors::SafetensorsFile> file_;
};

TEST_F(SmoothQuantReference, ScalesAndSmoothedWeightsAreBitIdentical) {
  const std::vector<Case> cases = {
      {"norm_strength_0_5", 0.5, Algorithm::kSmoothQuant},
      {"norm_strength_0_8", 0.8, Algorithm::kSmoothQuant},
      {"norm_strength_1", 1.0, Algorithm::kSmoothQuant},
      {"norm_zero_weight_column", 0.5, Algorithm::kSmoothQuant},
      {"linear_with_bias_0_7", 0.7, Algorithm::kSmoothQuant},
      {"log_equalization", 0.5, Algorithm::kLogEqualization},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    // The range as the calibration hook would accumulate it, in two batches.
    ChannelRange range;
    const torch::Tensor lo = Get(c.name + ".min");
    const torch::Tensor hi = Get(c.name + ".max");
    ASSERT_TRUE(range.Observe(torch::stack({lo, hi}).unsqueeze(0)).ok());
    ASSERT_TRUE(range.Observe(((lo + hi) / 2).reshape({1, 1, -1})).ok());
    EXPECT_TRUE(torch::equal(range.min(), lo));
    EXPECT_TRUE(torch::equal(range.max(), hi));

    std::vector<torch::Tensor> balance;
    for (int k = 0; file_->Contains(c.name + ".balance." + std::to_string(k) + ".weight"); ++k) {
      balance.push_back(Get(c.name + ".balance." + std::to_string(k) + ".weight"));
    }
    auto scales = SmoothingScales(range, balance, c.strength, c.algorithm);
    ASSERT_TRUE(scales.ok()) << scales.status();
    EXPECT_EQ(scales->scalar_type(), torch::kFloat);
    EXPECT_TRUE(torch::equal(*scales, Get(c.name + ".scales")));

    torch::Tensor weight = Get(c.name + ".smooth.weight");
    torch::Tensor bias =
        file_->Contains(c.name + ".smooth.bias") ? Get(c.name + ".smooth.bias") : torch::Tensor();
    ASSERT_TRUE(ApplySmoothing(*scales, weight, bias, balance).ok());
    EXPECT_TRUE(torch::equal(weight, Get(c.name + ".smoothed.smooth.weight")));
    if (bias.defined()) {
      EXPECT_TRUE(torch::equal(bias, Get(c.name + ".smoothed.smooth.bias")));
    }
    for (size_t k = 0; k < balance.size(); ++k) {
      EXPECT_EQ(balance[k].scalar_type(), torch::kBFloat16);
      EXPECT_TRUE(torch::equal(balance[k], Get(c.name + ".smoothed.balance." + std::to_string(k) + ".weight")))
          << "balance " << k;
    }
  }
}

TEST(SmoothQuant, BadShapesAndMissingStatisticsAreErrors) {
  ChannelRange range;
  EXPECT_FALSE(SmoothingScales(range, {torch::ones({2, 4})}, 0.5, Algorithm::kSmoothQuant).ok());
  ASSERT_TRUE(range.Observe(torch::randn({3, 4})).ok());
  EXPECT_FALSE(range.Observe(torch::randn({3, 5})).ok());
  EXPECT_FALSE(SmoothingScales(range, {}, 0.5, Algorithm::kSmoothQuant).ok());
  const absl::Status wrong = SmoothingScales(range, {torch::ones({2, 5})}, 0.5, Algorithm::kSmoothQuant).status();
  EXPECT_NE(wrong.message().find("4 channels"), std::string::npos) << wrong;
  torch::Tensor norm = torch::ones({5});
  torch::Tensor no_bias;
  std::vector<torch::Tensor> balance;
  EXPECT_FALSE(ApplySmoothing(torch::ones({4}), norm, no_bias, balance).ok());
}

}  // namespace
}  // namespace smoothquant
}  // namespace backend
}  // namespace wring
