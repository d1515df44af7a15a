#include "backend/pipeline/compression_plan.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "backend/compress/quantization_config.h"
#include "mapping/base/status_macros.h"
#include "mapping/quantization/format_inference.h"
#include "mapping/quantization/quantization_config.h"

namespace wring {
namespace backend {
namespace pipeline {
namespace {

using mapping::QuantizationArgs;
using mapping::QuantizationScheme;

std::string ModifierLabel(const recipe::Recipe& recipe, int index) {
  return absl::StrCat(recipe.source_name(), ": modifier #", index + 1, " (",
                      recipe.modifiers(index).type(), ")");
}

absl::Status Unsupported(const std::string& where, absl::string_view what) {
  return absl::UnimplementedError(absl::StrCat(where, ": ", what));
}

// The scheme features the backend computes; everything else is refused up
// front rather than silently written wrong.
absl::Status CheckSchemeSupported(const std::string& where, const std::string& group,
                                  const QuantizationScheme& scheme) {
  const std::string field = absl::StrCat(where, " config group '", group, "'");
  if (scheme.output_activations.has_value()) {
    return Unsupported(field,
                       "output_activations are not computed by `wring compress` yet; remove "
                       "them from the scheme (vLLM serves weight and input quantization)");
  }
  if (scheme.weights.has_value() && scheme.weights->actorder.has_value() &&
      mapping::IsGroupActorder(*scheme.weights->actorder)) {
    return Unsupported(field,
                       "weights.actorder 'group' needs GPTQ's column reordering (weight_g_idx); "
                       "use actorder: static or remove it");
  }
  return absl::OkStatus();
}

absl::Status CheckModifierSupported(const recipe::Recipe& recipe, int index) {
  const recipe::Modifier& modifier = recipe.modifiers(index);
  switch (modifier.kind_case()) {
    case recipe::Modifier::kQuantization:
      return absl::OkStatus();
    case recipe::Modifier::kAwq:
    case recipe::Modifier::kSpinquant:
      return absl::OkStatus();  // transforms: carried in the plan
    case recipe::Modifier::kGptq:
      return Unsupported(ModifierLabel(recipe, index),
                         "GPTQModifier is not implemented by `wring compress`; use "
                         "QuantizationModifier with the same scheme, or llm-compressor");
    default:
      return Unsupported(ModifierLabel(recipe, index),
                         absl::StrCat(modifier.type(),
                                      " is not implemented by `wring compress`; the supported "
                                      "modifier is QuantizationModifier"));
  }
}

}  // namespace

const PlannedModule* CompressionPlan::FindLinear(const std::string& name) const {
  auto it = linear_index_.find(name);
  return it == linear_index_.end() ? nullptr : &linears[it->second];
}

absl::StatusOr<CompressionPlan> PlanCompression(mapping::ModelInput model,
                                                const recipe::Recipe& recipe) {
  std::vector<mapping::ResolvedQuantizationConfig> configs;
  std::vector<recipe::AwqModifier> awq;
  std::vector<recipe::SpinQuantModifier> spinquant;
  for (int i = 0; i < recipe.modifiers_size(); ++i) {
    WRING_RETURN_IF_ERROR(CheckModifierSupported(recipe, i));
    if (recipe.modifiers(i).kind_case() == recipe::Modifier::kAwq) {
      awq.push_back(recipe.modifiers(i).awq());
      continue;
    }
    if (recipe.modifiers(i).kind_case() == recipe::Modifier::kSpinquant) {
      spinquant.push_back(recipe.modifiers(i).spinquant());
      continue;
    }
    auto config = mapping::ResolveQuantizationMixin(recipe.modifiers(i).quantization());
    if (!config.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(ModifierLabel(recipe, i), ": ", config.status().message()));
    }
    for (const auto& group : config->config_groups) {
      WRING_RETURN_IF_ERROR(CheckSchemeSupported(ModifierLabel(recipe, i), group.name, group.scheme));
    }
    configs.push_back(*std::move(config));
  }
  if (configs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        recipe.source_name(),
        ": the recipe has no QuantizationModifier, so there is nothing to compress; add one "
        "(e.g. `QuantizationModifier: {targets: [Linear], scheme: W4A16, ignore: [lm_head]}`)"));
  }

  CompressionPlan plan;
  plan.model = std::move(model);
  plan.awq = std::move(awq);
  plan.spinquant = std::move(spinquant);
  plan.recipe_name = recipe.source_name();
  WRING_ASSIGN_OR_RETURN(plan.assignments, mapping::AssignSchemes(plan.model.tree, configs));
  const mapping::ModuleTree& tree = plan.model.tree;
  for (const mapping::ModuleSchemeAssignment& a : plan.assignments.modules) {
    const mapping::Module& module = tree.module(a.module);
    const QuantizationScheme& scheme = plan.assignments.scheme(a);
    switch (a.attachment) {
      case mapping::SchemeAttachment::kKvCache:
        plan.kv_cache[module.name] = *scheme.input_activations;
        break;
      case mapping::SchemeAttachment::kAttention:
        return absl::UnimplementedError(absl::StrCat(
            recipe.source_name(), ": the scheme of config group '",
            plan.assignments.schemes[a.applied_scheme].group_name, "' matches attention module '",
            module.name,
            "' itself (attention activation quantization), which `wring compress` does not "
            "compute yet; target the Linear layers instead, or use kv_cache_scheme for the "
            "KV cache"));
      case mapping::SchemeAttachment::kLinear: {
        if (!tree.IsLinear(a.module)) {
          return absl::UnimplementedError(absl::StrCat(
              recipe.source_name(), ": module '", module.name, "' (", module.class_name,
              ") is targeted for quantization, but `wring compress` quantizes Linear layers "
              "only; add it to the modifier's ignore list"));
        }
        PlannedModule planned;
        planned.name = module.name;
        planned.scheme = scheme;
        planned.format = mapping::ResolveModuleFormat(
            mapping::IsCompressibleModuleType(module), scheme, absl::nullopt);
        plan.linear_index_[planned.name] = plan.linears.size();
        plan.linears.push_back(std::move(planned));
        break;
      }
    }
  }
  compress::QuantizationConfigOptions config_options;
  for (const recipe::SpinQuantModifier& spin : plan.spinquant) {
    for (const std::string& rotation : spin.rotations()) {
      config_options.hooked_attention = config_options.hooked_attention || absl::AsciiStrToUpper(rotation) == "R3";
    }
  }
  plan.quantization_config = compress::BuildQuantizationConfig(tree, plan.assignments, config_options);
  return plan;
}

bool RequiresCalibrationData(const CompressionPlan& plan) {
  if (!plan.kv_cache.empty()) return true;
  for (const PlannedModule& module : plan.linears) {
    const mapping::QuantizationScheme& scheme = module.scheme;
    if (scheme.weights.has_value() && scheme.weights->observer.has_value() &&
        (*scheme.weights->observer == "imatrix_mse" ||
         *scheme.weights->observer == "nvfp4_expanded_imatrix")) {
      return true;
    }
    if (scheme.input_activations.has_value() &&
        scheme.input_activations->dynamic != mapping::DynamicMode::kDynamic) {
      return true;
    }
    if (scheme.output_activations.has_value() && !scheme.output_activations->is_dynamic()) {
      return true;
    }
  }
  return false;
}

}  // namespace pipeline
}  // namespace backend
}  // namespace wring
