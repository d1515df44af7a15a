#include "mapping/quantization/quantization_config.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace mapping {
namespace {

using wring::recipe::QuantizationMixin;

absl::Status ValueError(absl::string_view message) {
  return absl::InvalidArgumentError(message);
}

// The mixin's observer fields, resolved once: which observer each of
// weights / input / output is forced to, if any.
struct ObserverOverrides {
  absl::optional<std::string> weights;
  absl::optional<std::string> input;
  absl::optional<std::string> output;
  bool conflicting = false;  // individual fields and the dict both given
};

ObserverOverrides ReadObserverOverrides(const QuantizationMixin& mixin) {
  ObserverOverrides o;
  if (mixin.has_weight_observer()) o.weights = mixin.weight_observer();
  if (mixin.has_input_observer()) o.input = mixin.input_observer();
  if (mixin.has_output_observer()) o.output = mixin.output_observer();
  bool has_individual = o.weights || o.input || o.output;
  if (mixin.has_observer()) {
    o.conflicting = has_individual;
    const auto& dict = mixin.observer();
    if (auto it = dict.find("weights"); it != dict.end()) o.weights = it->second;
    if (auto it = dict.find("input"); it != dict.end()) o.input = it->second;
    if (auto it = dict.find("output"); it != dict.end()) o.output = it->second;
  }
  return o;
}

// One args of a scheme: the override when one is given (whatever the args
// are, dynamic included); otherwise an observer the recipe wrote stays, and
// unset ones get the default (none for fully dynamic args). Upstream
// assigns the field without validating again.
void ResolveObserver(const absl::optional<std::string>& override_name,
                     const char* default_name, absl::optional<QuantizationArgs>& args) {
  if (!args) return;
  if (override_name) {
    args->observer = override_name;
  } else if (!args->observer) {
    if (args->dynamic != DynamicMode::kDynamic) args->observer = default_name;
  }
}

// QuantizationMixin._apply_observer_overrides.
absl::Status ApplyObserverOverrides(const ObserverOverrides& overrides,
                                    QuantizationScheme& scheme) {
  if (overrides.conflicting) {
    return ValueError(
        "Cannot specify both individual observer parameters (weight_observer, input_observer, "
        "output_observer) and observer dict. Please use either individual parameters or the "
        "observer dict.");
  }
  ResolveObserver(overrides.weights, kDefaultWeightObserver, scheme.weights);
  ResolveObserver(overrides.input, kDefaultActivationObserver, scheme.input_activations);
  ResolveObserver(overrides.output, kDefaultActivationObserver, scheme.output_activations);
  return absl::OkStatus();
}

absl::Status SchemeNameError() {
  return ValueError(
      "`scheme` must either be a preset scheme name or a dictionary of preset scheme names");
}

bool RequiresCalibrationData(const ResolvedQuantizationConfig& config) {
  if (config.kv_cache_scheme) return true;
  for (const auto& group : config.config_groups) {
    const QuantizationScheme& scheme = group.scheme;
    if (scheme.weights && (scheme.weights->observer == std::string("imatrix_mse") ||
                           scheme.weights->observer == std::string("nvfp4_expanded_imatrix"))) {
      return true;
    }
    if (scheme.input_activations &&
        scheme.input_activations->dynamic != DynamicMode::kDynamic) {
      return true;
    }
    if (scheme.output_activations &&
        scheme.output_activations->dynamic == DynamicMode::kStatic) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::vector<std::string> ResolvedQuantizationConfig::ResolvedTargets() const {
  std::vector<std::string> targets;
  absl::flat_hash_set<std::string> seen;
  for (const auto& group : config_groups) {
    for (const std::string& target : group.scheme.targets) {
      if (seen.insert(target).second) targets.push_back(target);
    }
  }
  if (kv_cache_scheme && seen.insert(kKvCacheTarget).second) targets.push_back(kKvCacheTarget);
  return targets;
}

absl::StatusOr<ResolvedQuantizationConfig> ResolveQuantizationMixin(
    const QuantizationMixin& mixin, QuantizationModifierKind kind) {
  ResolvedQuantizationConfig config;
  std::vector<std::string>* warnings = &config.warnings;

  // Field validators, in declaration order.
  std::vector<NamedQuantizationScheme> written_groups;
  for (const auto& group : mixin.config_groups()) {
    WRING_ASSIGN_OR_RETURN(QuantizationScheme scheme,
                           ValidateQuantizationScheme(group.scheme(), warnings));
    written_groups.push_back({group.name(), std::move(scheme)});
  }
  std::vector<std::string> targets = {"Linear"};
  if (mixin.has_targets()) targets.assign(mixin.targets().begin(), mixin.targets().end());
  config.ignore.assign(mixin.ignore().begin(), mixin.ignore().end());

  // `scheme`: preset name -> targets, in the order written.
  std::vector<std::pair<std::string, std::vector<std::string>>> presets;
  bool has_scheme = false;
  switch (mixin.scheme_case()) {
    case QuantizationMixin::kPreset:
      has_scheme = true;
      if (!IsPresetScheme(mixin.preset())) return SchemeNameError();
      presets.push_back({mixin.preset(), targets});
      break;
    case QuantizationMixin::kPresetMap:
      has_scheme = true;
      for (const auto& entry : mixin.preset_map().entries()) {
        if (!IsPresetScheme(entry.preset())) return SchemeNameError();
        presets.push_back(
            {entry.preset(), std::vector<std::string>(entry.targets().begin(),
                                                      entry.targets().end())});
      }
      break;
    case QuantizationMixin::SCHEME_NOT_SET:
      break;
  }

  if (mixin.has_kv_cache_scheme()) {
    WRING_ASSIGN_OR_RETURN(config.kv_cache_scheme,
                           ValidateQuantizationArgs(mixin.kv_cache_scheme(), warnings));
  }

  if (mixin.has_observer()) {
    // Upstream reports the first invalid key in the order written; the
    // parsed recipe keeps the dict as a map, so keys are checked sorted.
    std::vector<std::string> keys;
    for (const auto& kv : mixin.observer()) keys.push_back(kv.first);
    std::sort(keys.begin(), keys.end());
    for (const std::string& key : keys) {
      if (key != "weights" && key != "input" && key != "output") {
        return ValueError(absl::StrCat("Invalid observer key '", key,
                                       "'. Valid keys are: {'weights', 'input', 'output'}"));
      }
    }
  }
  config.bypass_divisibility_checks =
      mixin.has_bypass_divisibility_checks() && mixin.bypass_divisibility_checks();

  // resolve_quantization_config.
  if (has_scheme && mixin.has_config_groups()) {
    return ValueError("Please specify either `scheme` or `config_groups`");
  }
  ObserverOverrides overrides = ReadObserverOverrides(mixin);
  if (has_scheme) {
    for (size_t i = 0; i < presets.size(); ++i) {
      WRING_ASSIGN_OR_RETURN(QuantizationScheme scheme,
                             PresetScheme(presets[i].first, presets[i].second));
      WRING_RETURN_IF_ERROR(ApplyObserverOverrides(overrides, scheme));
      config.config_groups.push_back({absl::StrCat("group_", i), std::move(scheme)});
    }
  }
  if (config.config_groups.empty() && written_groups.empty()) {
    QuantizationScheme scheme;
    scheme.targets = targets;
    WRING_RETURN_IF_ERROR(ApplyObserverOverrides(overrides, scheme));
    config.config_groups.push_back({"group_0", std::move(scheme)});
  } else if (!has_scheme) {
    for (auto& group : written_groups) {
      WRING_RETURN_IF_ERROR(ApplyObserverOverrides(overrides, group.scheme));
    }
    config.config_groups = std::move(written_groups);
  }

  if (config.kv_cache_scheme && !config.kv_cache_scheme->symmetric) {
    warnings->push_back("vLLM does not support asymmetric kv cache quantization");
  }

  bool default_targets = targets.size() == 1 && targets[0] == "Linear";
  config.has_config = !(!mixin.has_config_groups() && default_targets && config.ignore.empty() &&
                        !has_scheme && !config.kv_cache_scheme);
  config.requires_calibration_data =
      kind == QuantizationModifierKind::kGptqModifier || RequiresCalibrationData(config);

  if (kind == QuantizationModifierKind::kQuantizationModifier && !config.has_config) {
    return ValueError("QuantizationModifier requires that quantization fields be specified");
  }
  return config;
}

absl::StatusOr<ResolvedQuantizationConfig> ResolveGptqModifier(
    const wring::recipe::GptqModifier& gptq) {
  WRING_ASSIGN_OR_RETURN(
      ResolvedQuantizationConfig config,
      ResolveQuantizationMixin(gptq.quantization(), QuantizationModifierKind::kGptqModifier));

  // The modifier's actorder: absent means the "static" sentinel. Values are
  // compared as written (pydantic keeps the enum's plain string), so
  // "static" and "weight" differ here although they mean the same.
  bool sentinel = !gptq.has_actorder();
  absl::optional<std::string> modifier_actorder;
  if (!sentinel) {
    std::string value = absl::AsciiStrToLower(gptq.actorder());
    if (value != "none" && value != "null") {
      if (value != "group" && value != "weight" && value != "dynamic" && value != "static") {
        return ValueError(absl::StrCat(
            "GPTQModifier.actorder: '", gptq.actorder(),
            "' is not an activation ordering; use one of 'weight', 'static' or null"));
      }
      modifier_actorder = value;
    }
  }
  auto parse = [](const std::string& value) {
    for (auto a : {ActivationOrdering::kGroup, ActivationOrdering::kWeight,
                   ActivationOrdering::kDynamic, ActivationOrdering::kStatic}) {
      if (ActivationOrderingName(a) == value) return a;
    }
    return ActivationOrdering::kStatic;
  };

  for (auto& group : config.config_groups) {
    absl::optional<QuantizationArgs>& weights = group.scheme.weights;
    if (!weights) continue;
    QuantizationStrategy strategy = weights->strategy;
    if (strategy != QuantizationStrategy::kGroup && strategy != QuantizationStrategy::kTensorGroup &&
        strategy != QuantizationStrategy::kChannel && strategy != QuantizationStrategy::kTensor &&
        strategy != QuantizationStrategy::kBlock) {
      continue;
    }
    const absl::optional<ActivationOrdering> existing = weights->actorder;
    if (sentinel) {
      if (!existing) weights->actorder = ActivationOrdering::kStatic;
      continue;
    }
    const std::string existing_name =
        existing ? std::string(ActivationOrderingName(*existing)) : std::string();
    if (!existing || (modifier_actorder && *modifier_actorder == existing_name)) {
      weights->actorder =
          modifier_actorder ? absl::make_optional(parse(*modifier_actorder)) : absl::nullopt;
    } else {
      return ValueError(absl::StrCat(
          "Cannot resolve activation ordering when both `GPTQModifier.actorder` and "
          "`QuantizationScheme.actorder` are provided and differ (",
          modifier_actorder.value_or("None"), ", ", existing_name,
          "). Either unset `GPTQModifier.actorder` or remove `actorder` from config groups."));
    }
  }
  return config;
}

}  // namespace mapping
}  // namespace wring
