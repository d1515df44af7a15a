// The chunked gated delta rule against the token-by-token recurrence it
// reorganizes, and the causal conv1d against its definition.
#include "backend/model/internal/gated_delta_rule.h"

#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace model {
namespace internal {
namespace {

struct Inputs {
  torch::Tensor query, key, value, decay, beta;
};

// 2 sequences of 70 tokens: a second, partial chunk carries the state over.
Inputs RandomInputs(int64_t length = 70) {
  torch::manual_seed(3);
  const int64_t batch = 2, heads = 3, key_dim = 8, value_dim = 5;
  return Inputs{torch::randn({batch, length, heads, key_dim}), torch::randn({batch, length, heads, key_dim}),
                torch::randn({batch, length, heads, value_dim}),
                -torch::rand({batch, length, heads}) * 1.5,  // exp(g) in (0.22, 1]
                torch::rand({batch, length, heads})};
}

TEST(ChunkGatedDeltaRule, EqualsTheRecurrence) {
  const Inputs in = RandomInputs();
  const torch::Tensor chunked = ChunkGatedDeltaRule(in.query, in.key, in.value, in.decay, in.beta);
  const torch::Tensor recurrent = RecurrentGatedDeltaRule(in.query, in.key, in.value, in.decay, in.beta);
  ASSERT_EQ(chunked.sizes(), in.value.sizes());
  EXPECT_LT((chunked - recurrent).abs().max().item<double>(), 1e-5);
  EXPECT_GT(recurrent.abs().max().item<double>(), 0.1);  // not trivially zero
}

TEST(ChunkGatedDeltaRule, ChunkSizeDoesNotChangeTheResult) {
  const Inputs in = RandomInputs();
  const torch::Tensor a = ChunkGatedDeltaRule(in.query, in.key, in.value, in.decay, in.beta, 64);
  const torch::Tensor b = ChunkGatedDeltaRule(in.query, in.key, in.value, in.decay, in.beta, 16);
  EXPECT_LT((a - b).abs().max().item<double>(), 1e-5);
}

TEST(ChunkGatedDeltaRule, IsCausal) {
  Inputs in = RandomInputs();
  const torch::Tensor before = ChunkGatedDeltaRule(in.query, in.key, in.value, in.decay, in.beta);
  in.value.select(1, 50).add_(10.0);
  const torch::Tensor after = ChunkGatedDeltaRule(in.query, in.key, in.value, in.decay, in.beta);
  EXPECT_TRUE(torch::allclose(before.slice(1, 0, 50), after.slice(1, 0, 50), 0, 1e-6));
  EXPECT_FALSE(torch::allclose(before.slice(1, 50), after.slice(1, 50), 0, 1e-3));
}

TEST(CausalConv1dSilu, IsTheShiftedWeightedSum) {
  torch::manual_seed(5);
  const torch::Tensor x = torch::randn({2, 3, 9});
  const torch::Tensor w = torch::randn({3, 1, 4});
  torch::Tensor expected = torch::zeros_like(x);
  for (int64_t t = 0; t < 9; ++t) {
    for (int64_t k = 0; k < 4; ++k) {
      const int64_t source = t + k - 3;
      if (source >= 0) expected.select(2, t) += w.select(2, k).squeeze(1) * x.select(2, source);
    }
  }
  EXPECT_TRUE(torch::allclose(CausalConv1dSilu(x, w), torch::silu(expected), 1e-5, 1e-6));
}

}  // namespace
}  // namespace internal
}  // namespace model
}  // namespace backend
}  // namespace wring
