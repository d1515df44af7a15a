#include "bench/shapes.h"

#include <cstdint>
#include <random>

namespace wring {
namespace bench {

namespace {

// The shapes of h15r's bench/llmcompressor_moe_layer.py, so the two sides
// time the same layer: vocab 2048 (outside the layer time), bf16.
mapping::Json MoeShape(const std::string& shape, const std::string& dtype) {
  mapping::Json c = {{"vocab_size", 2048},        {"hidden_size", 2048},
                     {"rms_norm_eps", 1e-6},      {"max_position_embeddings", 4096},
                     {"tie_word_embeddings", false}, {"torch_dtype", dtype},
                     {"norm_topk_prob", true}};
  if (shape == "qwen3-30b-a3b") {
    c.update({{"architectures", {"Qwen3MoeForCausalLM"}}, {"model_type", "qwen3_moe"},
              {"num_hidden_layers", 1}, {"num_attention_heads", 32}, {"num_key_value_heads", 4},
              {"head_dim", 128}, {"intermediate_size", 6144}, {"moe_intermediate_size", 768},
              {"num_experts", 128}, {"num_experts_per_tok", 8},
              {"rope_parameters", {{"rope_type", "default"}, {"rope_theta", 1000000.0}}}});
    return c;
  }
  // Layer 0 is the timed one: Gated DeltaNet + 512 experts; layer 1 (full
  // attention) is sparse too: with a dense MLP there, AWQ's registry mapping
  // for post_attention_layernorm finds no experts and llm-compressor raises.
  c.update({{"architectures", {"Qwen3NextForCausalLM"}}, {"model_type", "qwen3_next"},
            {"num_hidden_layers", 2}, {"layer_types", {"linear_attention", "full_attention"}},
            {"num_attention_heads", 16}, {"num_key_value_heads", 2},
            {"head_dim", 256}, {"intermediate_size", 5120}, {"linear_num_key_heads", 16},
            {"linear_num_value_heads", 32}, {"linear_key_head_dim", 128}, {"linear_value_head_dim", 128},
            {"linear_conv_kernel_dim", 4}, {"moe_intermediate_size", 512},
            {"shared_expert_intermediate_size", 512}, {"num_experts", 512}, {"num_experts_per_tok", 10},
            {"rope_parameters",
             {{"rope_type", "default"}, {"rope_theta", 10000000.0}, {"partial_rotary_factor", 0.25}}}});
  return c;
}

}  // namespace

bool IsMoeShape(const std::string& shape) { return shape == "qwen3-30b-a3b" || shape == "qwen3-next-80b-a3b"; }

mapping::Json ShapeConfig(const std::string& shape, int layers, const std::string& dtype) {
  if (IsMoeShape(shape)) return MoeShape(shape, dtype);
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

std::string RandomCalibrationJsonl(const mapping::Json& config, int samples, int seq_len) {
  std::mt19937_64 random(7);
  std::uniform_int_distribution<int64_t> token(2, config["vocab_size"].get<int64_t>() - 1);
  std::string jsonl;
  for (int s = 0; s < samples; ++s) {
    mapping::Json ids = mapping::Json::array();
    for (int t = 0; t < seq_len; ++t) ids.push_back(token(random));
    jsonl += mapping::Json{{"input_ids", ids}}.dump() + "\n";
  }
  return jsonl;
}

}  // namespace bench
}  // namespace wring
