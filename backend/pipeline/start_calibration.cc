#include "backend/pipeline/start_calibration.h"

#include <utility>

namespace wring {
namespace backend {
namespace pipeline {

model::LayerHooks StartCalibration(LayerQuantizers& quantizers,
                                   const std::vector<LayerCalibration*>& modifiers) {
  model::LayerHooks hooks;
  LayerQuantizers* q = &quantizers;
  hooks.linear_input = [q, modifiers](const std::string& name, const torch::Tensor& input) {
    auto it = q->linears.find(name);
    if (it != q->linears.end()) q->Note(it->second->ObserveInput(input));
    for (LayerCalibration* modifier : modifiers) q->Note(modifier->ObserveLinearInput(name, input));
    return input;
  };
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
