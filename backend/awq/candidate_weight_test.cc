#include "backend/awq/candidate_weight.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "backend/testing/quantization_cases.h"
#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace awq {
namespace {

using quantize::QuantizationArgs;
using quantize::QuantizationStrategy;

using testing::IntArgs;
using testing::TestWeight;

torch::Tensor TestScales(int64_t cols, torch::Dtype dtype, int seed) {
  torch::manual_seed(seed + 1000);
  torch::Tensor s = torch::exp(torch::randn({cols}, torch::kDouble) * 1.5).clamp_min(1e-4);
  return (s / (s.max() * s.min()).sqrt()).to(dtype);
}

struct Case {
  torch::Dtype weight_dtype;
  torch::Dtype scale_dtype;
  QuantizationArgs args;
};

std::string Describe(const Case& c) {
  return absl::StrCat(std::string(c10::toString(c.weight_dtype)), " weight, ",
                      std::string(c10::toString(c.scale_dtype)), " scales, int", c.args.num_bits,
                      c.args.symmetric ? " symmetric" : " asymmetric", ", group_size ",
                      c.args.group_size);
}

TEST(CandidateWeightTest, FusedLoopEqualsTheOperationChainBitForBit) {
  std::vector<Case> cases;
  for (torch::Dtype w : {torch::kBFloat16, torch::kHalf, torch::kFloat}) {
    for (torch::Dtype s : {torch::kFloat, torch::kDouble}) {
      for (bool symmetric : {true, false}) {
        cases.push_back({w, s, IntArgs(4, symmetric, QuantizationStrategy::kGroup, 32)});
        cases.push_back({w, s, IntArgs(4, symmetric, QuantizationStrategy::kGroup, 128)});
        cases.push_back({w, s, IntArgs(8, symmetric, QuantizationStrategy::kChannel)});
        cases.push_back({w, s, IntArgs(2, symmetric, QuantizationStrategy::kGroup, 64)});
      }
    }
  }
  int seed = 0;
  for (const Case& c : cases) {
    ++seed;
    const torch::Tensor weight = TestWeight(67, 256, c.weight_dtype, seed);
    const torch::Tensor scales = TestScales(256, c.scale_dtype, seed);
    absl::StatusOr<torch::Tensor> fused = CandidateWeight(weight, scales, c.args);
    absl::StatusOr<torch::Tensor> chain = CandidateWeightByOps(weight, scales, c.args);
    ASSERT_TRUE(fused.ok()) << Describe(c) << ": " << fused.status();
    ASSERT_TRUE(chain.ok()) << Describe(c) << ": " << chain.status();
    ASSERT_EQ(fused->scalar_type(), c.weight_dtype) << Describe(c);
    const torch::Tensor differ = fused->ne(*chain);
    EXPECT_EQ(differ.sum().item<int64_t>(), 0) << Describe(c);
    // The candidate is a real quantization: not the weight itself.
    EXPECT_FALSE(torch::equal(*fused, weight)) << Describe(c);
    // As float32: the same values, for a matmul that computes in float32.
    absl::StatusOr<torch::Tensor> as_float = CandidateWeight(weight, scales, c.args, CandidateForm::kFloat32);
    ASSERT_TRUE(as_float.ok()) << Describe(c) << ": " << as_float.status();
    ASSERT_EQ(as_float->scalar_type(), torch::kFloat) << Describe(c);
    EXPECT_TRUE(torch::equal(*as_float, chain->to(torch::kFloat))) << Describe(c);
    // The difference the Gram loss takes, as the tensor subtraction gives it.
    absl::StatusOr<torch::Tensor> difference =
        CandidateWeight(weight, scales, c.args, CandidateForm::kFloat32Difference);
    ASSERT_TRUE(difference.ok()) << Describe(c) << ": " << difference.status();
    ASSERT_EQ(difference->scalar_type(), torch::kFloat) << Describe(c);
    EXPECT_TRUE(torch::equal(*difference, chain->to(torch::kFloat) - weight.to(torch::kFloat))) << Describe(c);
  }
}

// Scales that put every product of the first row on or beside a bf16
// rounding midpoint, where float32 arithmetic standing in for float64 could round
// the other way: the candidate must still be the chain's, bit for bit.
TEST(CandidateWeightTest, ProductsOnBf16MidpointsRoundAsTheChainRounds) {
  const torch::Tensor weight = TestWeight(16, 256, torch::kBFloat16, 77);
  const torch::Tensor base = TestScales(256, torch::kDouble, 77);
  torch::Tensor scales = base.clone();
  for (int64_t j = 0; j < 256; ++j) {
    const double w = weight[0][j].item<float>();
    if (w == 0) continue;
    const float rounded = static_cast<float>(c10::BFloat16(static_cast<float>(w * base[j].item<double>())));
    // Half a bf16 step (2^15 float32 steps) away from zero, give or take
    // up to two float32 steps.
    const double step = std::nextafter(rounded, 2 * rounded) - rounded;
    scales[j] = (static_cast<double>(rounded) + (32768.0 + static_cast<double>(j % 5 - 2)) * step) / w;
  }
  // 8-bit levels, fine enough that a different bf16 product mostly moves
  // its level.
  for (bool symmetric : {true, false}) {
    const QuantizationArgs args = IntArgs(8, symmetric, QuantizationStrategy::kChannel);
    absl::StatusOr<torch::Tensor> fused = CandidateWeight(weight, scales, args);
    absl::StatusOr<torch::Tensor> chain = CandidateWeightByOps(weight, scales, args);
    ASSERT_TRUE(fused.ok() && chain.ok());
    EXPECT_EQ(fused->ne(*chain).sum().item<int64_t>(), 0) << (symmetric ? "symmetric" : "asymmetric");
  }
}

// The rows on demand are CandidateWeight's, block by block, at any stride.
TEST(CandidateRowsTest, FillsTheCandidatesRowsBitForBit) {
  int seed = 300;
  for (torch::Dtype s : {torch::kFloat, torch::kDouble}) {
    for (const QuantizationArgs& args : {IntArgs(4, true, QuantizationStrategy::kGroup, 32),
                                         IntArgs(4, false, QuantizationStrategy::kGroup, 64),
                                         IntArgs(8, true, QuantizationStrategy::kChannel)}) {
      const torch::Tensor weight = TestWeight(45, 128, torch::kBFloat16, ++seed);
      const torch::Tensor scales = TestScales(128, s, seed);
      absl::StatusOr<std::optional<CandidateRows>> rows = CandidateRows::Make(weight, scales, args);
      ASSERT_TRUE(rows.ok()) << rows.status();
      ASSERT_TRUE(rows->has_value());
      EXPECT_EQ((*rows)->rows(), 45);
      EXPECT_EQ((*rows)->columns(), 128);
      absl::StatusOr<torch::Tensor> whole = CandidateWeight(weight, scales, args);
      ASSERT_TRUE(whole.ok());
      constexpr int64_t kStride = 130;
      torch::Tensor filled = torch::zeros({45, kStride}, torch::kBFloat16);
      uint16_t* out = reinterpret_cast<uint16_t*>(filled.data_ptr());
      for (int64_t first = 0; first < 45; first += 16) {
        (*rows)->Fill(first, std::min<int64_t>(16, 45 - first), out + first * kStride, kStride);
      }
      EXPECT_TRUE(torch::equal(filled.slice(1, 0, 128), *whole)) << seed;
      EXPECT_EQ(filled.slice(1, 128).abs().sum().item<float>(), 0.0f);  // the stride's gap untouched
    }
  }
  // Only bf16 weights, and layouts the fused loop takes.
  absl::StatusOr<std::optional<CandidateRows>> float32 = CandidateRows::Make(
      TestWeight(8, 64, torch::kFloat, 1), TestScales(64, torch::kDouble, 1),
      IntArgs(4, true, QuantizationStrategy::kGroup, 32));
  ASSERT_TRUE(float32.ok());
  EXPECT_FALSE(float32->has_value());
  absl::StatusOr<std::optional<CandidateRows>> odd = CandidateRows::Make(
      TestWeight(8, 60, torch::kBFloat16, 1), TestScales(60, torch::kDouble, 1),
      IntArgs(4, true, QuantizationStrategy::kGroup, 32));
  ASSERT_TRUE(odd.ok());
  EXPECT_FALSE(odd->has_value());
}

// Rows and groups that are no multiple of a vector's width exercise the
// vectorized loops' remainders.
TEST(CandidateWeightTest, OddWidthsEqualTheOperationChainBitForBit) {
  int seed = 100;
  for (torch::Dtype s : {torch::kFloat, torch::kDouble}) {
    for (const QuantizationArgs& args : {IntArgs(8, true, QuantizationStrategy::kChannel),
                                         IntArgs(4, false, QuantizationStrategy::kGroup, 10),
                                         IntArgs(4, true, QuantizationStrategy::kGroup, 125)}) {
      ++seed;
      const torch::Tensor weight = TestWeight(13, 250, torch::kBFloat16, seed);
      const torch::Tensor scales = TestScales(250, s, seed);
      absl::StatusOr<torch::Tensor> fused = CandidateWeight(weight, scales, args);
      absl::StatusOr<torch::Tensor> chain = CandidateWeightByOps(weight, scales, args);
      ASSERT_TRUE(fused.ok() && chain.ok());
      EXPECT_TRUE(torch::equal(*fused, *chain)) << "group_size " << args.group_size;
      absl::StatusOr<torch::Tensor> difference =
          CandidateWeight(weight, scales, args, CandidateForm::kFloat32Difference);
      ASSERT_TRUE(difference.ok());
      EXPECT_TRUE(torch::equal(*difference, chain->to(torch::kFloat) - weight.to(torch::kFloat)))
          << "group_size " << args.group_size;
    }
  }
}

TEST(CandidateWeightTest, NonFiniteValuesPropagateLikeTheChain) {
  torch::Tensor weight = TestWeight(8, 64, torch::kBFloat16, 7);
  weight.index_put_({3, 5}, std::numeric_limits<float>::quiet_NaN());
  weight.index_put_({4, 9}, std::numeric_limits<float>::infinity());
  const torch::Tensor scales = TestScales(64, torch::kDouble, 7);
  const QuantizationArgs args = IntArgs(4, true, QuantizationStrategy::kGroup, 32);
  absl::StatusOr<torch::Tensor> fused = CandidateWeight(weight, scales, args);
  absl::StatusOr<torch::Tensor> chain = CandidateWeightByOps(weight, scales, args);
  ASSERT_TRUE(fused.ok() && chain.ok());
  EXPECT_TRUE(torch::equal(torch::isnan(*fused), torch::isnan(*chain)));
  const torch::Tensor finite = torch::isfinite(*chain);
  EXPECT_TRUE(torch::equal(fused->masked_select(finite), chain->masked_select(finite)));
  absl::StatusOr<torch::Tensor> as_float = CandidateWeight(weight, scales, args, CandidateForm::kFloat32);
  ASSERT_TRUE(as_float.ok());
  EXPECT_TRUE(torch::equal(torch::isnan(*as_float), torch::isnan(*chain)));
  EXPECT_TRUE(torch::equal(as_float->masked_select(finite), chain->to(torch::kFloat).masked_select(finite)));
}

TEST(CandidateWeightTest, OtherLayoutsGoThroughTheChain) {
  const torch::Tensor weight = TestWeight(64, 128, torch::kBFloat16, 3);
  const torch::Tensor scales = TestScales(128, torch::kFloat, 3);
  QuantizationArgs block = IntArgs(8, true, QuantizationStrategy::kBlock);
  block.block_rows = 32;
  block.block_cols = 32;
  for (const QuantizationArgs& args : {IntArgs(8, true, QuantizationStrategy::kTensor), block}) {
    absl::StatusOr<torch::Tensor> fused = CandidateWeight(weight, scales, args);
    absl::StatusOr<torch::Tensor> chain = CandidateWeightByOps(weight, scales, args);
    ASSERT_TRUE(fused.ok() && chain.ok());
    EXPECT_TRUE(torch::equal(*fused, *chain));
    absl::StatusOr<torch::Tensor> difference =
        CandidateWeight(weight, scales, args, CandidateForm::kFloat32Difference);
    ASSERT_TRUE(difference.ok());
    EXPECT_TRUE(torch::equal(*difference, chain->to(torch::kFloat) - weight.to(torch::kFloat)));
  }
  // A transposed (non-contiguous) weight too.
  const torch::Tensor transposed = TestWeight(128, 64, torch::kBFloat16, 4).t();
  const QuantizationArgs group = IntArgs(4, true, QuantizationStrategy::kGroup, 32);
  absl::StatusOr<torch::Tensor> fused = CandidateWeight(transposed, scales, group);
  absl::StatusOr<torch::Tensor> chain = CandidateWeightByOps(transposed, scales, group);
  ASSERT_TRUE(fused.ok() && chain.ok());
  EXPECT_TRUE(torch::equal(*fused, *chain));
}

TEST(CandidateWeightTest, ColumnsThatAreNoWholeNumberOfGroupsAreAnError) {
  const torch::Tensor weight = TestWeight(4, 96, torch::kBFloat16, 5);
  const torch::Tensor scales = TestScales(96, torch::kFloat, 5);
  absl::StatusOr<torch::Tensor> fused =
      CandidateWeight(weight, scales, IntArgs(4, true, QuantizationStrategy::kGroup, 64));
  ASSERT_FALSE(fused.ok());
  EXPECT_NE(std::string(fused.status().message()).find("group_size 64"), std::string::npos)
      << fused.status();
}

}  // namespace
}  // namespace awq
}  // namespace backend
}  // namespace wring
