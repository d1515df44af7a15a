// SmoothQuantModifier as a modifier of the sequential pipeline
// (pipeline/layer_modifier.h), mapping-driven like AWQ: the mapping core
// resolves the recipe's (or the inferred) mappings (mapping/smoothquant);
// per decoder layer the per-channel range of each smooth layer's output is
// taken over the calibration pass, and at the layer's sequential epoch end,
// in recipe order with the other modifiers, the scales are computed and
// fused into the smooth and balance weights (smoothquant.h).
//
// wring's forward computes a decoder layer's norms and Linears itself, so
// it smooths the two norms whose outputs feed Linears directly:
// input_layernorm (into self_attn q/k/v_proj) and post_attention_layernorm
// (into mlp gate/up_proj), which every registry mapping of the supported
// families uses. Their output is exactly those Linears' input, which is
// where it is observed. Other smooth layers are refused by name before any
// weight loads.
#ifndef WRING_BACKEND_SMOOTHQUANT_SMOOTHQUANT_MODIFIER_H_
#define WRING_BACKEND_SMOOTHQUANT_SMOOTHQUANT_MODIFIER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/pipeline/compression_plan.h"
#include "backend/pipeline/layer_modifier.h"
#include "backend/smoothquant/smoothquant.h"
#include "mapping/proto/recipe.pb.h"

namespace wring {
namespace backend {
namespace smoothquant {

struct SmoothedMapping {
  std::string smooth;
  std::vector<std::string> balance;
  int layer = 0;
  // The activation range's largest channel and the scales' extremes.
  double max_activation_range = 0;
  double min_scale = 0;
  double max_scale = 0;
  torch::Tensor scales;  // float32 (CPU)
};

class SmoothQuantModifier final : public pipeline::LayerModifier {
 public:
  // `modifier` is one of plan.smoothquant.
  static absl::StatusOr<std::unique_ptr<SmoothQuantModifier>> Create(
      const pipeline::CompressionPlan& plan, const recipe::SmoothQuantModifier& modifier,
      const std::string& recipe_name);

  std::string name() const override { return "SmoothQuantModifier"; }
  absl::StatusOr<std::unique_ptr<pipeline::LayerCalibration>> StartLayer(
      const pipeline::LayerContext& context, const model::Weights& weights) override;
  pipeline::ModifierReport Report() const override;
  // Activation ranges are combined (MIN / MAX) over the workers: exact.
  bool CombinesAcrossWorkers() const override { return true; }

  // What upstream would log while choosing and resolving the mappings.
  const std::vector<std::string>& log() const { return log_; }
  // Every mapping smoothed so far, in smoothing order.
  const std::vector<SmoothedMapping>& smoothed() const { return smoothed_; }

 private:
  friend class SmoothQuantLayer;
  struct Mapping {
    std::string smooth;
    std::vector<std::string> balance;
    int layer = 0;
  };
  SmoothQuantModifier(std::vector<Mapping> mappings, double strength, Algorithm algorithm,
                      std::vector<std::string> log)
      : mappings_(std::move(mappings)), strength_(strength), algorithm_(algorithm),
        log_(std::move(log)) {}

  std::vector<Mapping> mappings_;
  double strength_;
  Algorithm algorithm_;
  std::vector<std::string> log_;
  std::vector<SmoothedMapping> smoothed_;
};

}  // namespace smoothquant
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_SMOOTHQUANT_SMOOTHQUANT_MODIFIER_H_
