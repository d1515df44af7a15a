#include "backend/cpu_kernels/split_bf16_product.h"

#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cmath>

#include "backend/cpu_kernels/bf16_linear.h"
#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace cpu_kernels {
namespace {

class SplitBf16ProductTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HasBf16Linear()) {
      GTEST_SKIP() << "neither AMX nor AVX512-BF16 here (or turned off): AWQ keeps its float32 loss";
    }
    torch::manual_seed(7);
  }
};

// x F against the float64 product: the split's 2^-17 of each entry of F
// plus float32 accumulation over 2K products, both relative to the sum of
// the products' magnitudes.
void ExpectNearExactProduct(const torch::Tensor& got, const torch::Tensor& x, const torch::Tensor& f) {
  const torch::Tensor x64 = x.to(torch::kDouble), f64 = f.to(torch::kDouble);
  const torch::Tensor exact = x64.mm(f64), magnitude = x64.abs().mm(f64.abs());
  const double unit = std::ldexp(1.0, -17) + std::ldexp(1.0, -24) * static_cast<double>(2 * x.size(1) + 1);
  ASSERT_EQ(got.sizes(), exact.sizes());
  EXPECT_LE(((got.to(torch::kDouble) - exact).abs() - magnitude * unit).max().item<double>(), 0.0);
}

TEST_F(SplitBf16ProductTest, MultipliesByTheFloatFactor) {
  const torch::Tensor x = torch::randn({45, 100}).to(torch::kBFloat16);
  const torch::Tensor f = torch::randn({100, 70}, torch::kDouble);
  const absl::StatusOr<SplitBf16Factor> split = SplitBf16Factor::Make(f);
  ASSERT_TRUE(split.ok()) << split.status();
  const absl::StatusOr<torch::Tensor> got = split->Multiply(x);
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectNearExactProduct(*got, x, f);
  // Closer than F rounded to bf16 once: the low part counts.
  const torch::Tensor once = x.to(torch::kDouble).mm(f.to(torch::kBFloat16).to(torch::kDouble));
  const torch::Tensor exact = x.to(torch::kDouble).mm(f);
  EXPECT_LT((got->to(torch::kDouble) - exact).abs().max().item<double>(),
            0.01 * (once - exact).abs().max().item<double>());
}

// Without the tiles, each output adds per chunk of 32 rows of F the pairs
// of F_hi in index order (the odd product of a pair first, as the
// dot-product instruction is specified), then those of F_lo, every
// addition rounded to float32. A scalar model of that order gives the same
// bits; swapping the parts or the pairs would not.
TEST_F(SplitBf16ProductTest, OnDotProductsEachChunkAddsTheHighPartThenTheLow) {
  if (HasAmxBf16Linear()) GTEST_SKIP() << "the tiles serve here; their order is the hardware's own";
  const int64_t m = 9, k = 100, n = 40;
  const torch::Tensor x = torch::randn({m, k}).to(torch::kBFloat16);
  const torch::Tensor f = torch::randn({k, n}, torch::kDouble);
  const absl::StatusOr<SplitBf16Factor> split = SplitBf16Factor::Make(f);
  ASSERT_TRUE(split.ok()) << split.status();
  const absl::StatusOr<torch::Tensor> got = split->Multiply(x);
  ASSERT_TRUE(got.ok()) << got.status();
  const torch::Tensor hi = f.to(torch::kFloat).to(torch::kBFloat16);
  const torch::Tensor lo = (f - hi.to(torch::kDouble)).to(torch::kFloat).to(torch::kBFloat16);
  const torch::Tensor xs = x.to(torch::kFloat).contiguous();
  const torch::Tensor parts[2] = {hi.to(torch::kFloat).contiguous(), lo.to(torch::kFloat).contiguous()};
  torch::Tensor model = torch::empty({m, n}, torch::kFloat);
  auto model_at = model.accessor<float, 2>();
  const auto xa = xs.accessor<float, 2>();
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      // volatile: Debian's GCC 12.2 vectorizes two additions to one sum
      // per iteration wrongly (GCC bug 110381, fixed in 12.4).
      volatile float sum = 0.0f;
      for (int64_t chunk = 0; chunk < k; chunk += 32) {
        for (const torch::Tensor& part : parts) {
          const auto fa = part.accessor<float, 2>();
          for (int64_t r = chunk; r < std::min(k, chunk + 32); r += 2) {
            if (r + 1 < k) sum += xa[i][r + 1] * fa[r + 1][j];
            sum += xa[i][r] * fa[r][j];
          }
        }
      }
      model_at[i][j] = sum;
    }
  }
  EXPECT_TRUE(torch::equal(*got, model));
}

TEST_F(SplitBf16ProductTest, SkipsZeroChunksOfATriangularFactor) {
  const torch::Tensor x = torch::randn({64, 256}).to(torch::kBFloat16);
  const torch::Tensor lower = torch::randn({256, 256}, torch::kDouble).tril();
  const absl::StatusOr<SplitBf16Factor> split = SplitBf16Factor::Make(lower);
  ASSERT_TRUE(split.ok()) << split.status();
  // 8 strips of 32 columns: strip s multiplies chunks s..7, two parts each.
  EXPECT_EQ(split->MultiplyAddsPerRow(), 2.0 * 32 * 32 * (8 + 7 + 6 + 5 + 4 + 3 + 2 + 1));
  const absl::StatusOr<torch::Tensor> got = split->Multiply(x);
  ASSERT_TRUE(got.ok());
  ExpectNearExactProduct(*got, x, lower);
}

// The loss AWQ takes: the squared distance of x F to a reference, without
// the product ever leaving the kernel, equal to the distance of Multiply's
// result in float64.
TEST_F(SplitBf16ProductTest, SquaredDistanceIsTheDistanceOfTheProducts) {
  const torch::Tensor f = torch::randn({96, 40}, torch::kDouble);
  const torch::Tensor x = torch::randn({70, 96}).to(torch::kBFloat16);
  const torch::Tensor y = (x.to(torch::kFloat) + 0.05 * torch::randn({70, 96})).to(torch::kBFloat16);
  const absl::StatusOr<SplitBf16Factor> split = SplitBf16Factor::Make(f);
  ASSERT_TRUE(split.ok());
  const absl::StatusOr<torch::Tensor> reference = split->Multiply(x);
  const absl::StatusOr<torch::Tensor> product = split->Multiply(y);
  ASSERT_TRUE(reference.ok() && product.ok());
  const absl::StatusOr<double> distance = split->SquaredDistance(y, *reference);
  ASSERT_TRUE(distance.ok()) << distance.status();
  const double expected = (*product - *reference).to(torch::kDouble).pow(2).sum().item<double>();
  EXPECT_NEAR(*distance, expected, 1e-12 * expected);
  const absl::StatusOr<double> zero = split->SquaredDistance(x, *reference);
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(*zero, 0.0);
}

// Rows produced a block at a time give the distance of the whole x.
TEST_F(SplitBf16ProductTest, SquaredDistanceOfRowsEqualsTheWholeMatrixs) {
  for (int64_t k : {96, 100}) {  // a whole number of chunks, and not
    const torch::Tensor f = torch::randn({k, 40}, torch::kDouble).tril();
    const torch::Tensor x = torch::randn({75, k}).to(torch::kBFloat16);
    const torch::Tensor y = (x.to(torch::kFloat) + 0.05 * torch::randn({75, k})).to(torch::kBFloat16);
    const absl::StatusOr<SplitBf16Factor> split = SplitBf16Factor::Make(f);
    ASSERT_TRUE(split.ok());
    const absl::StatusOr<torch::Tensor> reference = split->Multiply(x);
    ASSERT_TRUE(reference.ok());
    const absl::StatusOr<double> whole = split->SquaredDistance(y, *reference);
    const uint16_t* bits = reinterpret_cast<const uint16_t*>(y.data_ptr());
    std::atomic<int64_t> rows_made{0};
    const absl::StatusOr<double> by_rows = split->SquaredDistanceOfRows(
        75,
        [&](int64_t first, int64_t count, uint16_t* out, int64_t stride) {
          for (int64_t r = 0; r < count; ++r) std::copy_n(bits + (first + r) * k, k, out + r * stride);
          rows_made += count;
        },
        *reference);
    ASSERT_TRUE(whole.ok() && by_rows.ok()) << by_rows.status();
    EXPECT_GT(*whole, 0);
    EXPECT_EQ(*by_rows, *whole) << "K " << k;
    EXPECT_EQ(rows_made, 75);
    EXPECT_FALSE(split->SquaredDistanceOfRows(74, [](int64_t, int64_t, uint16_t*, int64_t) {}, *reference).ok());
  }
}

TEST_F(SplitBf16ProductTest, ARowsResultDoesNotDependOnTheOtherRows) {
  const torch::Tensor f = torch::randn({160, 64}, torch::kDouble);
  const torch::Tensor x = torch::randn({300, 160}).to(torch::kBFloat16);
  const absl::StatusOr<SplitBf16Factor> split = SplitBf16Factor::Make(f);
  ASSERT_TRUE(split.ok());
  const absl::StatusOr<torch::Tensor> all = split->Multiply(x);
  ASSERT_TRUE(all.ok());
  for (int64_t rows : {1, 7, 33, 299}) {
    const absl::StatusOr<torch::Tensor> some = split->Multiply(x.slice(0, 0, rows));
    ASSERT_TRUE(some.ok());
    EXPECT_TRUE(torch::equal(*some, all->slice(0, 0, rows))) << rows << " rows";
  }
}

TEST_F(SplitBf16ProductTest, RefusesWhatDoesNotFit) {
  EXPECT_FALSE(SplitBf16Factor::Make(torch::randn({4}, torch::kDouble)).ok());
  EXPECT_FALSE(SplitBf16Factor::Make(torch::randn({4, 4}).to(torch::kBFloat16)).ok());
  EXPECT_FALSE(SplitBf16Factor::Make(torch::full({4, 4}, std::nan(""), torch::kDouble)).ok());
  const absl::StatusOr<SplitBf16Factor> split = SplitBf16Factor::Make(torch::randn({32, 8}, torch::kDouble));
  ASSERT_TRUE(split.ok());
  EXPECT_FALSE(split->Multiply(torch::randn({3, 32})).ok());                         // not bf16
  EXPECT_FALSE(split->Multiply(torch::randn({3, 31}).to(torch::kBFloat16)).ok());  // wrong K
  const torch::Tensor x = torch::randn({3, 32}).to(torch::kBFloat16);
  EXPECT_FALSE(split->SquaredDistance(x, torch::zeros({3, 7})).ok());
  EXPECT_FALSE(split->SquaredDistance(x, torch::zeros({3, 8}, torch::kDouble)).ok());
  const absl::StatusOr<torch::Tensor> empty = split->Multiply(torch::zeros({0, 32}, torch::kBFloat16));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->size(0), 0);
}

}  // namespace
}  // namespace cpu_kernels
}  // namespace backend
}  // namespace wring
