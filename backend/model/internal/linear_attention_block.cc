// Gated DeltaNet (Qwen3NextGatedDeltaNet / Qwen3_5GatedDeltaNet forward on a
// whole sequence without a cache): projections, causal depthwise conv1d with
// SiLU, the chunked gated delta rule, gated RMSNorm, out_proj.
#include <vector>

#include "backend/model/internal/blocks.h"
#include "backend/model/internal/decoder_math.h"
#include "backend/model/internal/gated_delta_rule.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace model {
namespace internal {
namespace {

struct Projected {
  torch::Tensor mixed_qkv;  // [B, T, 2 * key_dim + value_dim]: q, k, v of every head, in that order
  torch::Tensor z;          // [B, T, value_heads, value_head_dim]
  torch::Tensor b, a;       // [B, T, value_heads]
};

// Qwen3-Next: in_proj_qkvz groups q, k, v, z per key head, in_proj_ba groups
// b, a per key head (fix_query_key_value_ordering).
absl::StatusOr<Projected> ProjectFused(const LayerRunner& run, const torch::Tensor& x) {
  const LinearAttentionConfig& la = run.config().linear_attention;
  const int64_t batch = x.size(0), length = x.size(1);
  const int64_t ratio = la.num_value_heads / la.num_key_heads;
  WRING_ASSIGN_OR_RETURN(torch::Tensor qkvz, run.Linear("linear_attn.in_proj_qkvz", x));
  WRING_ASSIGN_OR_RETURN(torch::Tensor ba, run.Linear("linear_attn.in_proj_ba", x));
  qkvz = qkvz.view({batch, length, la.num_key_heads, 2 * la.key_head_dim + 2 * ratio * la.value_head_dim});
  ba = ba.view({batch, length, la.num_key_heads, 2 * ratio});
  const std::vector<torch::Tensor> parts =
      torch::split_with_sizes(qkvz, {la.key_head_dim, la.key_head_dim, ratio * la.value_head_dim,
                                     ratio * la.value_head_dim},
                              3);
  const std::vector<torch::Tensor> gates = torch::split_with_sizes(ba, {ratio, ratio}, 3);
  Projected p;
  const torch::Tensor query = parts[0].reshape({batch, length, -1});
  const torch::Tensor key = parts[1].reshape({batch, length, -1});
  const torch::Tensor value = parts[2].reshape({batch, length, -1});
  p.mixed_qkv = torch::cat({query, key, value}, -1);
  p.z = parts[3].reshape({batch, length, -1, la.value_head_dim});
  p.b = gates[0].reshape({batch, length, la.num_value_heads});
  p.a = gates[1].reshape({batch, length, la.num_value_heads});
  return p;
}

// Qwen3.5: one Linear per part.
absl::StatusOr<Projected> ProjectSeparate(const LayerRunner& run, const torch::Tensor& x) {
  const LinearAttentionConfig& la = run.config().linear_attention;
  const int64_t batch = x.size(0), length = x.size(1);
  Projected p;
  WRING_ASSIGN_OR_RETURN(p.mixed_qkv, run.Linear("linear_attn.in_proj_qkv", x));
  WRING_ASSIGN_OR_RETURN(torch::Tensor z, run.Linear("linear_attn.in_proj_z", x));
  p.z = z.reshape({batch, length, -1, la.value_head_dim});
  WRING_ASSIGN_OR_RETURN(p.b, run.Linear("linear_attn.in_proj_b", x));
  WRING_ASSIGN_OR_RETURN(p.a, run.Linear("linear_attn.in_proj_a", x));
  return p;
}

}  // namespace

absl::StatusOr<torch::Tensor> RunLinearAttention(const LayerRunner& run, const torch::Tensor& normed) {
  const ModelConfig& config = run.config();
  const LinearAttentionConfig& la = config.linear_attention;
  const int64_t batch = normed.size(0), length = normed.size(1);
  const int64_t key_dim = la.num_key_heads * la.key_head_dim;
  const int64_t value_dim = la.num_value_heads * la.value_head_dim;
  Projected p;
  if (la.projections == LinearAttentionConfig::Projections::kFusedQkvzBa) {
    WRING_ASSIGN_OR_RETURN(p, ProjectFused(run, normed));
  } else {
    WRING_ASSIGN_OR_RETURN(p, ProjectSeparate(run, normed));
  }
  const torch::Tensor conv_weight = run.Weight("linear_attn.conv1d");  // [conv_dim, 1, kernel]
  const torch::Tensor mixed = CausalConv1dSilu(p.mixed_qkv.transpose(1, 2), conv_weight).transpose(1, 2);
  const std::vector<torch::Tensor> qkv = torch::split_with_sizes(mixed, {key_dim, key_dim, value_dim}, -1);
  torch::Tensor query = qkv[0].reshape({batch, length, -1, la.key_head_dim});
  torch::Tensor key = qkv[1].reshape({batch, length, -1, la.key_head_dim});
  const torch::Tensor value = qkv[2].reshape({batch, length, -1, la.value_head_dim});

  const torch::Tensor beta = torch::sigmoid(p.b.to(torch::kFloat)).to(p.b.scalar_type());
  // -exp(A_log) * softplus(a + dt_bias), in float32 (a.float() + dt_bias
  // promotes to float32).
  const torch::Tensor decay = -run.Parameter("linear_attn.A_log").to(torch::kFloat).exp() *
                              torch::softplus(p.a.to(torch::kFloat) + run.Parameter("linear_attn.dt_bias").to(torch::kFloat));
  const int64_t ratio = la.num_value_heads / la.num_key_heads;
  if (ratio > 1) {
    query = query.repeat_interleave(ratio, 2);
    key = key.repeat_interleave(ratio, 2);
  }
  const torch::Tensor core = ChunkGatedDeltaRule(query, key, value, decay, beta);  // [B, T, Hv, dv], model dtype
  const torch::Tensor normed_core =
      GatedRmsNorm(core.reshape({-1, la.value_head_dim}), p.z.reshape({-1, la.value_head_dim}),
                   run.Weight("linear_attn.norm"), config.rms_norm_eps);
  return run.Linear("linear_attn.out_proj", normed_core.reshape({batch, length, -1}));
}

}  // namespace internal
}  // namespace model
}  // namespace backend
}  // namespace wring
