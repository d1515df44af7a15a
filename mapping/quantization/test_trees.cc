#include "mapping/quantization/test_trees.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace wring {
namespace mapping {
namespace testing {

ModuleTree LlamaLikeTree(const LlamaShape& shape) {
  std::vector<Module> modules;
  auto add = [&](std::string name, std::vector<std::string> mro, int64_t in = -1,
                 int64_t out = -1) {
    Module m;
    m.name = std::move(name);
    m.class_name = mro.front();
    m.mro = std::move(mro);
    m.in_features = in;
    m.out_features = out;
    modules.push_back(std::move(m));
  };
  auto linear = [&](std::string name, int64_t in, int64_t out) {
    add(std::move(name), {"Linear", "Module"}, in, out);
  };
  add("", {"LlamaForCausalLM", "LlamaPreTrainedModel", "PreTrainedModel", "Module"});
  add("model", {"LlamaModel", "LlamaPreTrainedModel", "PreTrainedModel", "Module"});
  add("model.embed_tokens", {"Embedding", "Module"});
  add("model.layers", {"ModuleList", "Module"});
  for (int i = 0; i < shape.layers; ++i) {
    std::string layer = absl::StrCat("model.layers.", i);
    add(layer, {"LlamaDecoderLayer", "GradientCheckpointingLayer", "Module"});
    add(layer + ".self_attn", {"LlamaAttention", "Module"});
    linear(layer + ".self_attn.q_proj", shape.hidden, shape.hidden);
    linear(layer + ".self_attn.k_proj", shape.hidden, shape.hidden / 4);
    linear(layer + ".self_attn.v_proj", shape.hidden, shape.hidden / 4);
    linear(layer + ".self_attn.o_proj", shape.hidden, shape.hidden);
    add(layer + ".mlp", {"LlamaMLP", "Module"});
    linear(layer + ".mlp.gate_proj", shape.hidden, shape.intermediate);
    linear(layer + ".mlp.up_proj", shape.hidden, shape.intermediate);
    linear(layer + ".mlp.down_proj", shape.intermediate, shape.hidden);
    add(layer + ".mlp.act_fn", {"SiLUActivation", "Module"});
    add(layer + ".input_layernorm", {"LlamaRMSNorm", "Module"});
    add(layer + ".post_attention_layernorm", {"LlamaRMSNorm", "Module"});
  }
  add("model.norm", {"LlamaRMSNorm", "Module"});
  add("model.rotary_emb", {"LlamaRotaryEmbedding", "Module"});
  linear("lm_head", shape.hidden, shape.vocab);
  std::vector<Parameter> params = {{"model.embed_tokens.weight", {shape.vocab, shape.hidden}}};
  auto tree = ModuleTree::Create(std::move(modules), std::move(params));
  if (!tree.ok()) std::abort();
  return *std::move(tree);
}

}  // namespace testing
}  // namespace mapping
}  // namespace wring
