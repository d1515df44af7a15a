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

absl::Status OverrideObserver(const absl::optional<std::string>& observer,
                              absl::optional<QuantizationArgs>& args,
                              std::vector<std::string>* warnings) {
  if (!observer || !args) return absl::OkStatus();
  // Upstream round-trips through model_dump()/model_validate(), so every
  // validator (and its defaults) runs again.
  wring::recipe::QuantizationArgs written = ToWrittenArgs(*args);
  written.set_observer(*observer);
  WRING_ASSIGN_OR_RETURN(args, ValidateQuantizationArgs(written, warnings));
  return absl::OkStatus();
}

// QuantizationMixin._apply_observer_overrides.
absl::Status ApplyObserverOverrides(const ObserverOverrides& overrides,
                                    QuantizationScheme& scheme,
                                    std::vector<std::string>* warnings) {
  if (overrides.conflicting) {
    return ValueError(
        "Cannot specify both individual observer parameters (weight_observer, input_observer, "
        "output_observer) and observer dict. Please use either individual parameters or the "
        "observer dict.");
  }
  WRING_RETURN_IF_ERROR(OverrideObserver(overrides.weights, scheme.weights, warnings));
  WRING_RETURN_IF_ERROR(OverrideObserver(overrides.input, scheme.input_activations, warnings));
  WRING_RETURN_IF_ERROR(OverrideObserver(overrides.output, scheme.output_activations, warnings));
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
    if (scheme.weights && scheme.weights->observer == std::string("imatrix_mse")) return true;
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
      WRING_RETURN_IF_ERROR(ApplyObserverOverrides(overrides, scheme, warnings));
      config.config_groups.push_back({absl::StrCat("group_", i), std::move(scheme)});
    }
  }
  if (config.config_groups.empty() && written_groups.empty()) {
    QuantizationScheme scheme;
    scheme.targets = targets;
    WRING_RETURN_IF_ERROR(ApplyObserverOverrides(overrides, scheme, warnings));
    config.config_groups.push_back({"group_0", std::move(scheme)});
  } else if (!has_scheme) {
    for (auto& group : written_groups) {
      WRING_RETURN_IF_ERROR(ApplyObserverOverrides(overrides, group.scheme, warnings));
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

  // The modifier's actorder: absent means the "static" sentinel.
  bool sentinel = !gptq.has_actorder();
  absl::optional<ActivationOrdering> modifier_actorder;
  if (!sentinel) {
    std::string value = absl::AsciiStrToLower(gptq.actorder());
    if (value != "none" && value != "null") {
      bool found = false;
      for (auto a : {ActivationOrdering::kGroup, ActivationOrdering::kWeight,
                     ActivationOrdering::kDynamic, ActivationOrdering::kStatic}) {
        if (ActivationOrderingName(a) == value) {
          modifier_actorder = a;
          found = true;
        }
      }
      if (!found) {
        return ValueError(absl::StrCat(
            "GPTQModifier.actorder: '", gptq.actorder(),
            "' is not an activation ordering; use one of 'static', 'weight', 'group', "
            "'dynamic' or null"));
      }
    }
  }
  auto same = [](const absl::optional<ActivationOrdering>& a,
                 const absl::optional<ActivationOrdering>& b) {
    if (!a || !b) return !a && !b;
    return IsGroupActorder(*a) == IsGroupActorder(*b);
  };
  // llm-compressor 0.14 formats both values as their strings: "(group, weight)".
  auto enum_repr = [](const absl::optional<ActivationOrdering>& a) {
    return a ? std::string(ActivationOrderingName(*a)) : std::string("None");
  };

  for (auto& group : config.config_groups) {
    absl::optional<QuantizationArgs>& weights = group.scheme.weights;
    if (!weights) continue;
    QuantizationStrategy strategy = weights->strategy;
    bool grouped = strategy == QuantizationStrategy::kGroup ||
                   strategy == QuantizationStrategy::kTensorGroup;
    if (!grouped && strategy != QuantizationStrategy::kChannel &&
        strategy != QuantizationStrategy::kTensor && strategy != QuantizationStrategy::kBlock) {
      continue;
    }
    const absl::optional<ActivationOrdering> existing = weights->actorder;
    if (sentinel) {
      if (!existing) weights->actorder = ActivationOrdering::kStatic;
    } else if (!existing || same(modifier_actorder, existing)) {
      weights->actorder = modifier_actorder;
    } else {
      return ValueError(absl::StrCat(
          "Cannot resolve activation ordering when both `GPTQModifier.actorder` and "
          "`QuantizationScheme.actorder` are provided and differ (",
          enum_repr(modifier_actorder), ", ", ActivationOrderingName(*existing),
          "). Either unset `GPTQModifier.actorder` or remove `actorder` from config groups."));
    }
    // llm-compressor 0.14 accepts a modifier-level 'group' / 'dynamic' here
    // and refuses it only when GPTQ quantizes (the check reports that).
  }
  return config;
}

}  // namespace mapping
}  // namespace wring
