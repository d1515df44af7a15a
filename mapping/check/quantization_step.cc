#include "mapping/check/quantization_step.h"

#include <map>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mapping/base/status_macros.h"
#include "mapping/check/divisibility_fix.h"
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
void WarnAboutNonTextTowers(const report::CheckReport& report, DiagnosticList* diagnostics) {
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
    diagnostics->Add(MakeDiagnostic(
        "warning", "quantization.non_text_tower",
        absl::StrCat("the quantization targets also match ", count, " modules of the ", tower,
                     " (e.g. ", example, ")"),
        "llm-compressor quantizes every module its targets match; vision/audio encoders "
        "are usually kept in full precision, and vLLM may not support them quantized.",
        absl::StrCat("Add \"re:.*", tower, ".*\" to the modifier's `ignore` unless you "
                     "mean to quantize it.")),
        Origin{});
  }
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

namespace {

// The columns of every layer modifier `config_index` gives a group-strategy
// weight scheme in `state`: what a replacement group_size must divide.
std::vector<int64_t> GroupedColumns(const ModuleTree& tree, const SchemeAssignments& state,
                                    int config_index) {
  std::vector<int64_t> out;
  for (const ModuleSchemeAssignment& a : state.modules) {
    const AppliedScheme& applied = state.schemes[a.applied_scheme];
    if (applied.config_index != config_index || !applied.scheme.weights) continue;
    QuantizationStrategy strategy = applied.scheme.weights->strategy;
    if (strategy != QuantizationStrategy::kGroup &&
        strategy != QuantizationStrategy::kTensorGroup) {
      continue;
    }
    if (tree.module(a.module).in_features >= 0) out.push_back(tree.module(a.module).in_features);
  }
  return out;
}

std::vector<bool> AssignedBy(const ModuleTree& tree, const SchemeAssignments& state,
                             int config_index) {
  std::vector<bool> out(tree.size(), false);
  for (const ModuleSchemeAssignment& a : state.modules) {
    if (state.schemes[a.applied_scheme].config_index == config_index) out[a.module] = true;
  }
  return out;
}

report::Diagnostic DivisibilityDiagnostic(const ModuleTree& tree, const std::string& modifier,
                                          const std::vector<IndivisibleLayer>& layers,
                                          const SchemeAssignments& state, int config_index) {
  std::set<int64_t> columns;
  for (const IndivisibleLayer& l : layers) columns.insert(l.columns);
  std::vector<std::string> remainders;
  for (int64_t c : columns) {
    remainders.push_back(absl::StrCat(c, " = ", c / layers.front().group_size, " x ",
                                      layers.front().group_size, " + ",
                                      c % layers.front().group_size));
  }
  return MakeDiagnostic(
      "error", "quantization.group_size_divisibility",
      absl::StrCat("ValueError: ", GroupSizeDivisibilityMessage(tree, layers)),
      absl::StrCat(modifier, " quantizes weights in groups of ", layers.front().group_size,
                   " input columns, and ", layers.size(), " targeted layer",
                   layers.size() == 1 ? " has" : "s have", " a partial last group (",
                   absl::StrJoin(remainders, "; "),
                   "). llm-compressor checks this when the modifier initializes, before any "
                   "calibration."),
      DivisibilityFix(tree, layers, GroupedColumns(tree, state, config_index),
                      AssignedBy(tree, state, config_index)));
}

std::string DivisibilityAssumption(const ModuleTree& tree, const std::string& modifier,
                                   const std::vector<IndivisibleLayer>& layers) {
  const std::string tower = CommonNonTextTower(tree, layers);
  return absl::StrCat("adding the ", layers.size(), " indivisible layer",
                      layers.size() == 1 ? "" : "s",
                      tower.empty() ? "" : absl::StrCat(" (all in ", tower, "*)"), " to ",
                      modifier, "'s `ignore`");
}

}  // namespace

absl::Status QuantizationStep::Run(const ModuleTree& tree, const recipe::Recipe& recipe,
                                   report::CheckReport* report, DiagnosticList* diagnostics) {
  targeted_.assign(tree.size(), false);
  std::vector<ResolvedQuantizationConfig> configs;
  std::vector<std::string> config_names;
  std::vector<int> config_modifier;
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
    const Origin at_load{Phase::kRecipe, i};
    if (!config.ok()) {
      diagnostics->AddError(
          MakeDiagnostic(
              "error", "quantization.invalid_config",
              absl::StrCat(config.status().code() == absl::StatusCode::kUnimplemented
                               ? "NotImplementedError: "
                               : "ValueError: ",
                           config.status().message()),
              absl::StrCat("llm-compressor validates ", modifier.type(),
                           "'s fields when the recipe is loaded and would stop here."),
              "Correct the modifier's fields as the message says."),
          at_load, absl::StrCat("correcting ", modifier.type(), "'s fields (this check leaves it out)"));
      continue;
    }
    WRING_RETURN_IF_ERROR(ValidatePatterns(recipe.source_name(), modifier, *config));
    if (modifier.kind_case() == recipe::Modifier::kGptq) {
      for (const auto& group : config->config_groups) {
        const auto& w = group.scheme.weights;
        if (!w || !w->actorder || !IsGroupActorder(*w->actorder)) continue;
        diagnostics->AddError(
            MakeDiagnostic(
                "error", "gptq.actorder_removed",
                absl::StrCat("ValueError: Invalid activation ordering ",
                             ActivationOrderingName(*w->actorder),
                             ". Only 'weight' and 'static' are supported for GPTQ."),
                "llm-compressor 0.14 removed group activation ordering; GPTQModifier still "
                "accepts actorder: group / dynamic when the recipe loads and fails when it "
                "quantizes the first layer, after calibration.",
                "Set `actorder: weight` (or `static`, the default) on GPTQModifier, or null "
                "for no activation ordering."),
            Origin{Phase::kRun, i}, "setting `actorder: weight`");
        break;
      }
    }
    for (const std::string& w : config->warnings) {
      diagnostics->Add(MakeDiagnostic("warning", "quantization.warning", w), at_load);
    }
    configs.push_back(*std::move(config));
    config_names.push_back(absl::StrCat(modifier.type(), " #", i + 1));
    config_modifier.push_back(i);
  }
  has_quantization_ = !configs.empty();

  // What the recipe attaches as written (upstream attaches every scheme
  // before its divisibility check raises): the report's targets.
  AssignSchemesOptions unchecked;
  unchecked.check_group_size_divisibility = false;
  WRING_ASSIGN_OR_RETURN(SchemeAssignments written, AssignSchemes(tree, configs, unchecked));

  // Each modifier's check sees the schemes of the modifiers up to it, with
  // the earlier modifiers' fixes applied (a run only gets that far then).
  std::vector<ResolvedQuantizationConfig> fixed = configs;
  bool any_fix = false;
  for (size_t k = 0; k < fixed.size(); ++k) {
    SchemeAssignments state;
    if (k + 1 == fixed.size() && !any_fix) {
      state = written;
    } else {
      std::vector<ResolvedQuantizationConfig> prefix(fixed.begin(), fixed.begin() + k + 1);
      WRING_ASSIGN_OR_RETURN(state, AssignSchemes(tree, prefix, unchecked));
    }
    WRING_ASSIGN_OR_RETURN(std::vector<IndivisibleLayer> layers,
                           FindIndivisibleLayers(tree, state, fixed[k]));
    if (layers.empty()) continue;
    const Origin at_init{Phase::kInitialize, config_modifier[k]};
    if (fixed[k].bypass_divisibility_checks) {
      diagnostics->Add(
          MakeDiagnostic(
              "info", "quantization.divisibility_bypassed",
              absl::StrCat("bypass_divisibility_checks lets ", layers.size(),
                           " layers with a partial last group through (e.g. ",
                           tree.module(layers.front().module).name, ", ",
                           layers.front().columns, " columns, group_size ",
                           layers.front().group_size, ")"),
              "compressed-tensors and the runtime must then handle the partial group.", ""),
          Origin{Phase::kAdvice, config_modifier[k]});
      continue;
    }
    diagnostics->AddError(DivisibilityDiagnostic(tree, config_names[k], layers, state, k),
                          at_init, DivisibilityAssumption(tree, config_names[k], layers));
    for (const IndivisibleLayer& l : layers) fixed[k].ignore.push_back(tree.module(l.module).name);
    any_fix = true;
  }
  if (any_fix) {
    WRING_ASSIGN_OR_RETURN(fixed_, AssignSchemes(tree, fixed, unchecked));
  } else {
    fixed_ = written;
  }
  for (const ModuleSchemeAssignment& a : fixed_.modules) targeted_[a.module] = true;

  report::QuantizationReport* coverage = report->mutable_quantization();
  std::map<int, report::SchemeUse*> uses;
  std::vector<bool> written_targeted(tree.size(), false);
  for (const ModuleSchemeAssignment& a : written.modules) {
    written_targeted[a.module] = true;
    const std::string& name = tree.module(a.module).name;
    if (a.attachment == SchemeAttachment::kKvCache) {
      coverage->add_kv_cache_modules(name);
      continue;
    }
    if (a.attachment == SchemeAttachment::kLinear) report->add_targets(name);
    auto it = uses.find(a.applied_scheme);
    if (it == uses.end()) {
      const AppliedScheme& applied = written.schemes[a.applied_scheme];
      report::SchemeUse* use = coverage->add_schemes();
      use->set_modifier(config_names[applied.config_index]);
      use->set_group(applied.group_name);
      use->set_summary(DescribeScheme(applied.scheme));
      it = uses.emplace(a.applied_scheme, use).first;
    }
    it->second->add_modules(name);
  }
  for (int m = 0; m < tree.size(); ++m) {
    if (tree.IsLinear(m) && !written_targeted[m]) {
      coverage->add_unquantized_linear(tree.module(m).name);
    }
  }
  WarnAboutNonTextTowers(*report, diagnostics);
  for (const UnmatchedTarget& u : written.unmatched_targets) {
    coverage->add_unmatched_targets(u.target);
    diagnostics->Add(MakeDiagnostic("warning", "quantization.unmatched_target", u.message),
                     Origin{Phase::kInitialize, config_modifier[u.config_index]});
  }
  return absl::OkStatus();
}

bool QuantizationStep::WeightStrategyIsTensor(int module) const {
  const ModuleSchemeAssignment* a = fixed_.Find(module);
  if (a == nullptr) return false;
  const QuantizationScheme& scheme = fixed_.scheme(*a);
  return scheme.weights.has_value() && scheme.weights->strategy == QuantizationStrategy::kTensor;
}

}  // namespace mapping
}  // namespace wring
