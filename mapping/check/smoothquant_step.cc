#include "mapping/check/smoothquant_step.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "mapping/base/status_macros.h"
#include "mapping/check/explain.h"
#include "mapping/match/pattern.h"
#include "mapping/smoothquant/resolve.h"
#include "mapping/smoothquant/smoothquant_mappings.h"

namespace wring {
namespace mapping {
namespace {

// A recipe's patterns must compile before anything runs.
absl::Status ValidatePatterns(const std::string& source, const recipe::SmoothQuantModifier& sq) {
  for (const auto& m : sq.mappings().mappings()) {
    std::vector<std::string> patterns(m.balance_layers().begin(), m.balance_layers().end());
    patterns.push_back(m.smooth_layer());
    for (const std::string& p : patterns) {
      auto compiled = Pattern::Compile(p);
      if (!compiled.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(source, ":", m.location().line(),
                                                       ": SmoothQuantModifier.mappings: ",
                                                       compiled.status().message()));
      }
    }
  }
  for (const std::string& p : sq.ignore()) {
    auto compiled = Pattern::Compile(p);
    if (!compiled.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": SmoothQuantModifier.ignore: ", compiled.status().message()));
    }
  }
  return absl::OkStatus();
}

report::Diagnostic ExplainResolutionError(const std::string& error, const std::string& cause) {
  const std::string message = absl::StrCat(error, "\n(from ", cause, ")");
  if (absl::StrContains(cause, "must match a single smooth layer")) {
    return MakeDiagnostic(
        "error", "smoothquant.multiple_smooth_layers", message,
        "Each mapping's patterns are matched as one set per decoder layer; here the smooth "
        "layer's pattern matched several modules inside one set, typically because the "
        "balance layers exist in only some layers (hybrid attention, a vision tower) or the "
        "smooth pattern is too broad.",
        "Give SmoothQuantModifier explicit `mappings` whose smooth pattern names one module per "
        "set, e.g. restricted to the layers that have the balance layers "
        "(\"re:.*layers\\.(3|7)\\.input_layernorm$\").");
  }
  return MakeDiagnostic("error", "smoothquant.resolution", message,
                        "compressed-tensors' match_modules_set could not group the mapping's "
                        "modules into per-layer sets.",
                        "Check each mapping's patterns against the module names (wring mappings "
                        "lists them), or give `mappings` explicitly.");
}

}  // namespace

absl::Status SmoothQuantStep::Run(const ModelInput& model, const std::string& source,
                                  const recipe::SmoothQuantModifier& modifier,
                                  report::SmoothQuantReport* out) {
  WRING_RETURN_IF_ERROR(ValidatePatterns(source, modifier));
  out->set_smoothing_strength(modifier.has_smoothing_strength() ? modifier.smoothing_strength()
                                                                : 0.5);
  out->set_algorithm(modifier.has_algorithm() ? modifier.algorithm() : "smoothquant");
  for (const std::string& i : modifier.ignore()) out->add_ignore(i);

  smoothquant::ChosenSmoothQuantMappings chosen;
  const bool from_recipe = modifier.has_mappings();
  if (from_recipe) {
    chosen.source = smoothquant::SmoothQuantMappingSource::kRecipe;
    for (const auto& m : modifier.mappings().mappings()) {
      chosen.mappings.push_back(smoothquant::LayerMap{
          std::vector<std::string>(m.balance_layers().begin(), m.balance_layers().end()),
          m.smooth_layer()});
    }
  } else {
    out->add_log("INFO No SmoothQuantModifier.mappings provided, inferring from model...");
    chosen = smoothquant::ChooseSmoothQuantMappings(model.config, model.architecture);
    if (chosen.error.has_value()) {
      out->set_error(*chosen.error);
      diagnostics_.push_back(MakeDiagnostic(
          "error", "smoothquant.mapping_inference", *chosen.error,
          "SmoothQuantModifier infers its mappings from the model class; this architecture's "
          "builder needs config facts the model does not have.",
          "Give SmoothQuantModifier explicit `mappings`."));
      return absl::OkStatus();
    }
  }
  out->set_source(smoothquant::SmoothQuantMappingSourceName(chosen.source));
  out->set_list_name(chosen.list_name);
  for (const std::string& line : chosen.log) out->add_log(line);
  for (const smoothquant::LayerMap& m : chosen.mappings) {
    report::SmoothQuantMapping* pm = out->add_mappings();
    for (const std::string& b : m.balance_layers) pm->add_balance_layers(b);
    pm->set_smooth_layer(m.smooth_layers);
  }

  const std::vector<std::string> ignore(modifier.ignore().begin(), modifier.ignore().end());
  WRING_ASSIGN_OR_RETURN(
      smoothquant::SmoothQuantResolution resolution,
      smoothquant::ResolveSmoothQuantMappings(model.tree, chosen.mappings, ignore, from_recipe));
  const ModuleTree& tree = model.tree;
  for (const smoothquant::ResolvedSmoothQuantMapping& r : resolution.resolved) {
    report::ResolvedSmoothQuantMapping* pr = out->add_resolved();
    pr->set_smooth(tree.module(r.smooth).name);
    for (int b : r.balance) pr->add_balance(tree.module(b).name);
    pr->set_mapping(chosen.mappings[r.mapping_index].smooth_layers);
  }
  for (const smoothquant::SkippedSmoothQuantMapping& s : resolution.skipped) {
    report::SkippedMapping* ps = out->add_skipped();
    ps->set_smooth(tree.module(s.smooth).name);
    ps->set_mapping(chosen.mappings[s.mapping_index].smooth_layers);
    ps->set_reason(smoothquant::SmoothQuantSkipReasonName(s.reason));
  }
  for (const std::string& line : resolution.log) {
    out->add_log(line);
    if (absl::StartsWith(line, "WARNING ")) {
      diagnostics_.push_back(MakeDiagnostic("warning", "smoothquant.skipped", line.substr(8)));
    }
  }
  if (resolution.error.has_value()) {
    out->set_error(*resolution.error);
    out->set_cause(resolution.cause.value_or(""));
    diagnostics_.push_back(ExplainResolutionError(*resolution.error, resolution.cause.value_or("")));
    return absl::OkStatus();
  }
  if (resolution.resolved.empty()) {
    diagnostics_.push_back(MakeDiagnostic(
        "warning", "smoothquant.nothing_resolved",
        "SmoothQuant resolved no mapping on this model: it would run but change nothing.",
        "No mapping's patterns matched a smooth layer together with its balance layers.",
        "Check the mappings' patterns against the module names, or drop SmoothQuantModifier."));
  }
  return absl::OkStatus();
}

}  // namespace mapping
}  // namespace wring
