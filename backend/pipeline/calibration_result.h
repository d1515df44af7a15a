// What the sequential pipeline hands back: the whole output checkpoint's
// tensors and the measurements of the quality report.
#ifndef WRING_BACKEND_PIPELINE_CALIBRATION_RESULT_H_
#define WRING_BACKEND_PIPELINE_CALIBRATION_RESULT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "backend/pipeline/layer_modifier.h"
#include "backend/safetensors/writer.h"

namespace wring {
namespace backend {
namespace pipeline {

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
  // Wall time of the layer, from loading its weights to its compressed
  // tensors and evaluation.
  double seconds = 0;
};

struct CalibrationResult {
  // The whole output checkpoint: compressed tensors for quantized modules,
  // everything else copied unchanged, kv-cache scales.
  std::vector<safetensors::TensorToWrite> tensors;
  std::vector<LayerQuality> layers;
  // One per modifier that reported something, in recipe order.
  std::vector<ModifierReport> modifiers;
  // exp(mean token NLL) on the evaluation samples; 0 when there were none.
  double original_perplexity = 0;
  double compressed_perplexity = 0;
  int64_t evaluation_tokens = 0;
};

}  // namespace pipeline
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_PIPELINE_CALIBRATION_RESULT_H_
