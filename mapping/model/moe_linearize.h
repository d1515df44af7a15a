// Expands fused mixture-of-experts modules into per-expert Linear layers, the
// structure llm-compressor's oneshot gives a model before AWQ runs
// (`linearize_moe` in src/llmcompressor/modeling/moe/linearize.py).
//
// transformers 5 builds experts fused: one module holds 3-D parameters
//   gate_up_proj [E, 2I, H] and down_proj [E, H, I]   (gated, the usual form),
//   gate_up_proj [E, H, 2I] and down_proj [E, I, H]   (transposed: GPT-OSS,
//                                                      Llama 4),
//   up_proj [E, I, H] and down_proj [E, H, I]         (no gate),
// optionally with biases gate_up_proj_bias [E, 2I] / up_proj_bias [E, I] and
// down_proj_bias [E, H]. llm-compressor replaces such a module by a
// `LinearExperts2D` (a ModuleList) whose children 0..E-1 each hold
// up_proj (H -> I), gate_proj (H -> I) and down_proj (I -> H) Linear layers,
// in that registration order (no gate_proj in the ungated form), followed by
// its `act_fn`. The fused module keeps its name and place; its old children
// and 3-D parameters are replaced by the experts' 2-D ones (weight, then
// bias, per Linear).
#ifndef WRING_MAPPING_MODEL_MOE_LINEARIZE_H_
#define WRING_MAPPING_MODEL_MOE_LINEARIZE_H_

#include "absl/status/statusor.h"
#include "mapping/model/model_input.h"

namespace wring {
namespace mapping {

// Linearizes every fused-experts module of `model` in place and returns how
// many were expanded (also added to model.linearized_experts, with a note).
// Modules whose parameter shapes are unknown are left fused (with a note);
// inconsistent shapes are an error naming the module.
absl::StatusOr<int> LinearizeFusedExperts(ModelInput& model);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_MODEL_MOE_LINEARIZE_H_
