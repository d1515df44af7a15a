// The seam through which a modifier takes part in the sequential pipeline:
// AWQModifier today (backend/awq); GPTQModifier and SmoothQuantModifier plug
// in the same way.
//
// llm-compressor's modifiers react to the pipeline's events for each
// decoder layer: calibration hooks fire during the layer's calibration
// pass, then SEQUENTIAL_EPOCH_END runs every modifier in recipe order
// (AWQ smooths, GPTQ quantizes), then the layer is propagated to give the
// next layer its inputs. A LayerModifier is asked at the start of each
// layer for a LayerCalibration that receives exactly those events; the
// pipeline itself knows no modifier by name.
#ifndef WRING_BACKEND_PIPELINE_LAYER_MODIFIER_H_
#define WRING_BACKEND_PIPELINE_LAYER_MODIFIER_H_

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "backend/distributed/collectives.h"
#include "backend/model/causal_lm.h"
#include "backend/pipeline/initialize_quantization.h"
#include "mapping/base/json.h"

namespace wring {
namespace backend {
namespace pipeline {

// What a modifier may use of the layer being calibrated.
struct LayerContext {
  model::CausalLm& model;
  int layer = 0;
  // Tokens of each calibration sample, in pipeline order (each sample
  // passes every module of the layer once): every worker's samples, the
  // same on all ranks, so decisions made from them agree.
  const std::vector<int64_t>& calibration_tokens;
  // The data-parallel workers (SingleProcessCollectives in one process).
  // Each calibrated only its own slice of the samples: a modifier combines
  // what it collected before using it (AWQ: activation sums, Gram matrices,
  // per-candidate losses; GPTQ: Hessians), in the same calls on every rank.
  distributed::Collectives& collectives;
};

// One modifier's state for one decoder layer, from the start of its
// calibration pass to its sequential epoch end.
class LayerCalibration {
 public:
  virtual ~LayerCalibration() = default;

  // Whether EndLayer changes the layer's weights. The calibration pass's
  // outputs then do not feed the next layer: a propagation pass through
  // the changed weights (quantization disabled) does, as upstream's second
  // pass per layer does.
  virtual bool ChangesWeights() const = 0;

  // Calibration hook: a Linear's input during the calibration pass
  // (original weights, quantization disabled).
  virtual absl::Status ObserveLinearInput(const std::string& linear,
                                          const torch::Tensor& input) = 0;

  // The sequential epoch end, after the calibration pass, in recipe order
  // with the other modifiers. May replace tensors of `weights` (the next
  // modifier and EndCalibration see them) and freeze qparams of
  // `quantizers` itself (a modifier that quantizes, such as GPTQ).
  virtual absl::Status EndLayer(const LayerContext& context, model::Weights& weights,
                                LayerQuantizers& quantizers) = 0;
};

// A modifier's part of the quality report (wring_quality.json and the
// printed summary).
struct ModifierReport {
  std::string json_key;  // e.g. "awq"; empty: nothing to report
  mapping::Json json;
  std::string text;  // lines, each ending in '\n', indented by two spaces
};

class LayerModifier {
 public:
  virtual ~LayerModifier() = default;

  // As the recipe names it, e.g. "AWQModifier".
  virtual std::string name() const = 0;

  // The start of decoder layer context.layer's calibration, with its
  // loaded weights; nullptr when the modifier has nothing to do there.
  virtual absl::StatusOr<std::unique_ptr<LayerCalibration>> StartLayer(
      const LayerContext& context, const model::Weights& weights) = 0;

  // After the last layer.
  virtual ModifierReport Report() const = 0;

  // Whether the modifier combines what its LayerCalibration collected over
  // the data-parallel workers (LayerContext::collectives) before using it.
  // A distributed run refuses any modifier that does not: its result would
  // depend on each worker's share of the samples.
  virtual bool CombinesAcrossWorkers() const { return false; }
};

}  // namespace pipeline
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_PIPELINE_LAYER_MODIFIER_H_
