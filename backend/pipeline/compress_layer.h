// A frozen decoder layer turned into what the checkpoint stores and what
// the quality report runs: compressed tensors of every quantized module
// (compressed-tensors' names and formats), kv-cache scales, every other
// parameter as is, and the fake-quantized weights the compressed model
// computes with.
#ifndef WRING_BACKEND_PIPELINE_COMPRESS_LAYER_H_
#define WRING_BACKEND_PIPELINE_COMPRESS_LAYER_H_

#include <vector>

#include "absl/status/statusor.h"
#include "backend/model/causal_lm.h"
#include "backend/pipeline/calibration_result.h"
#include "backend/pipeline/initialize_quantization.h"
#include "backend/safetensors/writer.h"

namespace wring {
namespace backend {
namespace pipeline {

struct CompressedLayer {
  // The layer's parameters as the compressed model computes with them
  // (empty unless asked for: a second copy of the layer).
  model::Weights quantized_weights;
  // The layer's checkpoint tensors (on the CPU).
  std::vector<safetensors::TensorToWrite> tensors;
  // Each quantized Linear's weight error, in name order.
  std::vector<LinearQuality> linears;
};

// After EndCalibration(quantizers, weights). `with_quantized_weights`: also
// fill quantized_weights (the evaluation runs the compressed layer).
absl::StatusOr<CompressedLayer> CompressLayer(const LayerQuantizers& quantizers,
                                              const model::Weights& weights,
                                              bool with_quantized_weights);

}  // namespace pipeline
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_PIPELINE_COMPRESS_LAYER_H_
