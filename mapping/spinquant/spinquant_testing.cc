#include "mapping/spinquant/spinquant_testing.h"

#include <cstdlib>
#include <iostream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace wring {
namespace mapping {
namespace spinquant {
ModuleTree BuildDecoderTree(const DecoderShape& shape) {
  std::vector<Module> modules;
  auto add = [&modules](std::string name, std::string cls, int64_t in = -1, int64_t out = -1) {
    Module m;
    m.name = std::move(name);
    m.class_name = cls;
    m.mro = {cls};
    m.in_features = in;
    m.out_features = out;
    modules.push_back(std::move(m));
  };
  auto linear = [&add](const std::string& name, int64_t in, int64_t out) {
    add(name, "Linear", in, out);
  };
  add("", shape.architecture);
  add("model", "DecoderModel");
  add("model.embed_tokens", "Embedding");
  add("model.layers", "ModuleList");
  for (int i = 0; i < shape.layers; ++i) {
    const std::string layer = absl::StrCat("model.layers.", i);
    add(layer, "DecoderLayer");
    add(layer + ".self_attn", "Attention");
    if (shape.fused_projections) {
      linear(layer + ".self_attn.o_proj", shape.q_out, shape.hidden);
      linear(layer + ".self_attn.qkv_proj", shape.hidden, shape.q_out + 2 * shape.kv_out);
      add(layer + ".mlp", "MLP");
      linear(layer + ".mlp.gate_up_proj", shape.hidden, 2 * shape.intermediate);
      linear(layer + ".mlp.down_proj", shape.intermediate, shape.hidden);
    } else {
      linear(layer + ".self_attn.q_proj", shape.hidden, shape.q_out);
      linear(layer + ".self_attn.k_proj", shape.hidden, shape.kv_out);
      linear(layer + ".self_attn.v_proj", shape.hidden, shape.kv_out);
      linear(layer + ".self_attn.o_proj", shape.q_out, shape.hidden);
      add(layer + ".mlp", "MLP");
      linear(layer + ".mlp.gate_proj", shape.hidden, shape.intermediate);
      linear(layer + ".mlp.up_proj", shape.hidden, shape.intermediate);
      linear(layer + ".mlp.down_proj", shape.intermediate, shape.hidden);
    }
    add(layer + ".mlp.act_fn", "SiLU");
    add(layer + ".input_layernorm", "RMSNorm");
    add(layer + ".post_attention_layernorm", "RMSNorm");
  }
  if (!shape.final_norm.empty()) add(shape.final_norm, "RMSNorm");
  add("model.rotary_emb", "RotaryEmbedding");
  linear("lm_head", shape.hidden, shape.vocab);

  std::vector<Parameter> params;
  if (shape.embedding_params) {
    params.push_back({"model.embed_tokens.weight", {shape.vocab, shape.hidden}});
  }
  auto tree = ModuleTree::Create(std::move(modules), std::move(params));
  if (!tree.ok()) {
    std::cerr << "test tree is invalid: " << tree.status() << "\n";
    std::abort();
  }
  return std::move(tree).value();
}

}  // namespace spinquant
}  // namespace mapping
}  // namespace wring
