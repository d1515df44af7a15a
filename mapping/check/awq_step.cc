#include "mapping/check/awq_step.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mapping/awq/dynamic_mappings.h"
#include "mapping/awq/resolve.h"
#include "mapping/base/status_macros.h"
#include "mapping/check/explain.h"
#include "mapping/match/pattern.h"
#include "mapping/report/layer_ranges.h"

namespace wring {
namespace mapping {
namespace {

AwqMapping FromRecipe(const recipe::AwqMapping& m) {
  AwqMapping out;
  out.smooth_layer = m.smooth_layer();
  out.balance_layers.assign(m.balance_layers().begin(), m.balance_layers().end());
  if (m.has_activation_hook_target()) out.activation_hook_target = m.activation_hook_target();
  return out;
}

// A recipe's AWQ mapping patterns must compile before anything runs; a bad
// one is unusable input rather than a run that would fail.
absl::Status ValidateAwqPatterns(const std::string& source, const recipe::AwqModifier& awq) {
  for (const auto& m : awq.mappings().mappings()) {
    std::vector<std::string> patterns = {m.smooth_layer()};
    patterns.insert(patterns.end(), m.balance_layers().begin(), m.balance_layers().end());
    for (const std::string& p : patterns) {
      auto compiled = Pattern::Compile(p);
      if (!compiled.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(source, ":", m.location().line(),
                                                       ": AWQModifier.mappings: ",
                                                       compiled.status().message()));
      }
    }
  }
  return absl::OkStatus();
}

// duo_scaling with a TENSOR weight strategy raises at calibration start.
absl::optional<std::string> DuoScalingError(const recipe::AwqModifier& awq,
                                            const ModuleTree& tree,
                                            const AwqResolution& resolution,
                                            const QuantizationStep& quantization) {
  if (awq.has_duo_scaling() && awq.duo_scaling() == "false") return absl::nullopt;
  for (const ResolvedAwqMapping& r : resolution.resolved) {
    for (int b : r.balance) {
      if (quantization.WeightStrategyIsTensor(b)) {
        return absl::StrCat(
            "ValueError: duo_scaling is only supported with per-channel quantization "
            "strategies (group or channel), but found TENSOR strategy on layer ",
            tree.module(b).name,
            ". Please set duo_scaling=False or use a per-channel quantization strategy.");
      }
    }
  }
  return absl::nullopt;
}

void FillResolution(const ModuleTree& tree, const ChosenAwqMappings& chosen,
                    const AwqResolution& resolution, report::AwqReport* out) {
  for (const ResolvedAwqMapping& r : resolution.resolved) {
    report::ResolvedMapping* pr = out->add_resolved();
    pr->set_smooth(tree.module(r.smooth).name);
    for (int b : r.balance) pr->add_balance(tree.module(b).name);
    pr->set_parent(tree.module(r.parent).name);
    if (r.hook.has_value()) pr->set_hook(tree.module(*r.hook).name);
    pr->set_mapping(chosen.mappings[r.mapping_index].smooth_layer);
  }
  for (const SkippedAwqMapping& s : resolution.skipped) {
    report::SkippedMapping* ps = out->add_skipped();
    ps->set_smooth(tree.module(s.smooth).name);
    ps->set_mapping(chosen.mappings[s.mapping_index].smooth_layer);
    ps->set_reason(AwqSkipReasonName(s.reason));
  }
  for (const std::string& line : resolution.log) out->add_log(line);
}

// "layers 0-29: input_layernorm" for decoder-layer names, else the names.
std::string DescribeLayers(const std::vector<std::string>& names) {
  std::map<std::pair<std::string, std::string>, std::vector<int>> by_rest;
  std::vector<std::string> other;
  for (const std::string& name : names) {
    LayerName split = SplitLayerName(name);
    if (split.layer.has_value()) {
      by_rest[{split.prefix, split.rest}].push_back(*split.layer);
    } else {
      other.push_back(name);
    }
  }
  std::vector<std::string> parts;
  for (const auto& [key, layers] : by_rest) {
    parts.push_back(absl::StrCat(key.first == "model.layers." ? "layers " : key.first,
                                 FormatIndexRanges(layers), ": ", key.second));
  }
  parts.insert(parts.end(), other.begin(), other.end());
  return absl::StrJoin(parts, "; ");
}

}  // namespace

absl::Status RunAwqStep(const AwqStepInput& input, report::AwqReport* out,
                        DiagnosticList* diagnostics) {
  const ModelInput& model = *input.model;
  const ModuleTree& tree = model.tree;
  const recipe::AwqModifier& awq = *input.awq;
  const Origin at_init{Phase::kInitialize, input.modifier_index};
  const Origin at_start{Phase::kCalibrationStart, input.modifier_index};

  ChosenAwqMappings chosen;
  if (awq.has_mappings()) {
    WRING_RETURN_IF_ERROR(ValidateAwqPatterns(input.source_name, awq));
    chosen.source = AwqMappingSource::kRecipe;
    for (const auto& m : awq.mappings().mappings()) chosen.mappings.push_back(FromRecipe(m));
  } else {
    auto inferred = ChooseAwqMappings(tree, model.config, model.architecture);
    if (!inferred.ok()) {
      diagnostics->AddError(
          MakeDiagnostic("error", "awq.mapping_inference", inferred.status().message()), at_init);
      return absl::OkStatus();
    }
    chosen = *std::move(inferred);
    out->add_log("INFO No AWQModifier.mappings provided, inferring from model...");
    if (chosen.source == AwqMappingSource::kDefault) {
      diagnostics->Add(
          MakeDiagnostic(
              "warning", "awq.default_mappings",
              absl::StrCat("AWQ has no mappings for ", model.architecture,
                           ": llm-compressor falls back to its default (Llama-style) mappings "
                           "and only logs it"),
              "The default mappings assume input_layernorm / q,k,v_proj / o_proj / "
              "post_attention_layernorm / gate,up_proj / down_proj; on other layouts they "
              "match partly or not at all (see the resolution below).",
              "Check the resolution below; if it misses layers, give AWQModifier explicit "
              "`mappings` for this architecture."),
          at_init);
    }
  }
  out->set_source(AwqMappingSourceName(chosen.source));
  out->set_list_name(chosen.list_name);
  for (const std::string& line : chosen.log) out->add_log(line);
  for (const AwqMapping& m : chosen.mappings) {
    report::AwqMapping* pm = out->add_mappings();
    pm->set_smooth_layer(m.smooth_layer);
    for (const auto& b : m.balance_layers) pm->add_balance_layers(b);
    if (m.activation_hook_target.has_value()) {
      pm->set_activation_hook_target(*m.activation_hook_target);
    }
  }
  WRING_ASSIGN_OR_RETURN(AwqResolution resolution,
                         ResolveAwqMappings(tree, chosen.mappings, *input.targeted));
  FillResolution(tree, chosen, resolution, out);

  // Resolution happens at calibration start; every earlier error must be
  // fixed for a run to get here, and the resolution above assumes it is.
  const std::string assumed = diagnostics->AssumptionsBefore(at_start);
  if (!assumed.empty()) {
    diagnostics->Add(
        MakeDiagnostic(
            "info", "awq.resolution_after_fixes",
            absl::StrCat("After ", assumed, ", AWQ would resolve ", resolution.resolved.size(),
                         " mapping", resolution.resolved.size() == 1 ? "" : "s", " (",
                         resolution.skipped.size(), " skipped)",
                         resolution.error.has_value() ? " and then raise the error below" : ""),
            "llm-compressor resolves AWQ mappings at calibration start, after the errors "
            "above would have stopped the run; this is what it would do once they are "
            "fixed as their `fix` says."),
        at_start);
  }
  if (resolution.error.has_value()) {
    out->set_error(*resolution.error);
    diagnostics->AddError(
        ExplainAwqError(tree, chosen.mappings[*resolution.error_mapping_index], *resolution.error),
        at_start, "restricting the AWQ mappings as suggested");
    return absl::OkStatus();
  }
  if (auto duo = DuoScalingError(awq, tree, resolution, *input.quantization)) {
    out->set_error(*duo);
    diagnostics->AddError(
        MakeDiagnostic("error", "awq.duo_scaling_tensor", *duo,
                       "Duo scaling normalizes weights per group or channel; a TENSOR weight "
                       "strategy has no such statistic.",
                       "Set `duo_scaling: false` on AWQModifier, or quantize the balance layers "
                       "with a group or channel strategy."),
        at_start, "setting `duo_scaling: false`");
    return absl::OkStatus();
  }
  if (resolution.resolved.empty()) {
    std::string why = "No mapping's patterns matched a targeted smooth/balance set.";
    if (input.targets_assumed) {
      why = "No quantization modifier follows AWQModifier (see the error above), so nothing "
            "is targeted; even with the suggested QuantizationModifier no mapping matched.";
    }
    diagnostics->Add(
        MakeDiagnostic(
            "warning", "awq.nothing_resolved",
            assumed.empty()
                ? "AWQ resolved no mapping on this model: it would run but change nothing."
                : absl::StrCat("After ", assumed,
                               ", AWQ would resolve no mapping: it would run but change "
                               "nothing."),
            why, "Check the mappings' patterns against the module names, or drop AWQModifier."),
        at_start);
  }
  // llm-compressor logs one warning per skipped set; one per mapping and
  // reason says the same with the layers compressed.
  std::map<std::pair<int, AwqSkipReason>, std::vector<std::string>> skipped;
  for (const SkippedAwqMapping& s : resolution.skipped) {
    if (s.reason == AwqSkipReason::kIncompatible) continue;  // logged at DEBUG only
    skipped[{s.mapping_index, s.reason}].push_back(tree.module(s.smooth).name);
  }
  for (const auto& [key, smooth_names] : skipped) {
    const AwqMapping& mapping = chosen.mappings[key.first];
    const bool no_balance = key.second == AwqSkipReason::kNoBalance;
    diagnostics->Add(
        MakeDiagnostic(
            "warning", "awq.skipped",
            absl::StrCat("AWQ skips mapping ", AwqMappingRepr(mapping), " on ",
                         smooth_names.size(), " smooth layer",
                         smooth_names.size() == 1 ? "" : "s", " (", DescribeLayers(smooth_names),
                         ") because ",
                         no_balance ? "no balance layers were found"
                                    : "no layers are targeted for quantization",
                         assumed.empty() ? "" : absl::StrCat(", after ", assumed)),
            "llm-compressor logs \"Skipping <smooth layer> for mapping ...\" once per layer "
            "and leaves those layers unsmoothed.",
            no_balance ? "Fix the mapping's balance_layers patterns."
                       : "Quantize at least one of the set's layers, or drop the mapping."),
        at_start);
  }
  return absl::OkStatus();
}

}  // namespace mapping
}  // namespace wring
