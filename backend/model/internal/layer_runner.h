// What every block of a decoder layer needs while it runs: the layer's
// weights by module name, its norms, and its Linears with LayerHooks applied.
#ifndef WRING_BACKEND_MODEL_INTERNAL_LAYER_RUNNER_H_
#define WRING_BACKEND_MODEL_INTERNAL_LAYER_RUNNER_H_

#include <torch/torch.h>

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "backend/model/causal_lm.h"
#include "backend/model/config.h"
#include "backend/model/internal/decoder_math.h"

namespace wring {
namespace backend {
namespace model {
namespace internal {

// A hook's result must be usable where its argument was.
absl::Status CheckHookResult(const torch::Tensor& result, const torch::Tensor& argument, absl::string_view hook,
                             absl::string_view module);

class LayerRunner {
 public:
  LayerRunner(const ModelConfig& config, int layer, const Weights& weights, const LayerHooks& hooks)
      : config_(config), layer_(layer), prefix_(LayerPrefix(config, layer)), weights_(weights), hooks_(hooks) {}

  const ModelConfig& config() const { return config_; }
  int layer() const { return layer_; }
  const std::string& prefix() const { return prefix_; }
  const LayerHooks& hooks() const { return hooks_; }

  // `name` relative to the layer ("linear_attn.A_log", "mlp.gate.weight").
  const torch::Tensor& Parameter(const std::string& name) const { return weights_.at(prefix_ + name); }
  const torch::Tensor& Weight(const std::string& module) const { return Parameter(module + ".weight"); }

  // The config's norm style with `module`'s weight.
  torch::Tensor Norm(const std::string& module, const torch::Tensor& x) const {
    return internal::Norm(config_.norm_style, x, Weight(module), config_.rms_norm_eps);
  }

  // `module`'s Linear (bias when present) on the hooked input.
  absl::StatusOr<torch::Tensor> Linear(const std::string& module, const torch::Tensor& x) const;
  // The same for the rows `rows` (indices into x's first dimension) only,
  // while the input hook still sees all of x: an expert calibrated on every
  // token whose output only its routed tokens use.
  absl::StatusOr<torch::Tensor> Linear(const std::string& module, const torch::Tensor& x,
                                       const torch::Tensor& rows) const;

  // The attention-state hooks of self_attn.
  absl::StatusOr<std::pair<torch::Tensor, torch::Tensor>> QueryKey(torch::Tensor query, torch::Tensor key) const;
  absl::StatusOr<std::pair<torch::Tensor, torch::Tensor>> KeyValue(torch::Tensor key, torch::Tensor value) const;

 private:
  const ModelConfig& config_;
  const int layer_;
  const std::string prefix_;
  const Weights& weights_;
  const LayerHooks& hooks_;
};

}  // namespace internal
}  // namespace model
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_MODEL_INTERNAL_LAYER_RUNNER_H_
