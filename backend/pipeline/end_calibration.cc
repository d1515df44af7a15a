#include "backend/pipeline/end_calibration.h"

#include <string>
#include <utility>

#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace pipeline {

absl::Status EndCalibration(LayerQuantizers& quantizers, const model::Weights& weights) {
  for (auto& [name, quantizer] : quantizers.linears) {
    WRING_RETURN_IF_ERROR(quantizer->Freeze(weights.at(name + ".weight")));
  }
  for (auto& [name, quantizer] : quantizers.kv_caches) {
    WRING_RETURN_IF_ERROR(quantizer->Freeze());
  }
  return absl::OkStatus();
}

model::LayerHooks QuantizedHooks(LayerQuantizers& quantizers) {
  model::LayerHooks hooks;
  LayerQuantizers* q = &quantizers;
  hooks.linear_input = [q](const std::string& name, const torch::Tensor& input) {
    auto it = q->linears.find(name);
    if (it == q->linears.end()) return input;
    auto quantized = it->second->FakeQuantizeInput(input);
    q->Note(quantized.status());
    return quantized.ok() ? *quantized : input;
  };
  hooks.key_value = [q](const std::string& name, const torch::Tensor& k, const torch::Tensor& v) {
    auto it = q->kv_caches.find(name);
    if (it == q->kv_caches.end()) return std::make_pair(k, v);
    auto quantized = it->second->FakeQuantize(k, v);
    q->Note(quantized.status());
    return quantized.ok() ? *quantized : std::make_pair(k, v);
  };
  return hooks;
}

}  // namespace pipeline
}  // namespace backend
}  // namespace wring
