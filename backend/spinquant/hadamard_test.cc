// The matrices against compressed-tensors' own constructors
// (testdata/hadamards.safetensors, written by make_spinquant_reference.py).
#include "backend/spinquant/hadamard.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "backend/safetensors/reader.h"
#include "gtest/gtest.h"
#include "mapping/testing/runfiles.h"

namespace wring {
namespace backend {
namespace spinquant {
namespace {

torch::Tensor Reference(const std::string& name) {
  const std::string path =
      mapping::testing::RunfilePath("backend/spinquant/testdata/hadamards.safetensors");
  auto file = safetensors::SafetensorsFile::Open(path);
  EXPECT_TRUE(file.ok()) << file.status();
  if (!file.ok()) return torch::Tensor();
  auto tensor = (*file)->Get(name);
  EXPECT_TRUE(tensor.ok()) << tensor.status();
  return tensor.ok() ? *tensor : torch::Tensor();
}

TEST(Hadamard, DeterministicIsSylvester) {
  auto h = DeterministicHadamard(64, torch::kFloat64);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_TRUE(torch::equal(h->to(torch::kInt8), Reference("deterministic_64")));
  EXPECT_TRUE(torch::allclose(torch::matmul(*h, h->t()), 64 * torch::eye(64, torch::kFloat64)));
}

TEST(Hadamard, DeterministicRefusesOtherSizes) {
  EXPECT_EQ(DeterministicHadamard(96, torch::kFloat64).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DeterministicHadamard(0, torch::kFloat64).status().code(),
            absl::StatusCode::kInvalidArgument);
}

class RandomHadamardSize : public ::testing::TestWithParam<int64_t> {};

// Same generator stream as torch.Generator() and the same known matrices
// (12, 20, 96 = 12 * 8, 160 = tpal 160, 384 = 192 * 2 and powers of two).
TEST_P(RandomHadamardSize, MatchesComprssedTensors) {
  const int64_t size = GetParam();
  at::Generator generator = NewDefaultGenerator();
  auto h = RandomHadamard(size, torch::kFloat64, generator);
  ASSERT_TRUE(h.ok()) << h.status();
  const torch::Tensor expected = Reference(absl::StrCat("random_", size));
  ASSERT_TRUE(expected.defined());
  EXPECT_TRUE(torch::equal(h->to(torch::kInt8), expected));
  EXPECT_TRUE(torch::allclose(torch::matmul(*h, h->t()), size * torch::eye(size, torch::kFloat64)));
}

INSTANTIATE_TEST_SUITE_P(Sizes, RandomHadamardSize, ::testing::Values(12, 20, 96, 128, 160, 256, 384));

TEST(Hadamard, RandomHadamardAdvancesTheGenerator) {
  at::Generator generator = NewDefaultGenerator();
  ASSERT_TRUE(RandomHadamard(128, torch::kFloat64, generator).ok());
  auto second = RandomHadamard(32, torch::kFloat64, generator);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(torch::equal(second->to(torch::kInt8), Reference("random_32_after_128")));
}

TEST(Hadamard, RandomHadamardRefusesSizesWithoutKnownMatrix) {
  at::Generator generator = NewDefaultGenerator();
  auto h = RandomHadamard(2 * 257, torch::kFloat64, generator);
  EXPECT_EQ(h.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(h.status().message()).find("Cannot construct random hadamard matrix of size 514"),
            std::string::npos);
}

TEST(Hadamard, RandomMatrixMatchesTorchRand) {
  for (auto [dtype, name] : {std::make_pair(torch::kFloat64, "rand_float64_8x8"),
                             std::make_pair(torch::kFloat32, "rand_float32_8x8")}) {
    at::Generator generator = NewDefaultGenerator();
    auto m = RandomMatrix(8, dtype, generator);
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_TRUE(torch::equal(*m, Reference(name))) << name;
  }
}

// The butterflies multiply by exactly Sylvester's matrix, along the last
// dimension of any batch shape, and match a float64 matmul to rounding.
TEST(FastWalshHadamard, EqualsTheProductWithTheDeterministicMatrix) {
  torch::manual_seed(5);
  for (int64_t n : {1, 2, 8, 64, 512}) {
    auto h = DeterministicHadamard(n, torch::kFloat64);
    ASSERT_TRUE(h.ok()) << h.status();
    const torch::Tensor x = torch::randn({3, 2, n}, torch::kFloat64);
    const torch::Tensor expected = torch::matmul(x, *h);
    const torch::Tensor actual = FastWalshHadamard(x);
    ASSERT_EQ(actual.sizes(), x.sizes());
    EXPECT_LE((actual - expected).abs().max().item<double>(), 1e-12 * std::max<double>(1, n)) << n;
    // The in-cache loops (float32 / float64 on the CPU) and the tensor-op
    // passes (every other dtype and device) are the same butterflies.
    const torch::Tensor half = FastWalshHadamard(x.to(torch::kBFloat16)).to(torch::kFloat64);
    EXPECT_LE((half - expected).abs().max().item<double>(), 0.05 * std::sqrt(static_cast<double>(n)) *
                                                                  std::max<double>(1, std::log2(n)))
        << n;
    EXPECT_TRUE(FastWalshHadamard(x.to(torch::kFloat32))
                    .to(torch::kFloat64)
                    .allclose(expected, 1e-4, 1e-4 * std::max<double>(1, n)));
  }
  // Integer inputs give exact sums: a check independent of rounding.
  const torch::Tensor ones = torch::eye(16, torch::kFloat64);
  EXPECT_TRUE(FastWalshHadamard(ones).equal(*DeterministicHadamard(16, torch::kFloat64)));
}

}  // namespace
}  // namespace spinquant
}  // namespace backend
}  // namespace wring
