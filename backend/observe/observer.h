// llm-compressor's observers (src/llmcompressor/observers/, v0.14): they watch
// a weight, an activation or an attention state once per call and turn what
// they saw into a scale and zero point through compressed-tensors'
// calculate_qparams.
//
// Each call flattens the value (flatten.h) and reduces over (observations,
// elements) to per-qparam (min_vals, max_vals), then updates the statistics:
//   memoryless_minmax  keep the latest min/max
//   static_minmax      running elementwise min of mins and max of maxes
//   minmax             first call as is, then lerp(old, new, c) with
//                      c = observer_kwargs.averaging_constant (0.01);
//                      lerp(a, b, c) = a * (1 - c) + b * c in the value dtype
//   memoryless_mse     shrink grid search on each call (below)
//   mse                the grid search result averaged like minmax
// The grid search (mse_quant.py, eager CPU path): with lo/hi = amin/amax *
// expand, for i in 0 .. int(maxshrink * grid) - 1, p = 1 - i / grid, the
// candidate (lo * p, hi * p) gets qparams from calculate_qparams with the
// observer's args, the value is fake-quantized with them (token-style
// broadcast), and the error is sum |fq(x) - x|^norm over (observations,
// elements), in the value's dtype. A slot keeps a candidate only on a strict
// improvement; after `patience` consecutive steps with no slot improving the
// search stops. Defaults: maxshrink 0.2, patience 5, grid 100, norm 2.4,
// expand 1.0 (must be >= 1). Upstream's CUDA path is a Triton kernel with a
// buffered per-group patience (triton_error_buffer) and can choose
// differently; this is the CPU algorithm.
//
// Weight observers observe once: later calls are ignored while statistics
// exist. GetQParams consumes the statistics (upstream deletes them), so the
// next call starts afresh.
#ifndef WRING_BACKEND_OBSERVE_OBSERVER_H_
#define WRING_BACKEND_OBSERVE_OBSERVER_H_

#include <torch/torch.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "backend/observe/flatten.h"
#include "backend/quantize/quantize.h"

namespace wring {
namespace backend {
namespace observe {

enum class ObserverKind { kMemorylessMinMax, kStaticMinMax, kMinMax, kMemorylessMse, kMse };

struct ObserverOptions {
  ObserverKind kind = ObserverKind::kMemorylessMinMax;
  double averaging_constant = 0.01;  // minmax, mse
  double maxshrink = 0.2;            // mse searches
  int64_t patience = 5;
  double grid = 100.0;
  double norm = 2.4;
  double expand = 1.0;
};

// llm-compressor's initialize_observer: the observer a value gets. Args
// without an observer get memoryless_minmax for weights and minmax for
// activations and attention states (compressed-tensors >= 0.19 leaves the
// field unset); weight observers are rewritten to their memoryless forms
// (static_minmax / minmax -> memoryless_minmax, mse -> memoryless_mse).
std::string ResolveObserverName(const std::optional<std::string>& observer, ObservedValue value);

// Registry name (after ResolveObserverName) and observer_kwargs (YAML scalar
// text) -> options. Unknown names (imatrix_mse, nvfp4_expanded_mse, ...) and
// kwargs that do not parse are errors naming them.
absl::StatusOr<ObserverOptions> ParseObserverOptions(absl::string_view name,
                                                     const std::map<std::string, std::string>& kwargs);

class Observer {
 public:
  static absl::StatusOr<std::unique_ptr<Observer>> Create(ObservedValue value,
                                                          const quantize::QuantizationArgs& args,
                                                          const ObserverOptions& options);

  // One observation (forward). Empty tensors are ignored, as upstream.
  absl::Status Observe(const torch::Tensor& value);

  bool has_statistics() const { return min_vals_.defined(); }

  // How data-parallel workers combine this observer's statistics at each
  // layer boundary (llm-compressor's _act_sync_dict): static_minmax takes
  // the MIN of the mins and the MAX of the maxes, the running averages
  // (minmax, mse) AVG both; the memoryless observers are combined by
  // nothing upstream (each worker keeps its own last observation).
  enum class Sync { kNone, kMinMax, kAverage };
  Sync sync() const;
  // The statistics, {min_vals, max_vals}, sharing storage with the
  // observer: the workers reduce them in place. Empty without statistics.
  std::vector<torch::Tensor> statistics() const;
  // Shaped like the qparams; undefined before the first observation.
  const torch::Tensor& min_vals() const { return min_vals_; }
  const torch::Tensor& max_vals() const { return max_vals_; }

  // calculate_qparams(min_vals, max_vals) in the observed dtype; clears the
  // statistics. FailedPrecondition without statistics.
  absl::StatusOr<quantize::QParams> GetQParams();

  const quantize::QuantizationArgs& args() const { return args_; }
  const ObserverOptions& options() const { return options_; }

 private:
  Observer(ObservedValue value, const quantize::QuantizationArgs& args, const ObserverOptions& options)
      : value_(value), args_(args), options_(options) {}

  ObservedValue value_;
  quantize::QuantizationArgs args_;
  ObserverOptions options_;
  torch::Tensor min_vals_;
  torch::Tensor max_vals_;
};

// The memoryless weight observer named by `observer` (resolved for weights)
// applied once to `weight`: what llm-compressor's QuantizationModifier stores
// as weight_scale / weight_zero_point for round-to-nearest quantization.
absl::StatusOr<quantize::QParams> ComputeWeightQParams(const torch::Tensor& weight,
                                                       const quantize::QuantizationArgs& args,
                                                       const std::optional<std::string>& observer,
                                                       const std::map<std::string, std::string>& observer_kwargs);

}  // namespace observe
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_OBSERVE_OBSERVER_H_
