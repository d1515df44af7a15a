#include "backend/awq/awq_plan.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "backend/model/submodules.h"
#include "backend/observe/args.h"
#include "mapping/awq/dynamic_mappings.h"
#include "mapping/awq/resolve.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace awq {
namespace {

mapping::AwqMapping FromRecipe(const recipe::AwqMapping& m) {
  mapping::AwqMapping out;
  out.smooth_layer = m.smooth_layer();
  out.balance_layers.assign(m.balance_layers().begin(), m.balance_layers().end());
  if (m.has_activation_hook_target()) out.activation_hook_target = m.activation_hook_target();
  return out;
}

// The decoder layer `name` lies in, or -1.
int LayerOf(const std::string& name, const model::ModelConfig& config) {
  for (int layer = 0; layer < config.num_hidden_layers; ++layer) {
    const std::string prefix = model::LayerPrefix(config, layer);
    if (absl::StartsWith(name, prefix)) return layer;
  }
  return -1;
}

}  // namespace

absl::StatusOr<absl::optional<AwqPlan>> PlanAwq(const pipeline::CompressionPlan& plan,
                                                const model::ModelConfig& config,
                                                const std::string& recipe_name) {
  if (plan.awq.empty()) return absl::optional<AwqPlan>();
  const std::string where = absl::StrCat(recipe_name, ": AWQModifier");
  if (plan.awq.size() > 1) {
    return absl::UnimplementedError(absl::StrCat(
        recipe_name, ": ", plan.awq.size(),
        " AWQModifiers; `wring compress` runs one (merge their mappings into one modifier)"));
  }
  const recipe::AwqModifier& modifier = plan.awq.front();
  AwqPlan out;
  WRING_ASSIGN_OR_RETURN(out.options, OptionsFromRecipe(modifier, where));

  const mapping::ModuleTree& tree = plan.model.tree;
  std::vector<mapping::AwqMapping> mappings;
  if (modifier.has_mappings()) {
    for (const auto& m : modifier.mappings().mappings()) mappings.push_back(FromRecipe(m));
  } else {
    WRING_ASSIGN_OR_RETURN(mapping::ChosenAwqMappings chosen,
                           mapping::ChooseAwqMappings(tree, plan.model.config, plan.model.architecture));
    mappings = std::move(chosen.mappings);
    for (std::string& line : chosen.log) out.log.push_back(std::move(line));
  }
  std::vector<bool> targeted(tree.size(), false);
  for (const mapping::ModuleSchemeAssignment& a : plan.assignments.modules) targeted[a.module] = true;
  WRING_ASSIGN_OR_RETURN(mapping::AwqResolution resolution,
                         mapping::ResolveAwqMappings(tree, mappings, targeted));
  if (resolution.error.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".mappings: ", *resolution.error));
  }
  for (std::string& line : resolution.log) out.log.push_back(std::move(line));

  for (const mapping::ResolvedAwqMapping& r : resolution.resolved) {
    PlannedMapping planned;
    planned.mapping.smooth = tree.module(r.smooth).name;
    planned.mapping.parent = tree.module(r.parent).name;
    const int layer = LayerOf(planned.mapping.smooth, config);
    auto unsupported = [&](absl::string_view why) {
      return absl::UnimplementedError(absl::StrCat(
          where, ": the mapping with smooth layer '", planned.mapping.smooth, "' ", why,
          "; `wring compress` smooths mappings inside one decoder layer whose parent is its "
          "self_attn, mlp or a Linear (give AWQModifier.mappings that do, or use llm-compressor)"));
    };
    if (layer < 0 || LayerOf(planned.mapping.parent, config) != layer) {
      return unsupported(absl::StrCat("has parent '", planned.mapping.parent,
                                      "' outside its decoder layer"));
    }
    for (int b : r.balance) {
      BalanceLayer balance;
      balance.name = tree.module(b).name;
      // A router (Qwen3-MoE's mappings balance it) is scaled like a Linear.
      if (LayerOf(balance.name, config) != layer ||
          !(tree.IsLinear(b) || model::IsScalableByInput(config, layer, balance.name))) {
        return unsupported(absl::StrCat("balances '", balance.name,
                                        "', not a Linear of the same decoder layer"));
      }
      if (const mapping::ModuleSchemeAssignment* a = plan.assignments.Find(b)) {
        balance.has_scheme = true;
        const mapping::QuantizationScheme& scheme = plan.assignments.scheme(*a);
        if (scheme.weights.has_value()) {
          WRING_ASSIGN_OR_RETURN(observe::ObservedArgs args,
                                 observe::FromMappingArgs(*scheme.weights, "weights"));
          balance.weight_args = args.quantize;
        }
      }
      planned.mapping.balance.push_back(std::move(balance));
    }
    const std::string hooked =
        r.hook.has_value() ? tree.module(*r.hook).name : planned.mapping.balance.front().name;
    std::optional<std::string> statistic =
        LayerOf(hooked, config) == layer ? model::HookedInputOf(config, layer, hooked) : std::nullopt;
    std::optional<std::string> parent_input = model::HookedInputOf(config, layer, planned.mapping.parent);
    if (!statistic.has_value()) {
      return unsupported(absl::StrCat("hooks '", hooked, "' for its activations"));
    }
    if (!parent_input.has_value()) {
      return unsupported(absl::StrCat("has parent '", planned.mapping.parent, "'"));
    }
    planned.statistic_input = *statistic;
    planned.parent_input = *parent_input;
    planned.mapping.parent_runs_on_tokens = model::RunsOnTokens(config, layer, planned.mapping.parent);
    out.layers[layer].push_back(std::move(planned));
  }
  return absl::optional<AwqPlan>(std::move(out));
}

}  // namespace awq
}  // namespace backend
}  // namespace wring
