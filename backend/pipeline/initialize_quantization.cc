#include "backend/pipeline/initialize_quantization.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace pipeline {

absl::StatusOr<LayerQuantizers> InitializeQuantization(const CompressionPlan& plan,
                                                       const model::ModelConfig& config, int layer,
                                                       const model::Weights& weights) {
  LayerQuantizers q;
  const std::string prefix = model::LayerPrefix(config, layer);
  for (const PlannedModule& module : plan.linears) {
    if (!absl::StartsWith(module.name, prefix)) continue;
    auto weight = weights.find(module.name + ".weight");
    if (weight == weights.end()) {
      return absl::NotFoundError(absl::StrCat("the checkpoint has no weight for planned module '",
                                              module.name, "'"));
    }
    WRING_ASSIGN_OR_RETURN(q.linears[module.name], LinearQuantizer::Create(module, weight->second));
  }
  for (const auto& [name, args] : plan.kv_cache) {
    if (!absl::StartsWith(name, prefix)) continue;
    WRING_ASSIGN_OR_RETURN(q.kv_caches[name],
                           KvCacheQuantizer::Create(name, args, config.dtype,
                                                    config.num_key_value_heads, config.head_dim));
  }
  return q;
}

}  // namespace pipeline
}  // namespace backend
}  // namespace wring
