#include "backend/pipeline/compress_layer.h"

#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "backend/pipeline/quality_metrics.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace pipeline {

absl::StatusOr<CompressedLayer> CompressLayer(const LayerQuantizers& quantizers,
                                              const model::Weights& weights,
                                              bool with_quantized_weights) {
  CompressedLayer out;
  if (with_quantized_weights) out.quantized_weights = weights;
  for (const auto& [name, quantizer] : quantizers.linears) {
    const std::string weight_name = name + ".weight";
    WRING_ASSIGN_OR_RETURN(torch::Tensor fake, quantizer->FakeQuantizedWeight());
    RelativeError weight_error;
    weight_error.Add(fake, weights.at(weight_name));
    out.linears.push_back({name, weight_error.Value()});
    if (with_quantized_weights) out.quantized_weights[weight_name] = fake;
    WRING_ASSIGN_OR_RETURN(std::vector<safetensors::TensorToWrite> tensors,
                           quantizer->CompressedTensors());
    for (auto& t : tensors) out.tensors.push_back(std::move(t));
  }
  for (const auto& [name, quantizer] : quantizers.kv_caches) {
    WRING_ASSIGN_OR_RETURN(std::vector<safetensors::TensorToWrite> tensors, quantizer->Tensors());
    for (auto& t : tensors) out.tensors.push_back(std::move(t));
  }
  // Every parameter not replaced by compressed tensors is written as is.
  for (const auto& [name, tensor] : weights) {
    const std::string module = name.substr(0, name.rfind('.'));
    if (absl::EndsWith(name, ".weight") && quantizers.linears.count(module) > 0) continue;
    out.tensors.push_back({name, tensor.to(torch::kCPU)});
  }
  return out;
}

}  // namespace pipeline
}  // namespace backend
}  // namespace wring
