#include "backend/awq/search_flops.h"

#include <gtest/gtest.h>

namespace wring {
namespace backend {
namespace awq {
namespace {

model::ModelConfig Llama3_8bShape() {
  model::ModelConfig config;
  config.hidden_size = 4096;
  config.intermediate_size = 14336;
  config.num_attention_heads = 32;
  config.num_key_value_heads = 8;
  config.head_dim = 128;
  return config;
}

TEST(ParentForwardFlops, CountsProjectionsAndFullAttentionScores) {
  const model::ModelConfig config = Llama3_8bShape();
  const std::vector<int64_t> samples = {2048, 2048};
  // q 4096 + k 1024 + v 1024 out of 4096, o 4096 -> 4096, per token; the
  // scores and the weighted values 2 x L x L x 4096 per sample.
  const double tokens = 4096;
  const double projections = 2 * tokens * 4096.0 * (4096 + 1024 + 1024) + 2 * tokens * 4096.0 * 4096;
  const double attention = 2 * (2 * 2 * 2048.0 * 2048 * 4096);
  auto flops = ParentForwardFlops(config, "model.layers.0.self_attn", {}, samples);
  ASSERT_TRUE(flops.ok()) << flops.status();
  EXPECT_DOUBLE_EQ(*flops, projections + attention);

  flops = ParentForwardFlops(config, "model.layers.0.mlp", {}, samples);
  ASSERT_TRUE(flops.ok());
  EXPECT_DOUBLE_EQ(*flops, 2 * tokens * 4096.0 * 14336 * 3);
}

TEST(GridSearchFlops, GramFormTradesTokensForInputWidth) {
  const model::ModelConfig config = Llama3_8bShape();
  model::Weights weights;
  weights["model.layers.0.mlp.down_proj.weight"] = torch::zeros({4096, 14336});
  LayerMapping mapping;
  mapping.smooth = "model.layers.0.mlp.up_proj";
  mapping.balance = {{"model.layers.0.mlp.down_proj", true, std::nullopt}};
  mapping.parent = "model.layers.0.mlp.down_proj";
  const std::vector<int64_t> samples(128, 2048);
  const double tokens = 128 * 2048.0;

  auto forward = GridSearchFlops(config, mapping, weights, samples, 20, /*gram_loss=*/false);
  ASSERT_TRUE(forward.ok()) << forward.status();
  EXPECT_DOUBLE_EQ(*forward, 21 * 2 * tokens * 4096 * 14336);

  auto gram = GridSearchFlops(config, mapping, weights, samples, 20, /*gram_loss=*/true);
  ASSERT_TRUE(gram.ok()) << gram.status();
  EXPECT_DOUBLE_EQ(*gram, 2 * tokens * 14336.0 * 14336 + 20 * 2 * 4096.0 * 14336 * 14336);
  // Llama-3-8B's down_proj at 128 x 2048 tokens: ~4x less work.
  EXPECT_LT(*gram * 4, *forward);
}

TEST(GridSearchFlops, LinearParentWithoutAWeightIsAnError) {
  LayerMapping mapping;
  mapping.parent = "model.layers.0.self_attn.o_proj";
  EXPECT_FALSE(GridSearchFlops(Llama3_8bShape(), mapping, {}, {16}, 20, true).ok());
  EXPECT_FALSE(ParentForwardFlops(Llama3_8bShape(), mapping.parent, {}, {16}).ok());
}

}  // namespace
}  // namespace awq
}  // namespace backend
}  // namespace wring
