// A decoder layer from its blocks: pre-norm residual blocks (token mixer,
// then feed-forward), with Gemma's extra norms after each block.
#include "backend/model/internal/blocks.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace model {
namespace internal {

absl::StatusOr<torch::Tensor> RunDecoderLayer(const LayerRunner& run, const torch::Tensor& hidden) {
  const ModelConfig& config = run.config();
  const torch::Tensor mixer_in = run.Norm("input_layernorm", hidden);
  torch::Tensor mixed;
  if (config.layers.at(run.layer()).mixer == TokenMixer::kLinearAttention) {
    WRING_ASSIGN_OR_RETURN(mixed, RunLinearAttention(run, mixer_in));
  } else {
    WRING_ASSIGN_OR_RETURN(mixed, RunAttention(run, mixer_in));
  }
  if (config.sandwich_norms) mixed = run.Norm("post_attention_layernorm", mixed);
  const torch::Tensor after_mixer = hidden + mixed;
  const torch::Tensor ff_in =
      run.Norm(config.sandwich_norms ? "pre_feedforward_layernorm" : "post_attention_layernorm", after_mixer);
  WRING_ASSIGN_OR_RETURN(torch::Tensor ff, RunFeedForward(run, ff_in));
  if (config.sandwich_norms) ff = run.Norm("post_feedforward_layernorm", ff);
  return after_mixer + ff;
}

}  // namespace internal
}  // namespace model
}  // namespace backend
}  // namespace wring
