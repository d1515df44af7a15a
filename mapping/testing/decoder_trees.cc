#include "mapping/testing/decoder_trees.h"

#include <cstdlib>
#include <iostream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace wring {
namespace mapping {
namespace testing {

DecoderShape LlamaShape() {
  DecoderShape shape;
  shape.class_prefix = "Llama";
  shape.vocab = 1000;
  shape.hidden = 256;
  shape.intermediate = 512;
  shape.q_out = 256;
  shape.kv_out = 64;
  return shape;
}

ModuleTree BuildDecoderTree(const DecoderShape& shape) {
  const std::string& prefix = shape.class_prefix;
  std::vector<Module> modules;
  // A module whose class is `cls`; with a class prefix, `model_class` names
  // are prefixed and every MRO ends in Module, as transformers' do.
  auto add = [&](std::string name, const std::string& cls, bool model_class,
                 std::vector<std::string> bases = {}, int64_t in = -1, int64_t out = -1) {
    Module m;
    m.name = std::move(name);
    m.class_name = prefix.empty() || !model_class ? cls : absl::StrCat(prefix, cls);
    m.mro = {m.class_name};
    if (!prefix.empty()) {
      for (std::string& base : bases) m.mro.push_back(std::move(base));
      m.mro.push_back("Module");
    }
    m.in_features = in;
    m.out_features = out;
    modules.push_back(std::move(m));
  };
  auto linear = [&add](const std::string& name, int64_t in, int64_t out) {
    add(name, "Linear", false, {}, in, out);
  };
  const std::string pretrained = absl::StrCat(prefix, "PreTrainedModel");
  if (prefix.empty()) {
    add("", shape.architecture, false);
    add("model", "DecoderModel", false);
  } else {
    add("", shape.architecture, false, {pretrained, "PreTrainedModel"});
    add("model", "Model", true, {pretrained, "PreTrainedModel"});
  }
  add("model.embed_tokens", "Embedding", false);
  add("model.layers", "ModuleList", false);
  for (int i = 0; i < shape.layers; ++i) {
    const std::string layer = absl::StrCat("model.layers.", i);
    add(layer, "DecoderLayer", true, {"GradientCheckpointingLayer"});
    add(layer + ".self_attn", "Attention", true);
    if (shape.fused_projections) {
      linear(layer + ".self_attn.o_proj", shape.q_out, shape.hidden);
      linear(layer + ".self_attn.qkv_proj", shape.hidden, shape.q_out + 2 * shape.kv_out);
      add(layer + ".mlp", "MLP", true);
      linear(layer + ".mlp.gate_up_proj", shape.hidden, 2 * shape.intermediate);
      linear(layer + ".mlp.down_proj", shape.intermediate, shape.hidden);
    } else {
      linear(layer + ".self_attn.q_proj", shape.hidden, shape.q_out);
      linear(layer + ".self_attn.k_proj", shape.hidden, shape.kv_out);
      linear(layer + ".self_attn.v_proj", shape.hidden, shape.kv_out);
      linear(layer + ".self_attn.o_proj", shape.q_out, shape.hidden);
      add(layer + ".mlp", "MLP", true);
      linear(layer + ".mlp.gate_proj", shape.hidden, shape.intermediate);
      linear(layer + ".mlp.up_proj", shape.hidden, shape.intermediate);
      linear(layer + ".mlp.down_proj", shape.intermediate, shape.hidden);
    }
    add(layer + ".mlp.act_fn", prefix.empty() ? "SiLU" : "SiLUActivation", false);
    add(layer + ".input_layernorm", "RMSNorm", true);
    add(layer + ".post_attention_layernorm", "RMSNorm", true);
  }
  if (!shape.final_norm.empty()) add(shape.final_norm, "RMSNorm", true);
  add("model.rotary_emb", "RotaryEmbedding", true);
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
  return *std::move(tree);
}

}  // namespace testing
}  // namespace mapping
}  // namespace wring
