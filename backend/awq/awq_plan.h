// Which AWQ mappings `wring compress` smooths in which decoder layer, and
// where each one's statistics come from. The mappings are chosen and
// resolved by the mapping core exactly as `wring check` does
// (ChooseAwqMappings / the recipe's own, then ResolveAwqMappings with the
// plan's quantization targets); this file only groups them by decoder layer
// in upstream's smoothing order and maps upstream's hooks onto the
// backend's per-Linear input hooks.
#ifndef WRING_BACKEND_AWQ_AWQ_PLAN_H_
#define WRING_BACKEND_AWQ_AWQ_PLAN_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "backend/awq/awq.h"
#include "backend/model/config.h"
#include "backend/pipeline/compression_plan.h"

namespace wring {
namespace backend {
namespace awq {

struct PlannedMapping {
  LayerMapping mapping;
  // The Linear whose input is the x statistic (balance_layers[0] or the
  // activation_hook_target) and the Linear whose input is the parent's
  // input (the parent itself, or its first projection).
  std::string statistic_input;
  std::string parent_input;
};

struct AwqPlan {
  AwqOptions options;
  // Decoder layer -> its mappings in the order upstream smooths them.
  std::map<int, std::vector<PlannedMapping>> layers;
  // What upstream would log (skipped mappings, inferred mappings).
  std::vector<std::string> log;
};

// nullopt when the plan has no AWQModifier. Unimplemented for what the
// backend cannot run: several AWQModifiers, mappings whose modules span
// decoder layers or lie outside them, parents other than a token mixer
// (self_attn, linear_attn), an MLP (dense, sparse, a shared expert or an
// expert) or a Linear.
absl::StatusOr<absl::optional<AwqPlan>> PlanAwq(const pipeline::CompressionPlan& plan,
                                                const model::ModelConfig& config,
                                                const std::string& recipe_name);

}  // namespace awq
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_AWQ_AWQ_PLAN_H_
