// CausalAttention on a CPU half-precision model (its fused scores path)
// against transformers' eager steps written as tensor operations, each
// rounded to the dtype: equal bit for bit.
#include <cmath>
#include <limits>
#include <optional>

#include "backend/model/internal/decoder_math.h"
#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace model {
namespace internal {
namespace {

torch::Tensor EagerAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, double scaling,
                             std::optional<int64_t> window) {
  const torch::Dtype dtype = q.scalar_type();
  const int64_t n_rep = q.size(1) / k.size(1), length = q.size(2);
  const torch::Tensor keys = k.repeat_interleave(n_rep, 1), values = v.repeat_interleave(n_rep, 1);
  torch::Tensor scores = torch::matmul(q.to(torch::kFloat), keys.to(torch::kFloat).transpose(2, 3)).to(dtype);
  scores = (scores.to(torch::kFloat) * static_cast<float>(scaling)).to(dtype);
  const torch::Tensor rows = torch::arange(length).unsqueeze(1), cols = torch::arange(length).unsqueeze(0);
  torch::Tensor allowed = cols <= rows;
  if (window.has_value()) allowed = torch::logical_and(allowed, cols > rows - *window);
  scores = scores.masked_fill(torch::logical_not(allowed), -std::numeric_limits<float>::infinity());
  const torch::Tensor probabilities = torch::softmax(scores, -1, torch::kFloat).to(dtype);
  const torch::Tensor out = torch::matmul(probabilities.to(torch::kFloat), values.to(torch::kFloat)).to(dtype);
  return out.transpose(1, 2).contiguous().reshape({q.size(0), length, -1});
}

TEST(CausalAttention, HalfPrecisionOnTheCpuEqualsTheEagerStepsBitForBit) {
  torch::manual_seed(11);
  for (const torch::Dtype dtype : {torch::kBFloat16, torch::kHalf}) {
    for (const std::optional<int64_t> window : {std::optional<int64_t>(), std::optional<int64_t>(5)}) {
      SCOPED_TRACE(testing::Message() << c10::toString(dtype) << (window ? ", window 5" : ""));
      // GQA: 4 query heads on 2 kv heads; scores large enough that the
      // roundings matter.
      const torch::Tensor q = (torch::randn({2, 4, 37, 16}) * 3).to(dtype);
      const torch::Tensor k = (torch::randn({2, 2, 37, 16}) * 3).to(dtype);
      const torch::Tensor v = torch::randn({2, 2, 37, 16}).to(dtype);
      const double scaling = 1 / std::sqrt(12.0);  // no power of two: rounding before scaling matters
      const torch::Tensor expected = EagerAttention(q, k, v, scaling, window);
      // Whole, and split into blocks of kv heads (a small score budget).
      for (const int64_t max_score_bytes : {int64_t{1} << 30, int64_t{1}}) {
        const torch::Tensor out = CausalAttention(q, k, v, scaling, window, max_score_bytes, std::nullopt);
        ASSERT_EQ(out.scalar_type(), dtype);
        EXPECT_TRUE(torch::equal(out, expected)) << "max_score_bytes " << max_score_bytes << ": "
                                                 << (out.to(torch::kFloat) - expected.to(torch::kFloat)).abs().max();
      }
    }
  }
}

}  // namespace
}  // namespace internal
}  // namespace model
}  // namespace backend
}  // namespace wring
