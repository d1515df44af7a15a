#include "backend/pipeline/start_calibration.h"

#include <utility>

namespace wring {
namespace backend {
namespace pipeline {

namespace {

model::LayerHooks Hooks(LayerQuantizers& quantizers, const std::vector<LayerCalibration*>& modifiers,
                        bool observe_quantizers) {
  model::LayerHooks hooks;
  LayerQuantizers* q = &quantizers;
  hooks.linear_input = [q, modifiers, observe_quantizers](const std::string& name,
                                                          const torch::Tensor& input) {
    if (observe_quantizers) {
      auto it = q->linears.find(name);
      if (it != q->linears.end()) q->Note(it->second->ObserveInput(input));
    }
    for (LayerCalibration* modifier : modifiers) q->Note(modifier->ObserveLinearInput(name, input));
    return input;
  };
  return hooks;
}

}  // namespace

model::LayerHooks StartModifierCalibration(LayerQuantizers& quantizers,
                                           const std::vector<LayerCalibration*>& modifiers) {
  return Hooks(quantizers, modifiers, /*observe_quantizers=*/false);
}

model::LayerHooks StartCalibration(LayerQuantizers& quantizers,
                                   const std::vector<LayerCalibration*>& modifiers) {
  model::LayerHooks hooks = Hooks(quantizers, modifiers, /*observe_quantizers=*/true);
  LayerQuantizers* q = &quantizers;
  hooks.key_value = [q](const std::string& name, const torch::Tensor& k, const torch::Tensor& v) {
    auto it = q->kv_caches.find(name);
    if (it != q->kv_caches.end()) q->Note(it->second->Observe(k, v));
    return std::make_pair(k, v);
  };
  return hooks;
}

}  // namespace pipeline
}  // namespace backend
}  // namespace wring
