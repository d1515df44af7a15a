// The feed-forward blocks: gated MLPs (LlamaMLP, Phi3MLP's fused gate_up_proj,
// shared experts, linearized experts) and the sparse mixture of experts
// (TopKRouter + experts as llm-compressor's LinearExperts2D runs them +
// optional shared expert with its sigmoid gate).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "backend/model/internal/blocks.h"
#include "backend/model/internal/decoder_math.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace model {
namespace internal {

absl::StatusOr<torch::Tensor> RunGatedMlp(const LayerRunner& run, const std::string& path, const torch::Tensor& x) {
  const ModelConfig& config = run.config();
  if (config.fused_gate_up && path == "mlp") {
    // Phi3MLP: gate, up = gate_up_proj(x).chunk(2); down(up * act(gate)).
    WRING_ASSIGN_OR_RETURN(const torch::Tensor gate_up, run.Linear("mlp.gate_up_proj", x));
    const int64_t width = gate_up.size(-1) / 2;
    const torch::Tensor gate = gate_up.slice(-1, 0, width), up = gate_up.slice(-1, width);
    return run.Linear("mlp.down_proj", up * Activate(config.hidden_act, gate));
  }
  // down(act(gate(x)) * up(x)).
  WRING_ASSIGN_OR_RETURN(const torch::Tensor gate, run.Linear(path + ".gate_proj", x));
  WRING_ASSIGN_OR_RETURN(const torch::Tensor up, run.Linear(path + ".up_proj", x));
  return run.Linear(path + ".down_proj", Activate(config.hidden_act, gate) * up);
}

namespace {

// TopKRouter: float32 softmax, top-k, optional renormalization; the Qwen
// families cast the weights back to the model dtype, Mixtral does not.
// The router is hooked like a Linear (AWQ may balance it).
absl::StatusOr<MoeRouting> Route(const LayerRunner& run, const torch::Tensor& tokens) {
  const MoeConfig& moe = run.config().moe;
  WRING_ASSIGN_OR_RETURN(const torch::Tensor logits, run.Linear("mlp.gate", tokens));
  const torch::Tensor probabilities = torch::softmax(logits, -1, torch::kFloat);
  auto [top_weights, top_experts] = torch::topk(probabilities, moe.top_k, -1);
  if (moe.norm_topk_prob) top_weights = top_weights / top_weights.sum(-1, /*keepdim=*/true);
  if (!moe.float32_routing_weights) top_weights = top_weights.to(tokens.scalar_type());
  MoeRouting routing;
  routing.top_weights = top_weights;
  const torch::Tensor expert_mask =
      torch::one_hot(top_experts, moe.num_experts).permute({2, 1, 0});  // [experts, top_k, N]
  for (int64_t e = 0; e < moe.num_experts; ++e) {
    std::vector<torch::Tensor> where = torch::where(expert_mask[e]);
    routing.slots.push_back(std::move(where[0]));
    routing.token_rows.push_back(std::move(where[1]));
  }
  routing.expert_tokens.resize(moe.num_experts);
  routing.expert_weights.resize(moe.num_experts);
  return routing;
}

// The router's weight when the routing cache may serve this forward: no
// input hook to see the router's input, no replacement weight; else none.
absl::StatusOr<torch::Tensor> CacheableRouterWeight(const LayerRunner& run) {
  const LayerHooks& hooks = run.hooks();
  if (!hooks.moe_routing || hooks.linear_input || hooks.moe_calibrate_all_experts) return torch::Tensor();
  if (hooks.linear_weight) {
    WRING_ASSIGN_OR_RETURN(const torch::Tensor replaced, hooks.linear_weight(run.prefix() + "mlp.gate"));
    if (replaced.defined()) return torch::Tensor();
  }
  return run.Weight("mlp.gate");
}

bool CacheHolds(const MoeRoutingCache& cache, const LayerRunner& run, const torch::Tensor& tokens,
                const torch::Tensor& router) {
  return cache.block == run.prefix() && cache.tokens.defined() && cache.router_weight.is_same(router) &&
         cache.router_version == router._version() && cache.tokens.sizes() == tokens.sizes() &&
         cache.tokens.scalar_type() == tokens.scalar_type() && torch::equal(cache.tokens, tokens);
}

}  // namespace

absl::StatusOr<torch::Tensor> RunSparseMoe(const LayerRunner& run, const torch::Tensor& normed) {
  const ModelConfig& config = run.config();
  const MoeConfig& moe = config.moe;
  const torch::Tensor tokens = normed.reshape({-1, config.hidden_size});  // [N, hidden]
  const torch::Dtype dtype = tokens.scalar_type();

  torch::Tensor shared;
  if (moe.shared_expert_intermediate_size > 0) {
    WRING_ASSIGN_OR_RETURN(shared, RunGatedMlp(run, "mlp.shared_expert", tokens));
  }

  // The routing, and each expert's gathered tokens, from the cache when it
  // holds them for these tokens and this router.
  WRING_ASSIGN_OR_RETURN(const torch::Tensor cacheable_router, CacheableRouterWeight(run));
  MoeRoutingCache* cache = cacheable_router.defined() ? run.hooks().moe_routing.get() : nullptr;
  const bool cached = cache != nullptr && CacheHolds(*cache, run, tokens, cacheable_router);
  MoeRouting routing;
  if (cached) {
    routing = cache->routing;
  } else {
    WRING_ASSIGN_OR_RETURN(routing, Route(run, tokens));
  }

  // LinearExperts2D.forward: experts in index order, each output weighted
  // and accumulated with index_add_ (rounding to the dtype after each add).
  torch::Tensor output = torch::zeros_like(tokens);
  const bool all_tokens = run.hooks().moe_calibrate_all_experts;
  for (int64_t e = 0; e < moe.num_experts; ++e) {
    const torch::Tensor& slot = routing.slots[e];
    const torch::Tensor& token = routing.token_rows[e];
    if (token.numel() == 0 && !all_tokens) continue;  // nothing routed: no output, no hook call
    const std::string path = absl::StrCat("mlp.experts.", e);
    torch::Tensor expert_out;
    if (all_tokens) {
      // Every Linear's hooks see every token; down_proj's product is only
      // needed for the routed ones (upstream computes and discards the rest).
      WRING_ASSIGN_OR_RETURN(const torch::Tensor gate, run.Linear(path + ".gate_proj", tokens));
      WRING_ASSIGN_OR_RETURN(const torch::Tensor up, run.Linear(path + ".up_proj", tokens));
      WRING_ASSIGN_OR_RETURN(expert_out,
                             run.Linear(path + ".down_proj", Activate(config.hidden_act, gate) * up, token));
    } else {
      torch::Tensor& gathered = routing.expert_tokens[e];
      if (!gathered.defined()) gathered = tokens.index_select(0, token);
      WRING_ASSIGN_OR_RETURN(expert_out, RunGatedMlp(run, path, gathered));
    }
    torch::Tensor& weights = routing.expert_weights[e];
    if (!weights.defined()) weights = routing.top_weights.index({token, slot}).unsqueeze(-1);
    output.index_add_(0, token, (expert_out * weights).to(dtype));
  }
  // The first input the cache sees stays (a search over several stacked
  // inputs reuses the first one's routing, not thrashing between them).
  if (cache != nullptr && !cached && !cache->tokens.defined()) {
    cache->block = run.prefix();
    cache->tokens = tokens.clone();
    cache->router_weight = cacheable_router;
    cache->router_version = cacheable_router._version();
    cache->routing = std::move(routing);
  }
  if (shared.defined()) {
    WRING_ASSIGN_OR_RETURN(const torch::Tensor gate_logit, run.Linear("mlp.shared_expert_gate", tokens));
    const torch::Tensor gate = torch::sigmoid(gate_logit.to(torch::kFloat)).to(dtype);
    output = output + gate * shared;
  }
  return output.reshape(normed.sizes());
}

absl::StatusOr<torch::Tensor> RunFeedForward(const LayerRunner& run, const torch::Tensor& normed) {
  if (run.config().layers.at(run.layer()).feed_forward == FeedForward::kSparseMoe) return RunSparseMoe(run, normed);
  return RunGatedMlp(run, "mlp", normed);
}

}  // namespace internal
}  // namespace model
}  // namespace backend
}  // namespace wring
