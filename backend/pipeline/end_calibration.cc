#include "backend/pipeline/end_calibration.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "backend/distributed/module_parallel.h"
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

absl::Status EndCalibration(LayerQuantizers& quantizers, const model::Weights& weights,
                            distributed::Collectives& collectives, int layer) {
  if (!collectives.is_distributed()) return EndCalibration(quantizers, weights);
  std::vector<LinearQuantizer*> linears;
  std::vector<const torch::Tensor*> linear_weights;
  std::vector<int64_t> sizes;
  for (auto& [name, quantizer] : quantizers.linears) {
    linears.push_back(quantizer.get());
    linear_weights.push_back(&weights.at(name + ".weight"));
    sizes.push_back(linear_weights.back()->numel());
  }
  const std::vector<int> owners = distributed::AssignOwners(collectives, sizes);
  const torch::Device device = linears.empty() ? torch::Device(torch::kCPU)
                                               : linear_weights.front()->device();
  // {scale, zero_point}, or nothing for a module without a weight scheme.
  WRING_ASSIGN_OR_RETURN(
      const std::vector<std::vector<torch::Tensor>> qparams,
      distributed::ComputeOnOwners(
          collectives, owners, device,
          [&](size_t i) -> absl::StatusOr<std::vector<torch::Tensor>> {
            WRING_ASSIGN_OR_RETURN(std::optional<quantize::QParams> q,
                                   linears[i]->ComputeWeightQParams(*linear_weights[i]));
            if (!q.has_value()) return std::vector<torch::Tensor>();
            return std::vector<torch::Tensor>{q->scale, q->zero_point};
          },
          absl::StrCat("layer ", layer, " weight qparams")));
  for (size_t i = 0; i < linears.size(); ++i) {
    std::optional<quantize::QParams> q;
    if (!qparams[i].empty()) q = quantize::QParams{qparams[i][0], qparams[i][1]};
    WRING_RETURN_IF_ERROR(linears[i]->FreezeWith(*linear_weights[i], std::move(q)));
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
