// Small hand-built module trees for the quantization tests.
#ifndef WRING_MAPPING_QUANTIZATION_TEST_TREES_H_
#define WRING_MAPPING_QUANTIZATION_TEST_TREES_H_

#include <cstdint>

#include "mapping/tree/module_tree.h"

namespace wring {
namespace mapping {
namespace testing {

struct LlamaShape {
  int layers = 2;
  int64_t hidden = 256;
  int64_t intermediate = 512;
  int64_t vocab = 1000;
};

// LlamaForCausalLM as named_modules() yields it: model.embed_tokens,
// model.layers.N.{self_attn.{q,k,v,o}_proj, mlp.{gate,up,down}_proj,
// mlp.act_fn, input_layernorm, post_attention_layernorm}, model.norm,
// model.rotary_emb, lm_head; the embedding's weight is a parameter.
ModuleTree LlamaLikeTree(const LlamaShape& shape = {});

}  // namespace testing
}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_QUANTIZATION_TEST_TREES_H_
