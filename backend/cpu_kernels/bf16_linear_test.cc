#include "backend/cpu_kernels/bf16_linear.h"

#include <torch/torch.h>

#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace cpu_kernels {
namespace {

torch::Tensor RandomBf16(std::vector<int64_t> sizes, uint64_t seed) {
  torch::manual_seed(seed);
  return torch::randn(sizes).to(torch::kBFloat16);
}

// |sum - exact| of a float32 sum of k products: at most k units of float32
// rounding of the sum of the products' magnitudes.
void ExpectFloat32Sums(const torch::Tensor& got, const torch::Tensor& x, const torch::Tensor& w,
                       const torch::Tensor& bias) {
  const torch::Tensor x64 = x.to(torch::kDouble), w64 = w.to(torch::kDouble);
  torch::Tensor exact = torch::linear(x64, w64, bias.defined() ? bias.to(torch::kDouble) : torch::Tensor());
  torch::Tensor magnitude =
      torch::linear(x64.abs(), w64.abs(), bias.defined() ? bias.to(torch::kDouble).abs() : torch::Tensor());
  const double unit = std::ldexp(1.0, -24) * static_cast<double>(x.size(1) + 1);
  ASSERT_EQ(got.scalar_type(), torch::kFloat32);
  ASSERT_EQ(got.sizes(), exact.sizes());
  const torch::Tensor excess = (got.to(torch::kDouble) - exact).abs() - magnitude * unit;
  EXPECT_LE(excess.max().item<double>(), 0.0);
}

class Bf16LinearTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HasBf16Linear()) GTEST_SKIP() << "neither AMX nor AVX512-BF16 here (or both turned off)";
  }
};

TEST_F(Bf16LinearTest, SumsTheExactProductsInFloat32) {
  const torch::Tensor x = RandomBf16({37, 300}, 1), w = RandomBf16({70, 300}, 2);
  const absl::StatusOr<torch::Tensor> got = Bf16LinearToFloat32(x, w, torch::Tensor());
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectFloat32Sums(*got, x, w, torch::Tensor());
  // Not the bf16 result: float32 sums, rounded by the caller.
  EXPECT_FALSE(torch::equal(*got, got->to(torch::kBFloat16).to(torch::kFloat32)));
}

// Without the tiles each output is the pairs' products added in index
// order, the odd one of a pair first (as the instruction is specified),
// each addition rounded to float32. A scalar model of that order must give
// the same bits; any other order of the same sums would differ somewhere.
TEST_F(Bf16LinearTest, DotProductsAddThePairsInIndexOrder) {
  if (HasAmxBf16Linear()) GTEST_SKIP() << "the tiles serve here; their order is the hardware's own";
  const torch::Tensor x = RandomBf16({37, 300}, 11), w = RandomBf16({70, 300}, 12);
  const absl::StatusOr<torch::Tensor> got = Bf16LinearToFloat32(x, w, torch::Tensor());
  ASSERT_TRUE(got.ok()) << got.status();
  const torch::Tensor x32 = x.to(torch::kFloat32).contiguous(), w32 = w.to(torch::kFloat32).contiguous();
  torch::Tensor model = torch::empty({37, 70}, torch::kFloat32);
  auto model_at = model.accessor<float, 2>();
  const float* a = x32.data_ptr<float>();
  const float* b = w32.data_ptr<float>();
  for (int64_t i = 0; i < 37; ++i) {
    for (int64_t j = 0; j < 70; ++j) {
      // volatile: Debian's GCC 12.2 vectorizes two additions to one sum
      // per iteration wrongly (GCC bug 110381, fixed in 12.4).
      volatile float sum = 0.0f;
      for (int64_t k = 0; k < 300; k += 2) {
        sum += a[i * 300 + k + 1] * b[j * 300 + k + 1];  // exact products: bf16 x bf16 fits float32
        sum += a[i * 300 + k] * b[j * 300 + k];
      }
      model_at[i][j] = sum;
    }
  }
  EXPECT_TRUE(torch::equal(*got, model));
}

TEST_F(Bf16LinearTest, AddsTheBiasInFloat32) {
  const torch::Tensor x = RandomBf16({9, 130}, 3), w = RandomBf16({33, 130}, 4);
  const torch::Tensor bias = RandomBf16({33}, 5);
  const absl::StatusOr<torch::Tensor> got = Bf16LinearToFloat32(x, w, bias);
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectFloat32Sums(*got, x, w, bias);
  const absl::StatusOr<torch::Tensor> without = Bf16LinearToFloat32(x, w, torch::Tensor());
  ASSERT_TRUE(without.ok());
  EXPECT_FALSE(torch::equal(*got, *without));
}

// wring stacks cached inputs into one forward and splits data-parallel
// batches over processes: a row's result must not depend on its neighbours.
TEST_F(Bf16LinearTest, ARowsResultDoesNotDependOnTheOtherRows) {
  const torch::Tensor x = RandomBf16({300, 512}, 6), w = RandomBf16({96, 512}, 7);
  const absl::StatusOr<torch::Tensor> all = Bf16LinearToFloat32(x, w, torch::Tensor());
  ASSERT_TRUE(all.ok());
  for (int64_t rows : {1, 5, 16, 37, 128, 299}) {
    const absl::StatusOr<torch::Tensor> some = Bf16LinearToFloat32(x.slice(0, 1, 1 + rows), w, torch::Tensor());
    ASSERT_TRUE(some.ok());
    EXPECT_TRUE(torch::equal(*some, all->slice(0, 1, 1 + rows))) << rows << " rows";
  }
}

// A few rows against many output features pack the rows instead of the
// weight and write the result transposed: the same sums as the rows stacked
// high enough to take the weight-packing order, whatever the edges (K not
// a multiple of 32, a last block of weight rows short of 32).
TEST_F(Bf16LinearTest, PackingTheRowsInsteadOfTheWeightGivesTheSameSums) {
  const torch::Tensor w = RandomBf16({70, 200}, 8), bias = RandomBf16({70}, 9);
  const torch::Tensor tall = RandomBf16({400, 200}, 10);  // more rows than features: the weight is packed
  const absl::StatusOr<torch::Tensor> all = Bf16LinearToFloat32(tall, w, bias);
  ASSERT_TRUE(all.ok());
  ExpectFloat32Sums(*all, tall, w, bias);
  for (int64_t rows : {1, 5, 33}) {
    const absl::StatusOr<torch::Tensor> few = Bf16LinearToFloat32(tall.slice(0, 0, rows), w, bias);
    ASSERT_TRUE(few.ok());
    EXPECT_TRUE(torch::equal(*few, all->slice(0, 0, rows))) << rows << " rows";
  }
}

TEST_F(Bf16LinearTest, TakesAnyStrides) {
  const torch::Tensor x = RandomBf16({64, 40}, 8).t(), w = RandomBf16({64, 24}, 9).t();
  const absl::StatusOr<torch::Tensor> got = Bf16LinearToFloat32(x, w, torch::Tensor());
  const absl::StatusOr<torch::Tensor> contiguous =
      Bf16LinearToFloat32(x.contiguous(), w.contiguous(), torch::Tensor());
  ASSERT_TRUE(got.ok() && contiguous.ok());
  EXPECT_TRUE(torch::equal(*got, *contiguous));
}

TEST_F(Bf16LinearTest, EmptyOperands) {
  const absl::StatusOr<torch::Tensor> no_rows =
      Bf16LinearToFloat32(RandomBf16({0, 8}, 1), RandomBf16({3, 8}, 2), torch::Tensor());
  ASSERT_TRUE(no_rows.ok());
  EXPECT_EQ(no_rows->sizes(), (std::vector<int64_t>{0, 3}));
  const torch::Tensor bias = RandomBf16({3}, 3);
  const absl::StatusOr<torch::Tensor> no_columns =
      Bf16LinearToFloat32(RandomBf16({2, 0}, 1), RandomBf16({3, 0}, 2), bias);
  ASSERT_TRUE(no_columns.ok());
  EXPECT_TRUE(torch::equal(*no_columns, bias.to(torch::kFloat32).expand({2, 3})));
}

TEST(Bf16LinearArguments, RefusesWhatItCannotMultiply) {
  const torch::Tensor x = RandomBf16({4, 8}, 1);
  EXPECT_FALSE(Bf16LinearToFloat32(x, RandomBf16({3, 7}, 2), torch::Tensor()).ok());
  EXPECT_FALSE(Bf16LinearToFloat32(x.to(torch::kFloat32), RandomBf16({3, 8}, 2), torch::Tensor()).ok());
  EXPECT_FALSE(Bf16LinearToFloat32(x, RandomBf16({3, 8}, 2), RandomBf16({4}, 3)).ok());
  EXPECT_FALSE(Bf16LinearToFloat32(x.view({2, 2, 8}), RandomBf16({3, 8}, 2), torch::Tensor()).ok());
}

}  // namespace
}  // namespace cpu_kernels
}  // namespace backend
}  // namespace wring
