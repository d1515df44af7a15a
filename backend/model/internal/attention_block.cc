// Softmax attention: LlamaAttention and its variants (Qwen3 q/k norms,
// Qwen3-Next / Qwen3.5 output gate and partial RoPE, Gemma3 query scalar and
// softcapping, Phi3 fused qkv_proj).
#include <cmath>
#include <utility>

#include "backend/model/internal/blocks.h"
#include "backend/model/internal/decoder_math.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace model {
namespace internal {

absl::StatusOr<torch::Tensor> RunAttention(const LayerRunner& run, const torch::Tensor& normed) {
  const ModelConfig& config = run.config();
  const int64_t batch = normed.size(0), length = normed.size(1), head_dim = config.head_dim;
  const int64_t q_size = config.num_attention_heads * head_dim;
  const int64_t kv_size = config.num_key_value_heads * head_dim;
  torch::Tensor query, key, value, gate;
  if (config.fused_qkv) {
    WRING_ASSIGN_OR_RETURN(const torch::Tensor qkv, run.Linear("self_attn.qkv_proj", normed));
    query = qkv.slice(-1, 0, q_size);
    key = qkv.slice(-1, q_size, q_size + kv_size);
    value = qkv.slice(-1, q_size + kv_size);
  } else {
    WRING_ASSIGN_OR_RETURN(query, run.Linear("self_attn.q_proj", normed));
    WRING_ASSIGN_OR_RETURN(key, run.Linear("self_attn.k_proj", normed));
    WRING_ASSIGN_OR_RETURN(value, run.Linear("self_attn.v_proj", normed));
  }
  if (config.attention_output_gate) {
    // q_proj gives [query_h, gate_h] per head.
    const torch::Tensor per_head = query.view({batch, length, -1, 2 * head_dim});
    gate = per_head.slice(-1, head_dim).reshape({batch, length, -1});
    query = per_head.slice(-1, 0, head_dim);
  }
  query = query.reshape({batch, length, -1, head_dim});
  key = key.view({batch, length, -1, head_dim});
  value = value.view({batch, length, -1, head_dim});
  if (config.qk_norm) {  // per head, before RoPE
    query = run.Norm("self_attn.q_norm", query);
    key = run.Norm("self_attn.k_norm", key);
  }
  query = query.transpose(1, 2);
  key = key.transpose(1, 2);
  value = value.transpose(1, 2);
  const Rope rope = RopeOfLayer(config, run.layer());
  const auto [cos, sin] = RopeTables(RopeInverseFrequencies(rope, length), length, normed.scalar_type(),
                                     normed.device(), rope.scaling.attention_factor);
  query = ApplyRope(query, cos, sin);
  key = ApplyRope(key, cos, sin);
  WRING_ASSIGN_OR_RETURN(auto query_key, run.QueryKey(std::move(query), std::move(key)));
  WRING_ASSIGN_OR_RETURN(auto key_value, run.KeyValue(std::move(query_key.second), std::move(value)));
  torch::Tensor attention =
      CausalAttention(query_key.first, key_value.first, key_value.second, config.attention_scaling,
                      SlidingWindowOfLayer(config, run.layer()), kDefaultMaxScoreBytes,
                      config.attention_logit_softcapping);
  if (gate.defined()) {
    const torch::Tensor sigmoid = torch::sigmoid(gate.to(torch::kFloat)).to(gate.scalar_type());
    attention = attention * sigmoid;
  }
  return run.Linear("self_attn.o_proj", attention);
}

}  // namespace internal
}  // namespace model
}  // namespace backend
}  // namespace wring
