// How much matrix-product work one mapping's grid search does, so that a
// run's wall time can be compared with what the device's matmul rate allows
// (bench/compress_bench prints the ratio). Counts 2 FLOPs per multiply-add
// of the matrix products only; norms, RoPE, softmax, fake quantization and
// the loss's element-wise work are left out (they are O(elements), not
// O(elements x width)).
#ifndef WRING_BACKEND_AWQ_SEARCH_FLOPS_H_
#define WRING_BACKEND_AWQ_SEARCH_FLOPS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/awq/awq.h"
#include "backend/model/causal_lm.h"
#include "backend/model/config.h"

namespace wring {
namespace backend {
namespace awq {

// One forward of `parent` (a layer's self_attn, mlp, or a Linear whose
// weight is in `weights`) over samples of the given token counts. Attention
// scores count the full L x L products, as the eager path computes them.
absl::StatusOr<double> ParentForwardFlops(const model::ModelConfig& config,
                                          const std::string& parent, const model::Weights& weights,
                                          const std::vector<int64_t>& sample_tokens);

// The whole search of `mapping` with `grid_points` candidates:
//  forward loss: a reference forward plus one per candidate;
//  Gram loss (a Linear parent [out, in], N tokens): X^T X once, 2·N·in²,
//    plus GramLossFlops(out, in) per candidate (about out·in²).
absl::StatusOr<double> GridSearchFlops(const model::ModelConfig& config, const LayerMapping& mapping,
                                       const model::Weights& weights,
                                       const std::vector<int64_t>& sample_tokens, int grid_points,
                                       bool gram_loss);

}  // namespace awq
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_AWQ_SEARCH_FLOPS_H_
