#include "bench/shapes.h"

namespace wring {
namespace bench {

mapping::Json ShapeConfig(const std::string& shape, int layers, const std::string& dtype) {
  const bool big = shape == "llama3-8b";
  return mapping::Json{{"architectures", {"LlamaForCausalLM"}},
                       {"model_type", "llama"},
                       {"hidden_size", big ? 4096 : 1024},
                       {"intermediate_size", big ? 14336 : 3584},
                       {"num_hidden_layers", layers > 0 ? layers : (big ? 32 : 4)},
                       {"num_attention_heads", big ? 32 : 8},
                       {"num_key_value_heads", big ? 8 : 2},
                       {"head_dim", 128},
                       {"vocab_size", big ? 128256 : 32000},
                       {"max_position_embeddings", 8192},
                       {"rms_norm_eps", 1e-5},
                       {"rope_theta", 500000.0},
                       {"tie_word_embeddings", false},
                       {"torch_dtype", dtype}};
}

}  // namespace bench
}  // namespace wring
