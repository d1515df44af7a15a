// CausalAttention on a CPU half-precision model (its fused scores path, and
// on AMX tiles a bf16 model's block-by-block path) against transformers'
// eager steps written as tensor operations, each rounded to the dtype:
// equal bit for bit, given the same float32 products.
#include <cmath>
#include <limits>
#include <optional>

#include "backend/cpu_kernels/bf16_linear.h"
#include "backend/model/internal/attention_on_tiles.h"
#include "backend/model/internal/decoder_math.h"
#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace model {
namespace internal {
namespace {

// a [B, H, M, K] times b [B, H, N, K] transposed, as float32: by sgemm, or
// as the AMX tiles sum the products (the attention path that uses them).
torch::Tensor Products(const torch::Tensor& a, const torch::Tensor& b, bool tiles) {
  if (!tiles) return torch::matmul(a.to(torch::kFloat), b.to(torch::kFloat).transpose(2, 3));
  torch::Tensor out = torch::empty({a.size(0), a.size(1), a.size(2), b.size(2)});
  for (int64_t i = 0; i < a.size(0); ++i) {
    for (int64_t h = 0; h < a.size(1); ++h) {
      out[i][h].copy_(cpu_kernels::Bf16LinearToFloat32(a[i][h], b[i][h], torch::Tensor()).value());
    }
  }
  return out;
}

torch::Tensor EagerAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, double scaling,
                             std::optional<int64_t> window, bool tiles) {
  const torch::Dtype dtype = q.scalar_type();
  const int64_t n_rep = q.size(1) / k.size(1), length = q.size(2);
  const torch::Tensor keys = k.repeat_interleave(n_rep, 1), values = v.repeat_interleave(n_rep, 1);
  torch::Tensor scores = Products(q, keys, tiles).to(dtype);
  scores = (scores.to(torch::kFloat) * static_cast<float>(scaling)).to(dtype);
  const torch::Tensor rows = torch::arange(length).unsqueeze(1), cols = torch::arange(length).unsqueeze(0);
  torch::Tensor allowed = cols <= rows;
  if (window.has_value()) allowed = torch::logical_and(allowed, cols > rows - *window);
  scores = scores.masked_fill(torch::logical_not(allowed), -std::numeric_limits<float>::infinity());
  const torch::Tensor probabilities = torch::softmax(scores, -1, torch::kFloat).to(dtype);
  const torch::Tensor out = Products(probabilities, values.transpose(2, 3), tiles).to(dtype);
  return out.transpose(1, 2).contiguous().reshape({q.size(0), length, -1});
}

TEST(CausalAttention, HalfPrecisionOnTheCpuEqualsTheEagerStepsBitForBit) {
  torch::manual_seed(11);
  for (const torch::Dtype dtype : {torch::kBFloat16, torch::kHalf}) {
    // One block of queries, and several (the tiles path takes 128 at a
    // time, each with its own number of keys).
    for (const int64_t length : {37, 300}) {
      for (const std::optional<int64_t> window : {std::optional<int64_t>(), std::optional<int64_t>(5)}) {
        SCOPED_TRACE(testing::Message() << c10::toString(dtype) << ", T " << length << (window ? ", window 5" : ""));
        // GQA: 4 query heads on 2 kv heads; scores large enough that the
        // roundings matter.
        const torch::Tensor q = (torch::randn({2, 4, length, 16}) * 3).to(dtype);
        const torch::Tensor k = (torch::randn({2, 2, length, 16}) * 3).to(dtype);
        const torch::Tensor v = torch::randn({2, 2, length, 16}).to(dtype);
        const double scaling = 1 / std::sqrt(12.0);  // no power of two: rounding before scaling matters
        const bool tiles = AttentionTilesTake(q, k, v);
        const torch::Tensor expected = EagerAttention(q, k, v, scaling, window, tiles);
        // Whole, and split into blocks of kv heads (a small score budget).
        for (const int64_t max_score_bytes : {int64_t{1} << 30, int64_t{1}}) {
          const torch::Tensor out = CausalAttention(q, k, v, scaling, window, max_score_bytes, std::nullopt);
          ASSERT_EQ(out.scalar_type(), dtype);
          EXPECT_TRUE(torch::equal(out, expected))
              << "max_score_bytes " << max_score_bytes << ": "
              << (out.to(torch::kFloat) - expected.to(torch::kFloat)).abs().max();
        }
      }
    }
  }
}

TEST(CausalAttention, OnTilesStaysWithinRoundingOfTheFloat32Products) {
  torch::manual_seed(12);
  const torch::Tensor q = (torch::randn({1, 8, 200, 64}) * 2).to(torch::kBFloat16);
  const torch::Tensor k = (torch::randn({1, 2, 200, 64}) * 2).to(torch::kBFloat16);
  const torch::Tensor v = torch::randn({1, 2, 200, 64}).to(torch::kBFloat16);
  if (!AttentionTilesTake(q, k, v)) GTEST_SKIP() << "no AMX tiles on this CPU";
  const torch::Tensor by_sgemm = EagerAttention(q, k, v, 0.125, std::nullopt, /*tiles=*/false).to(torch::kFloat);
  const torch::Tensor on_tiles = CausalAttention(q, k, v, 0.125, std::nullopt).to(torch::kFloat);
  // Sums that differ in their last float32 bit round to different bf16
  // values only rarely, and then by one bf16 unit of a value that is
  // itself a rounded sum.
  const double equal = torch::eq(by_sgemm, on_tiles).to(torch::kFloat).mean().item<double>();
  EXPECT_GT(equal, 0.9);
  EXPECT_LE((by_sgemm - on_tiles).abs().max().item<double>(), 0.02 * by_sgemm.abs().max().item<double>());
}

TEST(CausalAttention, QueryBlocksReadKeysUpToTheirLastQueryInWholeChunks) {
  EXPECT_EQ(KeysForQueryBlock(0, 37, 37), 37);      // the whole row, short of a chunk
  EXPECT_EQ(KeysForQueryBlock(0, 128, 300), 128);
  EXPECT_EQ(KeysForQueryBlock(128, 128, 300), 256);
  EXPECT_EQ(KeysForQueryBlock(256, 44, 300), 300);  // the last block: every key
  EXPECT_EQ(KeysForQueryBlock(0, 20, 300), 32);     // rounded up to a chunk
}

}  // namespace
}  // namespace internal
}  // namespace model
}  // namespace backend
}  // namespace wring
