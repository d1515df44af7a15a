#include "backend/pack/pack.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace pack {
namespace {

torch::Tensor Int8Row(std::vector<int8_t> values) {
  return torch::tensor(std::vector<int64_t>(values.begin(), values.end()), torch::kLong)
      .to(torch::kChar)
      .reshape({1, static_cast<int64_t>(values.size())});
}

std::vector<int32_t> Words(const torch::Tensor& packed) {
  torch::Tensor flat = packed.contiguous().flatten();
  return std::vector<int32_t>(flat.data_ptr<int32_t>(), flat.data_ptr<int32_t>() + flat.numel());
}

// The inventory's worked examples (compressed-tensors 0.18).
TEST(PackToInt32, WorkedExamples) {
  absl::StatusOr<torch::Tensor> a = PackToInt32(Int8Row({1, 2, 3, 4, 5, 6, 7, 0}), 4);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->scalar_type(), torch::kInt);
  EXPECT_EQ(Words(*a), std::vector<int32_t>({-1880241239}));

  absl::StatusOr<torch::Tensor> b = PackToInt32(Int8Row({-1, -2, -3, -4, -5, -6, -7, -8}), 4);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(Words(*b), std::vector<int32_t>({19088743}));

  absl::StatusOr<torch::Tensor> c = PackToInt32(Int8Row({1, 2}), 8);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(Words(*c), std::vector<int32_t>({33409}));
}

TEST(PackToInt32, ThreeBitValueStraddlesWords) {
  // Eleven 3-bit values need 33 bits; element 10 sits at bits 30..32. With
  // every other element at -4 (u = 0) and element 10 at 3 (u = 7), word 0
  // holds u's low two bits at 30..31 and word 1 its high bit at 0.
  std::vector<int8_t> values(11, -4);
  values[10] = 3;
  absl::StatusOr<torch::Tensor> packed = PackToInt32(Int8Row(values), 3);
  ASSERT_TRUE(packed.ok()) << packed.status();
  EXPECT_EQ(packed->sizes().vec(), std::vector<int64_t>({1, 2}));
  EXPECT_EQ(Words(*packed), std::vector<int32_t>({static_cast<int32_t>(0xC0000000u), 1}));
}

TEST(PackToInt32, ZeroPointsPackAlongRows) {
  // An (8 rows, 2 groups) int4 zero point: each column's 8 rows share a word.
  torch::Tensor zp = torch::cat({Int8Row({1, 2, 3, 4, 5, 6, 7, 0}).t(), Int8Row({-1, -2, -3, -4, -5, -6, -7, -8}).t()},
                                /*dim=*/1);
  absl::StatusOr<torch::Tensor> packed = PackToInt32(zp, 4, PackedDim::kRows);
  ASSERT_TRUE(packed.ok()) << packed.status();
  EXPECT_EQ(packed->sizes().vec(), std::vector<int64_t>({1, 2}));
  EXPECT_EQ(Words(*packed), std::vector<int32_t>({-1880241239, 19088743}));
  absl::StatusOr<torch::Tensor> back = UnpackFromInt32(*packed, 4, {8, 2}, PackedDim::kRows);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(torch::equal(*back, zp));
}

// Independent oracle: write every value's offset bits into one long bit
// string per row, then cut it into 32-bit words.
std::vector<int32_t> PackByBitString(const std::vector<int8_t>& row, int num_bits) {
  std::vector<bool> bits;
  for (int8_t v : row) {
    const int u = v + (1 << (num_bits - 1));
    for (int b = 0; b < num_bits; ++b) bits.push_back((u >> b) & 1);
  }
  while (bits.size() % 32 != 0) bits.push_back(false);
  std::vector<int32_t> words;
  for (size_t w = 0; w < bits.size() / 32; ++w) {
    uint32_t word = 0;
    for (int b = 0; b < 32; ++b) word |= static_cast<uint32_t>(bits[w * 32 + b]) << b;
    words.push_back(static_cast<int32_t>(word));
  }
  return words;
}

TEST(PackToInt32, MatchesBitStringOracleAndRoundTrips) {
  torch::manual_seed(3);
  for (int num_bits = 1; num_bits <= 8; ++num_bits) {
    const int64_t low = -(1 << (num_bits - 1));
    const int64_t high = (1 << (num_bits - 1)) - 1;
    for (int64_t cols : {1, 7, 32, 45, 100}) {
      torch::Tensor values = torch::randint(low, high + 1, {3, cols}, torch::kLong).to(torch::kChar);
      absl::StatusOr<torch::Tensor> packed = PackToInt32(values, num_bits);
      ASSERT_TRUE(packed.ok()) << packed.status();
      ASSERT_EQ(packed->sizes().vec(), std::vector<int64_t>({3, (cols * num_bits + 31) / 32}));
      for (int64_t r = 0; r < 3; ++r) {
        torch::Tensor row = values[r].contiguous();
        std::vector<int8_t> row_values(row.data_ptr<int8_t>(), row.data_ptr<int8_t>() + cols);
        ASSERT_EQ(Words((*packed)[r]), PackByBitString(row_values, num_bits))
            << "bits " << num_bits << " cols " << cols << " row " << r;
      }
      absl::StatusOr<torch::Tensor> back = UnpackFromInt32(*packed, num_bits, {3, cols});
      ASSERT_TRUE(back.ok()) << back.status();
      EXPECT_TRUE(torch::equal(*back, values)) << "bits " << num_bits << " cols " << cols;

      absl::StatusOr<torch::Tensor> by_rows = PackToInt32(values, num_bits, PackedDim::kRows);
      ASSERT_TRUE(by_rows.ok()) << by_rows.status();
      absl::StatusOr<torch::Tensor> rows_back = UnpackFromInt32(*by_rows, num_bits, {3, cols}, PackedDim::kRows);
      ASSERT_TRUE(rows_back.ok()) << rows_back.status();
      EXPECT_TRUE(torch::equal(*rows_back, values));
    }
  }
}

TEST(PackToInt32, StackedExpertsPackPerSlice) {
  torch::Tensor values = torch::randint(-8, 8, {2, 3, 20}, torch::kLong).to(torch::kChar);
  absl::StatusOr<torch::Tensor> packed = PackToInt32(values, 4);
  ASSERT_TRUE(packed.ok()) << packed.status();
  EXPECT_EQ(packed->sizes().vec(), std::vector<int64_t>({2, 3, 3}));
  absl::StatusOr<torch::Tensor> second = PackToInt32(values[1].contiguous(), 4);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(torch::equal((*packed)[1], *second));
  absl::StatusOr<torch::Tensor> back = UnpackFromInt32(*packed, 4, {2, 3, 20});
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(torch::equal(*back, values));
}

TEST(PackToInt32, Errors) {
  EXPECT_EQ(PackToInt32(torch::zeros({2, 2}, torch::kInt), 4).status().message(),
            "Tensor must be quantized to torch.int8 before packing");
  EXPECT_EQ(PackToInt32(torch::zeros({2, 2}, torch::kChar), 9).status().message(),
            "Packing is only supported for num_bits in [1, 8], got 9");
  absl::Status out_of_range = PackToInt32(Int8Row({0, 8}), 4).status();
  EXPECT_EQ(out_of_range.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(out_of_range.message().find("[-8, 7]"), std::string::npos) << out_of_range;
  EXPECT_EQ(UnpackFromInt32(torch::zeros({1, 1}, torch::kLong), 4, {1, 8}).status().message(),
            "Expected torch.int32 but got torch.int64, Aborting unpack.");
  absl::Status wrong_shape = UnpackFromInt32(torch::zeros({1, 1}, torch::kInt), 4, {1, 9}).status();
  EXPECT_EQ(wrong_shape.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(wrong_shape.message().find("pack to [1, 2]"), std::string::npos) << wrong_shape;
}

}  // namespace
}  // namespace pack
}  // namespace backend
}  // namespace wring
