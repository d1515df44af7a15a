// The block kinds of a decoder layer, each the transformers 5.17 math of its
// module on already validated weights (LayerRunner) and inputs. Errors are
// the hooks' misuse; LibTorch may throw.
#ifndef WRING_BACKEND_MODEL_INTERNAL_BLOCKS_H_
#define WRING_BACKEND_MODEL_INTERNAL_BLOCKS_H_

#include <torch/torch.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/model/internal/layer_runner.h"

namespace wring {
namespace backend {
namespace model {
namespace internal {

// self_attn on the input norm's output [B, T, hidden]: projections (fused
// qkv_proj or q/k/v, q_proj optionally carrying a per-head output gate),
// q/k norms, RoPE (partial), the hooks on query/key and key/value, eager
// causal attention (sliding window, softcapping), o_proj.
absl::StatusOr<torch::Tensor> RunAttention(const LayerRunner& run, const torch::Tensor& normed);

// linear_attn (Gated DeltaNet) on the input norm's output [B, T, hidden].
absl::StatusOr<torch::Tensor> RunLinearAttention(const LayerRunner& run, const torch::Tensor& normed);

// A gated MLP at `path` ("mlp", "mlp.shared_expert", "mlp.experts.3"):
// down(act(gate(x)) * up(x)), or Phi3's fused gate_up_proj when the config
// says so and path is "mlp". `x` may be [B, T, hidden] or [N, hidden].
absl::StatusOr<torch::Tensor> RunGatedMlp(const LayerRunner& run, const std::string& path, const torch::Tensor& x);

// The sparse mixture-of-experts block on [B, T, hidden]: router, top-k,
// experts in index order (each hooked on all tokens when
// LayerHooks::moe_calibrate_all_experts, else on its routed tokens; the
// output uses the routed ones either way), shared expert with its gate.
absl::StatusOr<torch::Tensor> RunSparseMoe(const LayerRunner& run, const torch::Tensor& normed);

// The layer's feed-forward block (dense MLP or sparse MoE) on its norm's output.
absl::StatusOr<torch::Tensor> RunFeedForward(const LayerRunner& run, const torch::Tensor& normed);

// The whole decoder layer on hidden [B, T, hidden].
absl::StatusOr<torch::Tensor> RunDecoderLayer(const LayerRunner& run, const torch::Tensor& hidden);

// The same for several samples: each sample's token mixer on its own, the
// feed-forward block once on all their tokens stacked.
absl::StatusOr<std::vector<torch::Tensor>> RunDecoderLayerOnSamples(const LayerRunner& run,
                                                                   const std::vector<torch::Tensor>& hidden);

}  // namespace internal
}  // namespace model
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_MODEL_INTERNAL_BLOCKS_H_
