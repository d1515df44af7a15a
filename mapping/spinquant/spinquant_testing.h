// Test helpers: small hand-built decoder trees, laid out in the order
// transformers registers Llama's (or Phi3's fused) modules, and comparison of
// messages that embed Python sets (whose order depends on string hashing).
#ifndef WRING_MAPPING_SPINQUANT_SPINQUANT_TESTING_H_
#define WRING_MAPPING_SPINQUANT_SPINQUANT_TESTING_H_

#include <cstdint>
#include <string>

#include "mapping/testing/python_sets.h"
#include "mapping/tree/module_tree.h"

namespace wring {
namespace mapping {
namespace spinquant {

using ::wring::mapping::testing::SameMessageUpToSetOrder;

struct DecoderShape {
  std::string architecture = "LlamaForCausalLM";
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

ModuleTree BuildDecoderTree(const DecoderShape& shape);

}  // namespace spinquant
}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_SPINQUANT_SPINQUANT_TESTING_H_
