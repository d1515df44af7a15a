// AWQ (activation-aware weight quantization) smoothing of one mapping, as
// llm-compressor 0.14's AWQModifier computes it at the end of each
// sequential layer (modifiers/transform/awq/base.py). The caller (the
// sequential pipeline) collects the statistics during the layer's
// calibration pass and then calls SmoothMapping for the layer's mappings in
// resolved order, each on the weights the previous one left.
//
// The algorithm, step by step (dtypes matter: upstream's choices depend on
// bf16 roundings, and the tests compare bit for bit):
//
//  Statistics (calibration pass, quantization disabled, original weights):
//   - x statistic: forward hook on balance_layers[0] (or the mapping's
//     activation_hook_target): input.abs().flatten(0, -2).float().sum(0)
//     added into a float32 running sum per batch; count = rows (tokens).
//   - parent inputs: the parent module's (LCA of the balance layers, lifted
//     past ModuleLists) input of every batch, replayed during the search.
//  Search, per mapping (hooks off, quantization off):
//   - reference = parent(input) for each batch with the current weights; a
//     mapping whose outputs are empty or non-finite is skipped (warning).
//   - x_mean = x_sum / count (float32).
//   - duo_scaling true or "both": w_mean over every balance layer that has
//     a weight scheme: |W| reshaped into the scheme's quantization chunks
//     (tensor: all; channel: a row; group: group_size; block: a block),
//     each chunk divided by (its max + 1e-6), all in the weight dtype; then
//     summed over rows in float64 and divided by the total row count.
//   - grid (ratio, duo): duo false: i / (n - 1) for i < n; true: (0, false)
//     then (i / (n - 2), true) for i < n - 1; "both": h = int(n / 2),
//     (i / (h - 1), false), (i / (h - 1), true) for i < h.
//   - scales: duo: (x_mean^r / (w_mean^(1 - r) + 1e-4)).clamp_min(1e-4)
//     (float64); else x_mean^r .clamp_min(1e-4) (float32); then divided by
//     sqrt(max * min); inf and nan entries become 1.
//   - each balance layer with a quantization scheme: W' = bf16(W * s);
//     qparams of W' from a memoryless_minmax observer with the layer's
//     weight args (whatever observer the recipe names); weight =
//     bf16(FakeQuantize(W') / s). Layers without a scheme keep W.
//   - loss = sum over batches of bf16 mse_loss(reference, output, "sum")
//     accumulated in float32, divided by the element count; strict `<`
//     keeps the first of equal losses. The first grid point's loss is the
//     "initial" error; no finite loss is an error. (A Linear parent that is
//     the only balance layer gets the same loss exactly, without rounding the
//     outputs, from the Gram matrix of its inputs: linear_gram.h.)
//  Apply the best scales s: every balance layer W = bf16(W_orig * s); the
//   smooth layer: a norm's weight /= s, a Linear's last len(s) output rows
//   /= s (and its bias), computed in s's dtype and rounded to the weight's.
//
// The pipeline then lets QuantizationModifier observe the smoothed weights,
// and propagates the layer's unquantized, smoothed output to the next layer.
#ifndef WRING_BACKEND_AWQ_AWQ_H_
#define WRING_BACKEND_AWQ_AWQ_H_

#include <torch/torch.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "backend/awq/linear_gram.h"
#include "backend/distributed/collectives.h"
#include "backend/model/causal_lm.h"
#include "backend/quantize/quantize.h"
#include "mapping/proto/recipe.pb.h"

namespace wring {
namespace backend {
namespace awq {

enum class DuoScaling { kFalse, kTrue, kBoth };

// How AWQ scores the grid candidates of a mapping whose parent is its only
// balance Linear (v_proj -> o_proj, up_proj -> down_proj).
enum class LinearParentLoss {
  kCheaper,  // the Gram form when it needs fewer FLOPs (search_flops.h)
  kGram,     // always the exact Gram form (linear_gram.h)
  kForward,  // upstream's forward per candidate, for bit-for-bit comparisons
};

struct AwqOptions {
  DuoScaling duo_scaling = DuoScaling::kTrue;
  int n_grid = 20;
  // Names the modifier in messages, e.g. "recipe.yaml: AWQModifier".
  std::string where = "AWQModifier";
  LinearParentLoss linear_parent_loss = LinearParentLoss::kCheaper;
};

// AWQModifier's duo_scaling / n_grid (upstream defaults: true, 20).
// offload_device only moves upstream's caches and is ignored.
absl::StatusOr<AwqOptions> OptionsFromRecipe(const recipe::AwqModifier& modifier,
                                             const std::string& where);

struct GridPoint {
  double ratio = 0;
  bool duo_scaling = false;
};

// _get_grid_search_params. Grids upstream cannot run (a division by zero,
// or no point at all) are errors naming n_grid.
absl::StatusOr<std::vector<GridPoint>> GridSearchParams(const AwqOptions& options);

// The per-channel mean of |x| AWQ smooths, accumulated like upstream's hook.
class ActivationStats {
 public:
  // `input` [..., channels], any floating dtype.
  absl::Status Add(const torch::Tensor& input);
  bool empty() const { return count_ == 0; }
  int64_t count() const { return count_; }
  // Data-parallel workers: every rank ends with the sums and counts over all
  // ranks' samples, as upstream all-reduces them (SUM) before its search.
  absl::Status SumOverRanks(distributed::Collectives& collectives, absl::string_view what);
  // x_sum / count, float32 on the CPU.
  absl::StatusOr<torch::Tensor> Mean() const;

 private:
  torch::Tensor sum_;  // float32, CPU
  int64_t count_ = 0;
};

struct BalanceLayer {
  std::string name;  // a Linear; its weight is weights[name + ".weight"]
  // Whether the module carries a quantization_scheme at all, and that
  // scheme's weight args (nullopt: a scheme without weights).
  bool has_scheme = false;
  std::optional<quantize::QuantizationArgs> weight_args;
};

struct LayerMapping {
  std::string smooth;  // an RMSNorm or a Linear of the layer
  std::vector<BalanceLayer> balance;
  std::string parent;  // what the loss compares: self_attn, mlp or a Linear
  // The parent computes each token from that token alone (an mlp, an
  // expert, a Linear): the search may stack several cached inputs into one
  // forward, which gives the same per-token outputs and losses with fewer,
  // larger matrix products (a routed expert sees a few tokens per sample).
  bool parent_runs_on_tokens = false;
};

// The weight a balance Linear takes for one grid candidate, or an undefined
// tensor for its weight in `weights` (model::LayerHooks::linear_weight).
using LinearWeightSource = std::function<absl::StatusOr<torch::Tensor>(const std::string& linear)>;

// Runs `parent` on one cached input with `weights`, its Linears taking
// their weights from `candidate` where that gives one (unset: none does).
using ParentForward = std::function<absl::StatusOr<torch::Tensor>(
    const std::string& parent, const model::Weights& weights, const torch::Tensor& input,
    const LinearWeightSource& candidate)>;

struct MappingResult {
  std::string smooth;
  std::string parent;
  // Set when upstream skips the mapping (no or non-finite parent outputs);
  // the weights are then unchanged.
  std::optional<std::string> skipped;
  GridPoint best;
  double initial_error = 0;  // loss of the first grid point (no smoothing)
  double best_error = 0;
  torch::Tensor scales;       // CPU, float32 or float64 as upstream's
  std::vector<double> losses;  // one per grid point
};

// Grid-searches `mapping`'s scales on `parent_inputs` and applies the best
// ones to `weights` (replacing the smooth and balance tensors). With
// data-parallel workers (`collectives`; null in one process) each rank holds
// its own samples' parent inputs: every candidate's partial loss and element
// count are summed over the ranks (upstream's all_reduce SUM), and so are
// the checks that skip a mapping, so all ranks choose the same scales.
// `stats` must already be summed over the ranks.
absl::StatusOr<MappingResult> SmoothMapping(const LayerMapping& mapping, const AwqOptions& options,
                                            const ActivationStats& stats,
                                            const std::vector<torch::Tensor>& parent_inputs,
                                            const ParentForward& parent_forward,
                                            model::Weights& weights,
                                            distributed::Collectives* collectives = nullptr);

// Whether `mapping`'s parent is a Linear that is also its only balance
// layer, so that SmoothLinearParentMapping can score it from a LinearGram.
bool HasLinearParentShortcut(const LayerMapping& mapping);

// SmoothMapping for such a mapping, with the loss from the Gram matrix of
// the parent's inputs instead of a forward per candidate. Data-parallel
// workers sum their Gram matrices (LinearGram::SumOverRanks) instead of
// every candidate's partial loss: one reduction of in x in floats per
// mapping instead of one per candidate, and the search needs no further
// communication.
absl::StatusOr<MappingResult> SmoothLinearParentMapping(const LayerMapping& mapping,
                                                        const AwqOptions& options,
                                                        const ActivationStats& stats,
                                                        const LinearGram& gram,
                                                        model::Weights& weights);

// Exposed for tests: the duo-scaling weight statistic of `mapping`'s
// balance layers (float64), and the scales of one grid point.
absl::StatusOr<torch::Tensor> BalanceWeightMean(const LayerMapping& mapping,
                                                const model::Weights& weights,
                                                const std::string& where);
torch::Tensor GridScales(const torch::Tensor& x_mean, const torch::Tensor& w_mean,
                         const GridPoint& point);

}  // namespace awq
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_AWQ_AWQ_H_
