// What `wring compress` will do to each module, decided before any weight is
// loaded: the recipe's quantization schemes attached to the model's module
// tree exactly as llm-compressor's QuantizationMixin.initialize_quantization
// would attach them (the mapping core's AssignSchemes), each quantized
// module's compression format, and the config.json `quantization_config`
// the written checkpoint will carry.
//
// The plan also decides what the backend cannot run yet. A recipe that
// `wring check` accepts may still use a modifier or scheme feature the
// backend does not implement; that is refused here, naming the modifier or
// field, so no GPU time is spent on a run that would stop half way.
#ifndef WRING_BACKEND_PIPELINE_COMPRESSION_PLAN_H_
#define WRING_BACKEND_PIPELINE_COMPRESSION_PLAN_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "mapping/base/json.h"
#include "mapping/model/model_input.h"
#include "mapping/proto/recipe.pb.h"
#include "mapping/quantization/apply.h"
#include "mapping/quantization/compression_format.h"
#include "mapping/quantization/quantization_scheme.h"

namespace wring {
namespace backend {
namespace pipeline {

struct PlannedModule {
  std::string name;
  mapping::QuantizationScheme scheme;
  mapping::CompressionFormat format = mapping::CompressionFormat::kDense;
};

struct CompressionPlan {
  mapping::ModelInput model;
  mapping::SchemeAssignments assignments;
  // Linear modules with a weight or input-activation scheme, in
  // named_modules() order.
  std::vector<PlannedModule> linears;
  // Attention modules carrying the kv_cache_scheme -> its args.
  std::map<std::string, mapping::QuantizationArgs> kv_cache;
  // Transform modifiers, in recipe order (llm-compressor applies them before
  // the quantization modifiers' calibration; `wring check` verified the
  // order and resolution).
  std::vector<recipe::AwqModifier> awq;
  std::vector<recipe::SpinQuantModifier> spinquant;
  // The recipe's file name, for messages about the modifiers above.
  std::string recipe_name;
  // nullopt when nothing is quantized.
  absl::optional<mapping::Json> quantization_config;

  // The planned Linear named `name`, or nullptr when it stays dense.
  const PlannedModule* FindLinear(const std::string& name) const;

 private:
  friend absl::StatusOr<CompressionPlan> PlanCompression(mapping::ModelInput model,
                                                         const recipe::Recipe& recipe);
  std::map<std::string, size_t> linear_index_;
};

// Resolves `recipe`'s QuantizationModifier(s) on `model` (whose tree comes
// from config.json, so class names are the real ones) and collects its AWQ
// and SpinQuant modifiers. Modifiers the backend does not run (GPTQ,
// SmoothQuant, ...) and scheme
// features it does not compute (output activations, attention-module
// activation schemes, activation ordering) fail with Unimplemented naming
// what to change. The recipe must already have passed `wring check`.
absl::StatusOr<CompressionPlan> PlanCompression(mapping::ModelInput model,
                                                const recipe::Recipe& recipe);

// Whether the plan's quantization needs a calibration pass, decided as
// llm-compressor decides between its sequential and data-free pipelines
// (QuantizationMixin._set_requires_calibration_data): a kv-cache scheme,
// static (or locally dynamic) input activations, static output activations or
// an activation-weighted weight observer need data; weight-only and dynamic
// activation schemes do not. Modifiers that always calibrate (AWQ, GPTQ,
// SmoothQuant) are counted by the pipeline, not here.
bool RequiresCalibrationData(const CompressionPlan& plan);

}  // namespace pipeline
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_PIPELINE_COMPRESSION_PLAN_H_
