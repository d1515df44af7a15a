// A decoder layer from its blocks: pre-norm residual blocks (token mixer,
// then feed-forward), with Gemma's extra norms after each block.
#include <utility>
#include <vector>

#include "backend/model/internal/blocks.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace model {
namespace internal {

namespace {

// The token mixer's half of the layer: the residual after it and the
// feed-forward block's input.
absl::StatusOr<std::pair<torch::Tensor, torch::Tensor>> RunMixerHalf(const LayerRunner& run,
                                                                     const torch::Tensor& hidden) {
  const ModelConfig& config = run.config();
  const torch::Tensor mixer_in = run.Norm("input_layernorm", hidden);
  torch::Tensor mixed;
  if (config.layers.at(run.layer()).mixer == TokenMixer::kLinearAttention) {
    WRING_ASSIGN_OR_RETURN(mixed, RunLinearAttention(run, mixer_in));
  } else {
    WRING_ASSIGN_OR_RETURN(mixed, RunAttention(run, mixer_in));
  }
  if (config.sandwich_norms) mixed = run.Norm("post_attention_layernorm", mixed);
  torch::Tensor after_mixer = hidden + mixed;
  torch::Tensor ff_in =
      run.Norm(config.sandwich_norms ? "pre_feedforward_layernorm" : "post_attention_layernorm", after_mixer);
  return std::make_pair(std::move(after_mixer), std::move(ff_in));
}

torch::Tensor FinishLayer(const LayerRunner& run, const torch::Tensor& after_mixer, torch::Tensor ff) {
  if (run.config().sandwich_norms) ff = run.Norm("post_feedforward_layernorm", ff);
  return after_mixer + ff;
}

}  // namespace

absl::StatusOr<torch::Tensor> RunDecoderLayer(const LayerRunner& run, const torch::Tensor& hidden) {
  WRING_ASSIGN_OR_RETURN(auto half, RunMixerHalf(run, hidden));
  WRING_ASSIGN_OR_RETURN(torch::Tensor ff, RunFeedForward(run, half.second));
  return FinishLayer(run, half.first, std::move(ff));
}

absl::StatusOr<std::vector<torch::Tensor>> RunDecoderLayerOnSamples(const LayerRunner& run,
                                                                   const std::vector<torch::Tensor>& hidden) {
  std::vector<torch::Tensor> after_mixer, ff_in;
  for (const torch::Tensor& h : hidden) {
    WRING_ASSIGN_OR_RETURN(auto half, RunMixerHalf(run, h));
    after_mixer.push_back(std::move(half.first));
    ff_in.push_back(std::move(half.second));
  }
  WRING_ASSIGN_OR_RETURN(const torch::Tensor ff, RunFeedForward(run, StackRows(ff_in)));
  std::vector<torch::Tensor> out = SplitRows(ff, ff_in);
  for (size_t i = 0; i < out.size(); ++i) out[i] = FinishLayer(run, after_mixer[i], std::move(out[i]));
  return out;
}

}  // namespace internal
}  // namespace model
}  // namespace backend
}  // namespace wring
