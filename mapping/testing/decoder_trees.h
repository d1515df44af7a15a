// Test support: small hand-built decoder module trees, laid out in the
// order transformers registers a Llama's modules (or Phi3's fused
// qkv_proj / gate_up_proj), for tests that need a model without a fixture.
#ifndef WRING_MAPPING_TESTING_DECODER_TREES_H_
#define WRING_MAPPING_TESTING_DECODER_TREES_H_

#include <cstdint>
#include <string>

#include "mapping/tree/module_tree.h"

namespace wring {
namespace mapping {
namespace testing {

struct DecoderShape {
  std::string architecture = "LlamaForCausalLM";
  // "Llama": transformers' class names and base classes (LlamaAttention,
  // LlamaRMSNorm, ... each with "Module" in its MRO). "": bare names
  // (Attention, RMSNorm) whose MRO is the class alone.
  std::string class_prefix;
  int layers = 2;
  int64_t vocab = 128;
  int64_t hidden = 64;
  int64_t intermediate = 96;
  int64_t q_out = 64;   // heads * head_dim
  int64_t kv_out = 32;  // kv heads * head_dim
  // Phi3 layout: self_attn.{o_proj, qkv_proj}, mlp.{gate_up_proj, down_proj}.
  bool fused_projections = false;
  // Name of the final norm; "" for none.
  std::string final_norm = "model.norm";
  // Record the embedding's weight shape in the parameters.
  bool embedding_params = true;
};

// LlamaForCausalLM with transformers' class names: hidden 256 (q_out 256,
// kv_out 64, GQA 4:1), intermediate 512, vocab 1000.
DecoderShape LlamaShape();

// The tree named_modules() would yield: model.embed_tokens, model.layers.N
// with self_attn, mlp (and act_fn), input_layernorm and
// post_attention_layernorm, the final norm, model.rotary_emb, lm_head.
ModuleTree BuildDecoderTree(const DecoderShape& shape);

}  // namespace testing
}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_TESTING_DECODER_TREES_H_
