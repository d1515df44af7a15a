#include "backend/model/submodules.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace wring {
namespace backend {
namespace model {
namespace {

const LayerModule* Find(const std::vector<LayerModule>& modules, const std::string& name) {
  for (const LayerModule& m : modules) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

bool Hooked(const LayerModule* m) { return m != nullptr && (m->kind == LayerModule::kLinear || m->kind == LayerModule::kRouter); }

double LinearFlops(const LayerModule& m, double tokens) {
  return 2 * tokens * static_cast<double>(m.in_features) * static_cast<double>(m.out_features);
}

}  // namespace

std::optional<std::string> HookedInputOf(const ModelConfig& config, int layer, const std::string& module) {
  if (layer < 0 || layer >= config.num_hidden_layers) return std::nullopt;
  const std::vector<LayerModule> modules = DecoderLayerModules(config, layer);
  if (Hooked(Find(modules, module))) return module;
  const std::string prefix = LayerPrefix(config, layer);
  if (!absl::StartsWith(module, prefix)) return std::nullopt;
  const LayerBlocks& blocks = config.layers[layer];
  // Candidates in order of preference; the first that exists answers.
  for (const char* suffix : {".q_proj", ".qkv_proj", ".in_proj_qkvz", ".in_proj_qkv", ".gate", ".gate_proj",
                             ".gate_up_proj"}) {
    const std::string candidate = module + suffix;
    const LayerModule* m = Find(modules, candidate);
    if (!Hooked(m)) continue;
    const std::string part = module.substr(prefix.size());
    const bool mixer = (part == "self_attn" && blocks.mixer == TokenMixer::kAttention) ||
                       (part == "linear_attn" && blocks.mixer == TokenMixer::kLinearAttention);
    const bool feed_forward = absl::StartsWith(part, "mlp");
    if (mixer || feed_forward) return candidate;
  }
  return std::nullopt;
}

bool RunsOnTokens(const ModelConfig& config, int layer, const std::string& module) {
  if (layer < 0 || layer >= config.num_hidden_layers) return false;
  if (IsScalableByInput(config, layer, module)) return true;
  const std::string prefix = LayerPrefix(config, layer);
  if (!absl::StartsWith(module, prefix)) return false;
  // The mlp, its shared expert or one of its experts: every gated MLP and
  // the sparse block's routing work token by token.
  const std::string part = module.substr(prefix.size());
  return (part == "mlp" || absl::StartsWith(part, "mlp.")) && HookedInputOf(config, layer, module).has_value();
}

bool IsScalableByInput(const ModelConfig& config, int layer, const std::string& module) {
  if (layer < 0 || layer >= config.num_hidden_layers) return false;
  return Hooked(Find(DecoderLayerModules(config, layer), module));
}

absl::StatusOr<double> SubmoduleForwardFlops(const ModelConfig& config, int layer, const std::string& module,
                                             const std::vector<int64_t>& sample_tokens) {
  if (layer < 0 || layer >= config.num_hidden_layers) {
    return absl::InvalidArgumentError(absl::StrCat("no decoder layer ", layer));
  }
  double tokens = 0, squared = 0;
  for (int64_t l : sample_tokens) {
    tokens += static_cast<double>(l);
    squared += static_cast<double>(l) * static_cast<double>(l);
  }
  const std::vector<LayerModule> modules = DecoderLayerModules(config, layer);
  if (const LayerModule* m = Find(modules, module); Hooked(m)) return LinearFlops(*m, tokens);
  const std::string prefix = LayerPrefix(config, layer);
  const std::string part = absl::StartsWith(module, prefix) ? module.substr(prefix.size()) : "";
  const LayerBlocks& blocks = config.layers[layer];
  const MoeConfig& moe = config.moe;
  double flops = 0;
  bool found = false;
  for (const LayerModule& m : modules) {
    if (!Hooked(&m) || !absl::StartsWith(m.name, module + ".")) continue;
    found = true;
    // Inside the sparse block each expert runs on its routed tokens: top_k /
    // experts of them on average.
    const bool routed = part == "mlp" && absl::StrContains(m.name, ".mlp.experts.");
    const double share = routed ? static_cast<double>(moe.top_k) / static_cast<double>(moe.num_experts) : 1.0;
    flops += LinearFlops(m, tokens * share);
  }
  if (!found) {
    return absl::InvalidArgumentError(absl::StrCat(module, " is not a part of decoder layer ", layer,
                                                   " that runs on its own"));
  }
  if (part == "self_attn" && blocks.mixer == TokenMixer::kAttention) {
    flops += 2 * 2 * squared * static_cast<double>(config.num_attention_heads * config.head_dim);
  }
  if (part == "linear_attn" && blocks.mixer == TokenMixer::kLinearAttention) {
    // Per 64-token chunk and value head: the intra-chunk products, the two
    // triangular solves and the state update, ~ 64 * (4 dk + 3 dv) * 64 +
    // 4 * 64 * dk * dv.
    const LinearAttentionConfig& la = config.linear_attention;
    const double dk = static_cast<double>(la.key_head_dim), dv = static_cast<double>(la.value_head_dim);
    flops += 2 * tokens * static_cast<double>(la.num_value_heads) * (64 * (4 * dk + 3 * dv) + 4 * dk * dv);
  }
  return flops;
}

}  // namespace model
}  // namespace backend
}  // namespace wring
