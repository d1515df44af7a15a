#include "backend/pipeline/initialize_quantization.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "backend/observe/args.h"
#include "backend/observe/observer.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace pipeline {

namespace {

absl::Status CheckObserved(const std::string& where, const mapping::QuantizationArgs& written,
                           absl::string_view field, observe::ObservedValue value) {
  absl::StatusOr<observe::ObservedArgs> args = observe::FromMappingArgs(written, field);
  absl::Status status = args.status();
  if (status.ok() && !args->dynamic) {
    status = observe::ParseObserverOptions(observe::ResolveObserverName(args->observer, value),
                                           args->observer_kwargs)
                 .status();
  }
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(where, ": ", field, ": ", status.message()));
}

}  // namespace

absl::Status CheckQuantizersRunnable(const CompressionPlan& plan) {
  for (const PlannedModule& module : plan.linears) {
    const std::string where = absl::StrCat(plan.recipe_name, ": ", module.name);
    if (module.scheme.weights.has_value()) {
      WRING_RETURN_IF_ERROR(
          CheckObserved(where, *module.scheme.weights, "weights", observe::ObservedValue::kWeight));
    }
    if (module.scheme.input_activations.has_value()) {
      WRING_RETURN_IF_ERROR(CheckObserved(where, *module.scheme.input_activations,
                                          "input_activations", observe::ObservedValue::kActivation));
    }
  }
  for (const auto& [name, args] : plan.kv_cache) {
    WRING_RETURN_IF_ERROR(CheckObserved(absl::StrCat(plan.recipe_name, ": ", name), args,
                                        "kv_cache_scheme", observe::ObservedValue::kAttention));
  }
  return absl::OkStatus();
}

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
