#include "backend/finite/finite.h"

#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace finite {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(FindNonFinite, FiniteAndIntegerTensorsPass) {
  EXPECT_FALSE(FindNonFinite(torch::randn({4, 8})).has_value());
  EXPECT_FALSE(FindNonFinite(torch::ones({3}, torch::kInt8)).has_value());
  EXPECT_FALSE(FindNonFinite(torch::empty({0, 5})).has_value());
  // Large but finite bf16 values are not overflow.
  EXPECT_FALSE(FindNonFinite(torch::full({2}, 3e38, torch::kBFloat16)).has_value());
}

TEST(FindNonFinite, CountsEachKindAndLocatesTheFirst) {
  torch::Tensor t = torch::zeros({3, 4});
  t[1][2] = kNaN;
  t[2][0] = kNaN;
  t[2][3] = kInf;
  t[1][3] = -kInf;
  const std::optional<NonFinite> found = FindNonFinite(t);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->nan, 2);
  EXPECT_EQ(found->positive_infinity, 1);
  EXPECT_EQ(found->negative_infinity, 1);
  EXPECT_EQ(found->first, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(found->Describe(), "2 NaN, 1 +inf, 1 -inf (first at [1, 2])");
}

// One NaN or inf anywhere in a large tensor (many parallel chunks) of each
// dtype the bit scan reads, and in a non-contiguous view (LibTorch's path);
// the largest finite values and subnormals are finite.
TEST(FindNonFinite, FindsASingleValueInLargeTensorsOfEveryDtype) {
  for (torch::Dtype dtype : {torch::kBFloat16, torch::kHalf, torch::kFloat, torch::kDouble}) {
    SCOPED_TRACE(std::string(c10::toString(dtype)));
    const double largest = dtype == torch::kHalf ? 65504.0 : dtype == torch::kBFloat16 ? 3.38e38 : 3.4e38;
    torch::Tensor t = torch::randn({600, 1000}).to(dtype);
    t[0][0] = largest;
    t[0][1] = -largest;
    t[0][2] = 1e-40;  // subnormal in float32; zero or subnormal in the others
    EXPECT_FALSE(FindNonFinite(t).has_value());
    EXPECT_FALSE(FindNonFinite(t.t()).has_value());
    for (const auto& [row, column, value] : {std::make_tuple(0, 0, kNaN), std::make_tuple(599, 999, kInf),
                                             std::make_tuple(300, 17, -kInf)}) {
      torch::Tensor damaged = t.clone();
      damaged[row][column] = value;
      const std::optional<NonFinite> found = FindNonFinite(damaged);
      ASSERT_TRUE(found.has_value()) << row << ", " << column;
      EXPECT_EQ(found->first, (std::vector<int64_t>{row, column}));
      EXPECT_EQ(found->nan + found->positive_infinity + found->negative_infinity, 1);
      const std::optional<NonFinite> transposed = FindNonFinite(damaged.t());
      ASSERT_TRUE(transposed.has_value());
      EXPECT_EQ(transposed->first, (std::vector<int64_t>{column, row}));
    }
  }
}

TEST(FindNonFinite, HalfOverflowIsInfinity) {
  // 300 * 300 leaves float16's range: the usual source of inf activations.
  const torch::Tensor x = torch::full({1, 2, 2}, 300, torch::kHalf);
  const std::optional<NonFinite> found = FindNonFinite(x * x);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->positive_infinity, 4);
  EXPECT_EQ(found->first, (std::vector<int64_t>{0, 0, 0}));
}

TEST(CheckWeight, NamesTheTensorAndSaysNothingWasWritten) {
  torch::Tensor w = torch::randn({8, 16}, torch::kBFloat16);
  EXPECT_TRUE(CheckWeight("model.layers.0.self_attn.q_proj.weight", w).ok());
  w[5][7] = kNaN;
  const absl::Status status = CheckWeight("model.layers.0.self_attn.q_proj.weight", w);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(status.message().find("model.layers.0.self_attn.q_proj.weight holds 1 NaN (first at [5, 7])"),
            absl::string_view::npos)
      << status;
  EXPECT_NE(status.message().find("Nothing was written"), absl::string_view::npos);
}

TEST(CheckQuantizationParameter, NamesTheScale) {
  torch::Tensor scale = torch::ones({4, 1});
  EXPECT_TRUE(CheckQuantizationParameter("m.weight_scale", scale).ok());
  scale[2][0] = kInf;
  const absl::Status status = CheckQuantizationParameter("m.weight_scale", scale);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(status.message().find("m.weight_scale came out as 1 +inf (first at [2, 0])"),
            absl::string_view::npos)
      << status;
}

TEST(CheckModifiedWeight, NamesTheModifier) {
  torch::Tensor w = torch::ones({2, 2}, torch::kHalf);
  w[0][1] = kInf;
  const absl::Status status = CheckModifiedWeight("m.up_proj.weight", w, "AWQ smoothing");
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(status.message().find("AWQ smoothing made m.up_proj.weight hold 1 +inf"), absl::string_view::npos)
      << status;
}

TEST(ActivationAdvice, Float16OverflowSuggestsAnotherDtype) {
  EXPECT_NE(ActivationAdvice(torch::kHalf, false).find("bfloat16 or float32"), std::string::npos);
  EXPECT_NE(ActivationAdvice(torch::kBFloat16, false).find("check the sample"), std::string::npos);
  EXPECT_NE(ActivationAdvice(torch::kHalf, true).find("ignore list"), std::string::npos);
}

}  // namespace
}  // namespace finite
}  // namespace backend
}  // namespace wring
