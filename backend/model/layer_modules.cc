// DecoderLayerModules: the modules of one decoder layer from its blocks.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "backend/model/config.h"

namespace wring {
namespace backend {
namespace model {
namespace {

class ModuleList {
 public:
  ModuleList(const ModelConfig& config, int layer)
      : prefix_(LayerPrefix(config, layer)), zero_centered_(config.norm_style != NormStyle::kWeight) {}

  void Linear(const std::string& name, int64_t in, int64_t out, bool bias = false) {
    modules_.push_back(LayerModule{prefix_ + name, LayerModule::kLinear, in, out, bias, {}});
  }
  void Norm(const std::string& name, int64_t size) {
    modules_.push_back(LayerModule{prefix_ + name, LayerModule::kRmsNorm, size, size, false, {}, zero_centered_});
  }
  // Gated DeltaNet's output norm: w * x whatever the config's style.
  void GatedNorm(const std::string& name, int64_t size) {
    modules_.push_back(LayerModule{prefix_ + name, LayerModule::kRmsNorm, size, size, false, {}, false});
  }
  void Router(const std::string& name, int64_t in, int64_t out) {
    modules_.push_back(LayerModule{prefix_ + name, LayerModule::kRouter, in, out, false, {}});
  }
  void Other(const std::string& name, std::vector<LayerModule::Parameter> parameters) {
    modules_.push_back(LayerModule{prefix_ + name, LayerModule::kOther, 0, 0, false, std::move(parameters)});
  }
  std::vector<LayerModule> Take() { return std::move(modules_); }

 private:
  const std::string prefix_;
  const bool zero_centered_;
  std::vector<LayerModule> modules_;
};

void AddAttention(const ModelConfig& c, ModuleList& m) {
  const int64_t hidden = c.hidden_size;
  const int64_t q_size = c.num_attention_heads * c.head_dim;
  const int64_t kv_size = c.num_key_value_heads * c.head_dim;
  if (c.fused_qkv) {  // Phi3Attention registers o_proj first
    m.Linear("self_attn.o_proj", q_size, hidden, c.o_proj_bias);
    m.Linear("self_attn.qkv_proj", hidden, q_size + 2 * kv_size, c.attention_bias);
    return;
  }
  m.Linear("self_attn.q_proj", hidden, c.attention_output_gate ? 2 * q_size : q_size, c.attention_bias);
  m.Linear("self_attn.k_proj", hidden, kv_size, c.attention_bias);
  m.Linear("self_attn.v_proj", hidden, kv_size, c.attention_bias);
  m.Linear("self_attn.o_proj", q_size, hidden, c.o_proj_bias);
  if (c.qk_norm) {
    m.Norm("self_attn.q_norm", c.head_dim);
    m.Norm("self_attn.k_norm", c.head_dim);
  }
}

void AddLinearAttention(const ModelConfig& c, ModuleList& m) {
  const LinearAttentionConfig& la = c.linear_attention;
  const int64_t key_dim = la.num_key_heads * la.key_head_dim;
  const int64_t value_dim = la.num_value_heads * la.value_head_dim;
  const int64_t conv_dim = 2 * key_dim + value_dim;
  const int64_t hidden = c.hidden_size;
  m.Other("linear_attn", {{"dt_bias", {la.num_value_heads}}, {"A_log", {la.num_value_heads}}});
  m.Other("linear_attn.conv1d", {{"weight", {conv_dim, 1, la.conv_kernel}}});
  if (la.projections == LinearAttentionConfig::Projections::kFusedQkvzBa) {
    m.Linear("linear_attn.in_proj_qkvz", hidden, 2 * key_dim + 2 * value_dim);
    m.Linear("linear_attn.in_proj_ba", hidden, 2 * la.num_value_heads);
    m.GatedNorm("linear_attn.norm", la.value_head_dim);
    m.Linear("linear_attn.out_proj", value_dim, hidden);
    return;
  }
  m.GatedNorm("linear_attn.norm", la.value_head_dim);
  m.Linear("linear_attn.out_proj", value_dim, hidden);
  m.Linear("linear_attn.in_proj_qkv", hidden, conv_dim);
  m.Linear("linear_attn.in_proj_z", hidden, value_dim);
  m.Linear("linear_attn.in_proj_b", hidden, la.num_value_heads);
  m.Linear("linear_attn.in_proj_a", hidden, la.num_value_heads);
}

void AddGatedMlp(const std::string& path, int64_t hidden, int64_t width, bool bias, ModuleList& m) {
  m.Linear(path + ".gate_proj", hidden, width, bias);
  m.Linear(path + ".up_proj", hidden, width, bias);
  m.Linear(path + ".down_proj", width, hidden, bias);
}

void AddDenseMlp(const ModelConfig& c, ModuleList& m) {
  if (c.fused_gate_up) {
    m.Linear("mlp.gate_up_proj", c.hidden_size, 2 * c.intermediate_size, c.mlp_bias);
    m.Linear("mlp.down_proj", c.intermediate_size, c.hidden_size, c.mlp_bias);
    return;
  }
  AddGatedMlp("mlp", c.hidden_size, c.intermediate_size, c.mlp_bias, m);
}

void AddSparseMoe(const ModelConfig& c, ModuleList& m) {
  const MoeConfig& moe = c.moe;
  const int64_t hidden = c.hidden_size, width = moe.expert_intermediate_size;
  auto experts = [&] {
    // llm-compressor's linearized experts (ExpertMLPWithGate registers
    // up_proj before gate_proj).
    for (int64_t e = 0; e < moe.num_experts; ++e) {
      const std::string expert = absl::StrCat("mlp.experts.", e);
      m.Linear(expert + ".up_proj", hidden, width);
      m.Linear(expert + ".gate_proj", hidden, width);
      m.Linear(expert + ".down_proj", width, hidden);
    }
  };
  // The router, then the experts (Qwen3-MoE registers them the other way
  // round; nothing here depends on the order).
  m.Router("mlp.gate", hidden, moe.num_experts);
  experts();
  if (moe.shared_expert_intermediate_size > 0) {
    AddGatedMlp("mlp.shared_expert", hidden, moe.shared_expert_intermediate_size, false, m);
    m.Linear("mlp.shared_expert_gate", hidden, 1);
  }
}

}  // namespace

std::vector<LayerModule> DecoderLayerModules(const ModelConfig& config, int layer) {
  ModuleList modules(config, layer);
  const LayerBlocks& blocks = config.layers.at(layer);
  if (blocks.mixer == TokenMixer::kAttention) {
    AddAttention(config, modules);
  } else {
    AddLinearAttention(config, modules);
  }
  if (blocks.feed_forward == FeedForward::kDenseMlp) {
    AddDenseMlp(config, modules);
  } else {
    AddSparseMoe(config, modules);
  }
  modules.Norm("input_layernorm", config.hidden_size);
  modules.Norm("post_attention_layernorm", config.hidden_size);
  if (config.sandwich_norms) {
    modules.Norm("pre_feedforward_layernorm", config.hidden_size);
    modules.Norm("post_feedforward_layernorm", config.hidden_size);
  }
  return modules.Take();
}

std::string SavedName(const ModelConfig& config, const std::string& module_name) {
  std::string name = module_name;
  for (const auto& [from, to] : config.saved_name_renames) name = absl::StrReplaceAll(name, {{from, to}});
  return name;
}

std::vector<std::pair<std::string, std::vector<int64_t>>> ModuleParameters(const LayerModule& module) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> parameters;
  switch (module.kind) {
    case LayerModule::kLinear:
    case LayerModule::kRouter:
      parameters.push_back({module.name + ".weight", {module.out_features, module.in_features}});
      if (module.has_bias) parameters.push_back({module.name + ".bias", {module.out_features}});
      break;
    case LayerModule::kRmsNorm:
      parameters.push_back({module.name + ".weight", {module.out_features}});
      break;
    case LayerModule::kOther:
      for (const LayerModule::Parameter& p : module.parameters) parameters.push_back({module.name + "." + p.name, p.shape});
      break;
  }
  return parameters;
}

}  // namespace model
}  // namespace backend
}  // namespace wring
