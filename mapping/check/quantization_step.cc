#include "mapping/check/quantization_step.h"

#include <map>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mapping/base/status_macros.h"
#include "mapping/check/explain.h"
#include "mapping/match/pattern.h"
#include "mapping/quantization/quantization_config.h"
#include "mapping/quantization/quantization_scheme.h"
#include "mapping/recipe/suggestion.h"

namespace wring {
namespace mapping {
namespace {

std::string DescribeArgs(const QuantizationArgs& args) {
  std::string out = absl::StrCat(QuantizationTypeName(args.type), args.num_bits, " ",
                                 QuantizationStrategyName(args.strategy));
  if (args.group_size.has_value() && *args.group_size > 0) {
    absl::StrAppend(&out, "(", *args.group_size, ")");
  }
  if (!args.block_structure.empty()) {
    absl::StrAppend(&out, "(", absl::StrJoin(args.block_structure, "x"), ")");
  }
  absl::StrAppend(&out, args.symmetric ? " symmetric" : " asymmetric");
  if (args.dynamic == DynamicMode::kDynamic) absl::StrAppend(&out, " dynamic");
  if (args.dynamic == DynamicMode::kLocal) absl::StrAppend(&out, " dynamic(local)");
  return out;
}

// Target and ignore strings must compile before any matching: a bad one is
// unusable input, not a failed run.
absl::Status ValidatePatterns(const std::string& source, const recipe::Modifier& modifier,
                              const ResolvedQuantizationConfig& config) {
  std::vector<std::string> all(config.ignore.begin(), config.ignore.end());
  for (const auto& group : config.config_groups) {
    all.insert(all.end(), group.scheme.targets.begin(), group.scheme.targets.end());
  }
  for (const std::string& p : all) {
    auto compiled = Pattern::Compile(p);
    if (!compiled.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ":", modifier.location().line(),
                                                     ": ", modifier.type(), ": ",
                                                     compiled.status().message()));
    }
  }
  return absl::OkStatus();
}

// An unknown preset is a typo, reported as unusable input with the closest
// name, before llm-compressor's own (less helpful) validation message.
absl::Status ValidatePresetNames(const std::string& source, const recipe::Modifier& modifier,
                                 const recipe::QuantizationMixin& mixin) {
  std::vector<std::string> names;
  if (mixin.scheme_case() == recipe::QuantizationMixin::kPreset) names.push_back(mixin.preset());
  if (mixin.scheme_case() == recipe::QuantizationMixin::kPresetMap) {
    for (const auto& e : mixin.preset_map().entries()) names.push_back(e.preset());
  }
  for (const std::string& name : names) {
    if (IsPresetScheme(name)) continue;
    std::string hint = DidYouMean(name, ListPresetNames());
    return absl::InvalidArgumentError(absl::StrCat(
        source, ":", modifier.location().line(), ": ", modifier.type(),
        ".scheme: unknown preset scheme name '", name, "'",
        hint.empty() ? "" : absl::StrCat(" (", hint, ")"), "; valid presets: ",
        absl::StrJoin(ListPresetNames(), ", ")));
  }
  return absl::OkStatus();
}

// Multimodal checkpoints are usually quantized in the language model only;
// vLLM often cannot run quantized vision/audio towers. Upstream quantizes
// whatever the targets match, silently: say so.
void WarnAboutNonTextTowers(const ModuleTree& tree, const report::CheckReport& report,
                            std::vector<report::Diagnostic>* diagnostics) {
  static const char* kTowers[] = {"vision_tower", "vision_model", "visual", "audio_tower",
                                  "multi_modal_projector", "vision_embed"};
  for (const char* tower : kTowers) {
    int count = 0;
    std::string example;
    const std::string component = absl::StrCat(tower, ".");
    for (const std::string& name : report.targets()) {
      if (absl::StrContains(name, component) || absl::EndsWith(name, tower)) {
        if (count++ == 0) example = name;
      }
    }
    if (count == 0) continue;
    diagnostics->push_back(MakeDiagnostic(
        "warning", "quantization.non_text_tower",
        absl::StrCat("the quantization targets also match ", count, " modules of the ", tower,
                     " (e.g. ", example, ")"),
        "llm-compressor quantizes every module its targets match; vision/audio encoders "
        "are usually kept in full precision, and vLLM may not support them quantized.",
        absl::StrCat("Add \"re:.*", tower, ".*\" to the modifier's `ignore` unless you "
                     "mean to quantize it.")));
  }
  (void)tree;
}

}  // namespace

std::string DescribeScheme(const QuantizationScheme& scheme) {
  std::vector<std::string> parts;
  if (scheme.weights.has_value()) parts.push_back(DescribeArgs(*scheme.weights) + " weights");
  if (scheme.input_activations.has_value()) {
    parts.push_back(DescribeArgs(*scheme.input_activations) + " inputs");
  }
  if (scheme.output_activations.has_value()) {
    parts.push_back(DescribeArgs(*scheme.output_activations) + " outputs");
  }
  return parts.empty() ? "empty scheme (quantizes nothing)" : absl::StrJoin(parts, "; ");
}

absl::Status QuantizationStep::Run(const ModuleTree& tree, const recipe::Recipe& recipe,
                                   report::CheckReport* report) {
  targeted_.assign(tree.size(), false);
  std::vector<ResolvedQuantizationConfig> configs;
  std::vector<std::string> config_names;
  for (int i = 0; i < recipe.modifiers_size(); ++i) {
    const recipe::Modifier& modifier = recipe.modifiers(i);
    absl::StatusOr<ResolvedQuantizationConfig> config;
    if (modifier.kind_case() == recipe::Modifier::kQuantization) {
      WRING_RETURN_IF_ERROR(ValidatePresetNames(recipe.source_name(), modifier, modifier.quantization()));
      config = ResolveQuantizationMixin(modifier.quantization());
    } else if (modifier.kind_case() == recipe::Modifier::kGptq) {
      WRING_RETURN_IF_ERROR(ValidatePresetNames(recipe.source_name(), modifier, modifier.gptq().quantization()));
      config = ResolveGptqModifier(modifier.gptq());
    } else {
      continue;
    }
    if (!config.ok()) {
      diagnostics_.push_back(MakeDiagnostic(
          "error", "quantization.invalid_config",
          absl::StrCat(config.status().code() == absl::StatusCode::kUnimplemented
                           ? "NotImplementedError: "
                           : "ValueError: ",
                       config.status().message()),
          absl::StrCat("llm-compressor validates ", modifier.type(),
                       "'s fields when the recipe is loaded and would stop here."),
          "Correct the modifier's fields as the message says."));
      continue;
    }
    WRING_RETURN_IF_ERROR(ValidatePatterns(recipe.source_name(), modifier, *config));
    for (const std::string& w : config->warnings) {
      diagnostics_.push_back(MakeDiagnostic("warning", "quantization.warning", w));
    }
    configs.push_back(*std::move(config));
    config_names.push_back(absl::StrCat(modifier.type(), " #", i + 1));
  }
  auto assigned = AssignSchemes(tree, configs);
  if (!assigned.ok()) {
    // Patterns were validated above, so this is the group-size check.
    diagnostics_.push_back(MakeDiagnostic(
        "error", "quantization.group_size_divisibility",
        absl::StrCat("ValueError: ", assigned.status().message()),
        "Grouped weight quantization needs every targeted layer's input columns to be a "
        "multiple of group_size.",
        "Add the listed layers to the modifier's `ignore`, pick a group_size that divides "
        "them, or set bypass_divisibility_checks: true."));
    return absl::OkStatus();
  }
  assignments_ = *std::move(assigned);

  report::QuantizationReport* coverage = report->mutable_quantization();
  std::map<int, report::SchemeUse*> uses;
  for (const ModuleSchemeAssignment& a : assignments_.modules) {
    targeted_[a.module] = true;
    const std::string& name = tree.module(a.module).name;
    if (a.attachment == SchemeAttachment::kKvCache) {
      coverage->add_kv_cache_modules(name);
      continue;
    }
    if (a.attachment == SchemeAttachment::kLinear) report->add_targets(name);
    auto it = uses.find(a.applied_scheme);
    if (it == uses.end()) {
      const AppliedScheme& applied = assignments_.schemes[a.applied_scheme];
      report::SchemeUse* use = coverage->add_schemes();
      use->set_modifier(config_names[applied.config_index]);
      use->set_group(applied.group_name);
      use->set_summary(DescribeScheme(applied.scheme));
      it = uses.emplace(a.applied_scheme, use).first;
    }
    it->second->add_modules(name);
  }
  for (int m = 0; m < tree.size(); ++m) {
    if (tree.IsLinear(m) && !targeted_[m]) coverage->add_unquantized_linear(tree.module(m).name);
  }
  WarnAboutNonTextTowers(tree, *report, &diagnostics_);
  for (const UnmatchedTarget& u : assignments_.unmatched_targets) {
    coverage->add_unmatched_targets(u.target);
    diagnostics_.push_back(MakeDiagnostic("warning", "quantization.unmatched_target", u.message));
  }
  return absl::OkStatus();
}

bool QuantizationStep::WeightStrategyIsTensor(int module) const {
  const ModuleSchemeAssignment* a = assignments_.Find(module);
  if (a == nullptr) return false;
  const QuantizationScheme& scheme = assignments_.scheme(*a);
  return scheme.weights.has_value() && scheme.weights->strategy == QuantizationStrategy::kTensor;
}

}  // namespace mapping
}  // namespace wring
