// llm-compressor's sequential pipeline for QuantizationModifier recipes:
// calibrate one decoder layer at a time on cached inputs, then hand its
// outputs to the next layer, so memory holds one layer's weights plus the
// activations of the calibration samples.
//
// With only QuantizationModifier in the recipe, upstream's second
// ("propagating") pass per layer reproduces the calibration pass exactly:
// quantization is disabled for the whole pipeline and no weight changes, so
// the next layer's inputs are the unquantized outputs. wring therefore runs
// one calibration pass per layer. With AWQModifier (backend/awq) the layer
// pass also collects AWQ's statistics and parent inputs; at the layer's end
// AWQ smooths the weights, the quantizers observe the smoothed weights, and
// a propagation pass through the smoothed, unquantized layer gives the next
// layer's inputs, as upstream's second pass does. Held-out evaluation samples travel beside
// them in two streams, through the original and through the fake-quantized
// layer, which gives the quality report (per-layer error, perplexity of both
// models) without a second walk over the weights.
#ifndef WRING_BACKEND_PIPELINE_SEQUENTIAL_CALIBRATION_H_
#define WRING_BACKEND_PIPELINE_SEQUENTIAL_CALIBRATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/model/causal_lm.h"
#include "backend/pipeline/compression_plan.h"
#include "backend/pipeline/progress.h"
#include "backend/safetensors/writer.h"

namespace wring {
namespace backend {
namespace pipeline {

using TokenSequences = std::vector<std::vector<int64_t>>;

struct LinearQuality {
  std::string name;
  // ||W - Q(W)||^2 / ||W||^2 of the weight alone.
  double weight_relative_error = 0;
};

struct LayerQuality {
  int layer = 0;
  // ||f_q(x) - f(x)||^2 / ||f(x)||^2 on the evaluation samples, with x the
  // original model's input to this layer (this layer's own error).
  double output_relative_error = 0;
  // The same with x the compressed model's own input (error accumulated so
  // far).
  double accumulated_relative_error = 0;
  std::vector<LinearQuality> linears;
};

// One AWQ mapping's grid search (AWQModifier's error metrics).
struct AwqMappingQuality {
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
  // FLOPs (awq/search_flops.h) and its wall time.
  std::string loss = "forward";
  double search_flops = 0;
  double search_seconds = 0;
};

struct CalibrationResult {
  // The whole output checkpoint: compressed tensors for quantized modules,
  // everything else copied unchanged, kv-cache scales.
  std::vector<safetensors::TensorToWrite> tensors;
  std::vector<LayerQuality> layers;
  // In smoothing order; empty without AWQModifier.
  std::vector<AwqMappingQuality> awq;
  // exp(mean token NLL) on the evaluation samples; 0 when there were none.
  double original_perplexity = 0;
  double compressed_perplexity = 0;
  int64_t evaluation_tokens = 0;
};

absl::StatusOr<CalibrationResult> RunSequentialCalibration(model::CausalLm& model,
                                                           const CompressionPlan& plan,
                                                           const TokenSequences& calibration,
                                                           const TokenSequences& evaluation,
                                                           Progress& progress);

}  // namespace pipeline
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_PIPELINE_SEQUENTIAL_CALIBRATION_H_
