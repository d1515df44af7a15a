#include "backend/awq/search_flops.h"

#include <gtest/gtest.h>

#include "backend/cpu_kernels/blas_syrk.h"

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
  config.num_hidden_layers = 1;
  config.layers = {model::LayerBlocks{}};  // attention + dense MLP
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
  // The lower triangle of D^T D by BLAS's ssyrk (the tests' LibTorch
  // loads OpenBLAS).
  ASSERT_TRUE(cpu_kernels::HasBlasSyrk());
  const double per_candidate = 4096.0 * 14336 * 14337;
  EXPECT_DOUBLE_EQ(*gram, 2 * tokens * 14336.0 * 14336 + 20 * per_candidate);
  // Llama-3-8B's down_proj at 128 x 2048 tokens: ~4x less work.
  EXPECT_LT(*gram * 4, *forward);
}

// A sparse block counts its router, shared expert and each token's top_k
// experts; an expert alone all of its input.
TEST(ParentForwardFlops, CountsRoutedExperts) {
  model::ModelConfig config = Llama3_8bShape();
  config.layers[0].feed_forward = model::FeedForward::kSparseMoe;
  config.moe.num_experts = 128;
  config.moe.top_k = 8;
  config.moe.expert_intermediate_size = 768;
  config.moe.shared_expert_intermediate_size = 512;
  const std::vector<int64_t> samples = {100};
  auto flops = ParentForwardFlops(config, "model.layers.0.mlp", {}, samples);
  ASSERT_TRUE(flops.ok()) << flops.status();
  const double router = 2 * 100.0 * 4096 * 128;
  const double shared = 2 * 100.0 * (4096.0 * 512 * 2 + 512.0 * 4096) + 2 * 100.0 * 4096;
  const double experts = 128 * (2 * 100.0 * 8 / 128 * 4096 * 768 * 3);
  EXPECT_DOUBLE_EQ(*flops, router + shared + experts);
  flops = ParentForwardFlops(config, "model.layers.0.mlp.experts.5", {}, samples);
  ASSERT_TRUE(flops.ok()) << flops.status();
  EXPECT_DOUBLE_EQ(*flops, 2 * 100.0 * 4096 * 768 * 3);
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
