// AWQModifier as a modifier of the sequential pipeline
// (pipeline/layer_modifier.h). The job creates it while preparing the run,
// from the mapping core's resolution (awq_plan.h), so a mapping wring
// cannot smooth is refused before any weight loads. In each decoder layer
// it collects AWQ's statistics during the calibration pass (the x mean of
// every mapping and the inputs of every parent, or for a Linear parent only
// their Gram matrix), and at the layer's sequential epoch end smooths each
// mapping in turn on the weights the previous one left (awq.h).
#ifndef WRING_BACKEND_AWQ_AWQ_MODIFIER_H_
#define WRING_BACKEND_AWQ_AWQ_MODIFIER_H_

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/awq/awq.h"
#include "backend/awq/awq_plan.h"
#include "backend/model/config.h"
#include "backend/pipeline/compression_plan.h"
#include "backend/pipeline/layer_modifier.h"

namespace wring {
namespace backend {
namespace awq {

// One mapping's grid search (AWQModifier's error metrics).
struct MappingQuality {
  std::string smooth_layer;
  std::string parent;
  // Set when upstream would skip the mapping (then nothing else is).
  std::string skipped;
  double best_ratio = 0;
  bool best_duo_scaling = false;
  // Parent-output MSE with quantized balance weights: no smoothing (the
  // first grid point) and the chosen scales.
  double initial_error = 0;
  double best_error = 0;
  // The chosen scales (CPU; float64 from a duo-scaling grid point, else
  // float32, as upstream's).
  torch::Tensor scales;
  // How candidates were scored ("gram" or "forward"), the search's matrix
  // FLOPs (search_flops.h) and its wall time.
  std::string loss = "forward";
  double search_flops = 0;
  double search_seconds = 0;
};

class AwqModifier final : public pipeline::LayerModifier {
 public:
  // The recipe's AWQModifier planned on `plan`; nullptr when the recipe has
  // none. `loss` says how Linear parents' candidates are scored.
  static absl::StatusOr<std::unique_ptr<AwqModifier>> Create(const pipeline::CompressionPlan& plan,
                                                             const model::ModelConfig& config,
                                                             const std::string& recipe_name,
                                                             LinearParentLoss loss);

  std::string name() const override { return "AWQModifier"; }
  absl::StatusOr<std::unique_ptr<pipeline::LayerCalibration>> StartLayer(
      const pipeline::LayerContext& context, const model::Weights& weights) override;
  pipeline::ModifierReport Report() const override;
  // Activation sums, Gram matrices and candidate losses are summed over the
  // workers (awq.h).
  bool CombinesAcrossWorkers() const override { return true; }

  // What upstream would log while choosing and resolving the mappings.
  const std::vector<std::string>& log() const { return plan_.log; }
  // Every mapping smoothed so far, in smoothing order.
  const std::vector<MappingQuality>& mappings() const { return mappings_; }

 private:
  explicit AwqModifier(AwqPlan plan) : plan_(std::move(plan)) {}

  AwqPlan plan_;
  std::vector<MappingQuality> mappings_;
};

}  // namespace awq
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_AWQ_AWQ_MODIFIER_H_
