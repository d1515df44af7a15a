#include "backend/model/internal/decoder_layer.h"

#include <cmath>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "backend/model/internal/decoder_math.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace model {
namespace internal {
namespace {

std::string Shape(const torch::Tensor& t) { return absl::StrCat("[", absl::StrJoin(t.sizes(), ", "), "]"); }

// A hook's result must be usable where its argument was.
absl::Status CheckHookResult(const torch::Tensor& result, const torch::Tensor& argument, absl::string_view hook,
                             absl::string_view module) {
  if (result.defined() && result.sizes() == argument.sizes() && result.scalar_type() == argument.scalar_type() &&
      result.device() == argument.device()) {
    return absl::OkStatus();
  }
  if (!result.defined()) {
    return absl::InvalidArgumentError(absl::StrCat("LayerHooks.", hook, " for ", module, " returned no tensor"));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "LayerHooks.", hook, " for ", module, " returned ", Shape(result), " ",
      std::string(c10::toString(result.scalar_type())), " on ", result.device().str(), "; expected ", Shape(argument),
      " ", std::string(c10::toString(argument.scalar_type())), " on ", argument.device().str()));
}

class LayerRunner {
 public:
  LayerRunner(const ModelConfig& config, int layer, const Weights& weights, const LayerHooks& hooks)
      : config_(config), prefix_(LayerPrefix(layer)), weights_(weights), hooks_(hooks) {}

  const torch::Tensor& Weight(const std::string& module) const { return weights_.at(prefix_ + module + ".weight"); }

  torch::Tensor Norm(const std::string& module, const torch::Tensor& x) const {
    return RmsNorm(x, Weight(module), config_.rms_norm_eps);
  }

  absl::StatusOr<torch::Tensor> Linear(const std::string& module, const torch::Tensor& x) const {
    const std::string name = prefix_ + module;
    torch::Tensor input = x;
    if (hooks_.linear_input) {
      input = hooks_.linear_input(name, x);
      WRING_RETURN_IF_ERROR(CheckHookResult(input, x, "linear_input", name));
    }
    auto bias = weights_.find(name + ".bias");
    return internal::Linear(input, Weight(module), bias == weights_.end() ? torch::Tensor() : bias->second);
  }

  absl::StatusOr<std::pair<torch::Tensor, torch::Tensor>> QueryKey(torch::Tensor query, torch::Tensor key) const {
    if (!hooks_.query_key) return std::make_pair(std::move(query), std::move(key));
    const std::string name = prefix_ + "self_attn";
    std::pair<torch::Tensor, torch::Tensor> used = hooks_.query_key(name, query, key);
    WRING_RETURN_IF_ERROR(CheckHookResult(used.first, query, "query_key (query)", name));
    WRING_RETURN_IF_ERROR(CheckHookResult(used.second, key, "query_key (key)", name));
    return used;
  }

  absl::StatusOr<std::pair<torch::Tensor, torch::Tensor>> KeyValue(torch::Tensor key, torch::Tensor value) const {
    if (!hooks_.key_value) return std::make_pair(std::move(key), std::move(value));
    const std::string name = prefix_ + "self_attn";
    std::pair<torch::Tensor, torch::Tensor> used = hooks_.key_value(name, key, value);
    WRING_RETURN_IF_ERROR(CheckHookResult(used.first, key, "key_value (key)", name));
    WRING_RETURN_IF_ERROR(CheckHookResult(used.second, value, "key_value (value)", name));
    return used;
  }

 private:
  const ModelConfig& config_;
  const std::string prefix_;
  const Weights& weights_;
  const LayerHooks& hooks_;
};

}  // namespace

absl::StatusOr<torch::Tensor> RunAttention(const ModelConfig& config, int layer, const Weights& weights,
                                           const torch::Tensor& normed, const LayerHooks& hooks,
                                           const torch::Tensor& inverse_frequencies) {
  const LayerRunner run(config, layer, weights, hooks);
  const int64_t batch = normed.size(0), length = normed.size(1), head_dim = config.head_dim;
  WRING_ASSIGN_OR_RETURN(torch::Tensor query, run.Linear("self_attn.q_proj", normed));
  WRING_ASSIGN_OR_RETURN(torch::Tensor key, run.Linear("self_attn.k_proj", normed));
  WRING_ASSIGN_OR_RETURN(torch::Tensor value, run.Linear("self_attn.v_proj", normed));
  query = query.view({batch, length, -1, head_dim});
  key = key.view({batch, length, -1, head_dim});
  value = value.view({batch, length, -1, head_dim});
  if (config.qk_norm) {  // Qwen3: per head, before the transpose and RoPE
    query = run.Norm("self_attn.q_norm", query);
    key = run.Norm("self_attn.k_norm", key);
  }
  query = query.transpose(1, 2);
  key = key.transpose(1, 2);
  value = value.transpose(1, 2);
  const auto [cos, sin] = RopeTables(inverse_frequencies, length, normed.scalar_type(), normed.device());
  query = ApplyRope(query, cos, sin);
  key = ApplyRope(key, cos, sin);
  WRING_ASSIGN_OR_RETURN(auto query_key, run.QueryKey(std::move(query), std::move(key)));
  WRING_ASSIGN_OR_RETURN(auto key_value, run.KeyValue(std::move(query_key.second), std::move(value)));
  const double scaling = std::pow(static_cast<double>(head_dim), -0.5);
  const torch::Tensor attention = CausalAttention(query_key.first, key_value.first, key_value.second, scaling,
                                                  SlidingWindowOfLayer(config, layer));
  return run.Linear("self_attn.o_proj", attention);
}

absl::StatusOr<torch::Tensor> RunMlp(const ModelConfig& config, int layer, const Weights& weights,
                                     const torch::Tensor& normed, const LayerHooks& hooks) {
  // LlamaMLP.forward: down(silu(gate(x)) * up(x)).
  const LayerRunner run(config, layer, weights, hooks);
  WRING_ASSIGN_OR_RETURN(const torch::Tensor gate, run.Linear("mlp.gate_proj", normed));
  WRING_ASSIGN_OR_RETURN(const torch::Tensor up, run.Linear("mlp.up_proj", normed));
  // PyTorch 2.x evaluates a half-precision silu in float32 and rounds once;
  // LibTorch 1.13's CPU kernel rounds after every step. Spelt out so every
  // version gives PyTorch 2.x's result.
  const torch::Tensor activated = torch::silu(gate.to(torch::kFloat)).to(gate.scalar_type());
  return run.Linear("mlp.down_proj", activated * up);
}

absl::StatusOr<torch::Tensor> RunLinear(const ModelConfig& config, int layer, const Weights& weights,
                                        const std::string& module, const torch::Tensor& input,
                                        const LayerHooks& hooks) {
  const LayerRunner run(config, layer, weights, hooks);
  return run.Linear(module, input);
}

absl::StatusOr<torch::Tensor> RunDecoderLayer(const ModelConfig& config, int layer, const Weights& weights,
                                              const torch::Tensor& hidden, const LayerHooks& hooks,
                                              const torch::Tensor& inverse_frequencies) {
  const LayerRunner run(config, layer, weights, hooks);
  WRING_ASSIGN_OR_RETURN(const torch::Tensor attention_out,
                         RunAttention(config, layer, weights, run.Norm("input_layernorm", hidden), hooks,
                                      inverse_frequencies));
  const torch::Tensor after_attention = hidden + attention_out;
  WRING_ASSIGN_OR_RETURN(const torch::Tensor mlp_out,
                         RunMlp(config, layer, weights, run.Norm("post_attention_layernorm", after_attention),
                                hooks));
  return after_attention + mlp_out;
}

}  // namespace internal
}  // namespace model
}  // namespace backend
}  // namespace wring
