// What the rest of the backend asks about the parts of a decoder layer that
// CausalLm::SubmoduleForward runs on their own (AWQ's parents): which hooked
// module sees the same input, and what a forward costs. Answered from the
// config's blocks, so callers need no per-family knowledge.
#ifndef WRING_BACKEND_MODEL_SUBMODULES_H_
#define WRING_BACKEND_MODEL_SUBMODULES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/model/config.h"

namespace wring {
namespace backend {
namespace model {

// The module whose LayerHooks::linear_input call receives exactly
// `module`'s input: the module itself for a Linear or router; for
// self_attn q_proj (qkv_proj); for linear_attn its first input projection;
// for a sparse mlp its router (every token); for a dense mlp, shared expert
// or expert its gate_proj (gate_up_proj). nullopt for anything else.
std::optional<std::string> HookedInputOf(const ModelConfig& config, int layer, const std::string& module);

// Whether SubmoduleForward of `module` computes each token's output from
// that token's input alone (a Linear or router, the mlp, a shared expert or
// expert), so that samples may be stacked into one call; false for the
// token mixers (self_attn, linear_attn) and anything it does not run.
bool RunsOnTokens(const ModelConfig& config, int layer, const std::string& module);

// Whether `module` is a balance layer AWQ can scale: a Linear or a router.
bool IsScalableByInput(const ModelConfig& config, int layer, const std::string& module);

// Matrix FLOPs of one SubmoduleForward of `module` over samples of these
// token counts (2 per multiply-add; a sparse block counts each token's
// top_k experts and its router; Gated DeltaNet its projections and the
// chunked delta rule). InvalidArgument for a module SubmoduleForward does
// not run.
absl::StatusOr<double> SubmoduleForwardFlops(const ModelConfig& config, int layer, const std::string& module,
                                             const std::vector<int64_t>& sample_tokens);

}  // namespace model
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_MODEL_SUBMODULES_H_
