#include "mapping/check/check.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mapping/awq/dynamic_mappings.h"
#include "mapping/awq/resolve.h"
#include "mapping/base/status_macros.h"
#include "mapping/check/explain.h"
#include "mapping/check/quantization_step.h"
#include "mapping/check/spinquant_step.h"
#include "mapping/check/version.h"
#include "mapping/match/pattern.h"
#include "mapping/model/moe_linearize.h"
#include "mapping/recipe/recipe_parser.h"

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

void FillModelSummary(const ModelInput& model, report::ModelSummary* summary) {
  summary->set_architecture(model.architecture);
  summary->set_model_type(JsonString(model.config, "model_type").value_or(""));
  summary->set_source_kind(model.source_kind);
  summary->set_num_modules(model.tree.size());
  int linear = 0;
  for (int m = 0; m < model.tree.size(); ++m) linear += model.tree.IsLinear(m) ? 1 : 0;
  summary->set_num_linear(linear);
  summary->set_linearized_experts(model.linearized_experts);
  for (const std::string& note : model.notes) summary->add_notes(note);
  if (auto types = GetConfigLayerTypes(model.config)) {
    for (const std::string& t : *types) summary->add_layer_types(t);
  }
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

class Checker {
 public:
  Checker(ModelInput model, const recipe::Recipe& recipe, bool is_default)
      : model_(std::move(model)), recipe_(recipe), is_default_(is_default) {}

  absl::StatusOr<report::CheckReport> Run() {
    WRING_ASSIGN_OR_RETURN(int linearized, LinearizeFusedExperts(model_));
    (void)linearized;
    StampVersions(&report_);
    FillModelSummary(model_, report_.mutable_model());
    FillRecipeSummary();

    absl::Status order = ValidateRecipeOrder(recipe_);
    if (!order.ok()) {
      Fail(MakeDiagnostic(
          "error", "recipe.awq_without_quantization", order.message(),
          "AWQModifier only smooths weights in current llm-compressor; the schemes it "
          "searches with come from a QuantizationModifier (or GPTQModifier) after it.",
          "Add a QuantizationModifier after AWQModifier, e.g. `QuantizationModifier: "
          "{scheme: W4A16, targets: [Linear], ignore: [lm_head]}`."));
    }

    WRING_RETURN_IF_ERROR(quantization_.Run(model_.tree, recipe_, &report_));
    for (const report::Diagnostic& d : quantization_.diagnostics()) AddDiagnostic(d);

    for (const recipe::Modifier& modifier : recipe_.modifiers()) {
      if (modifier.kind_case() == recipe::Modifier::kAwq) {
        WRING_RETURN_IF_ERROR(CheckAwq(modifier.awq()));
      }
    }
    const recipe::SpinQuantModifier* spinquant = nullptr;
    for (const recipe::Modifier& modifier : recipe_.modifiers()) {
      if (modifier.kind_case() == recipe::Modifier::kSpinquant) spinquant = &modifier.spinquant();
    }
    SpinQuantStep spinquant_step;
    WRING_RETURN_IF_ERROR(
        spinquant_step.Run(model_.tree, model_.config, spinquant, report_.mutable_spinquant()));
    for (const report::Diagnostic& d : spinquant_step.diagnostics()) AddDiagnostic(d);

    FinishVerdict();
    return std::move(report_);
  }

 private:
  void FillRecipeSummary() {
    report::RecipeSummary* summary = report_.mutable_recipe();
    summary->set_is_default(is_default_);
    summary->set_source(is_default_ ? "default (AWQ + W4A16 on Linear, ignore lm_head)"
                                    : recipe_.source_name());
    for (const recipe::Modifier& m : recipe_.modifiers()) {
      report::ModifierSummary* s = summary->add_modifiers();
      s->set_type(m.type());
      s->set_stage(m.stage());
      s->set_group(m.group());
    }
  }

  absl::Status CheckAwq(const recipe::AwqModifier& awq) {
    report::AwqReport* out = report_.mutable_awq();
    ChosenAwqMappings chosen;
    if (awq.has_mappings()) {
      WRING_RETURN_IF_ERROR(ValidateAwqPatterns(recipe_.source_name(), awq));
      chosen.source = AwqMappingSource::kRecipe;
      for (const auto& m : awq.mappings().mappings()) chosen.mappings.push_back(FromRecipe(m));
    } else {
      auto inferred = ChooseAwqMappings(model_.tree, model_.config, model_.architecture);
      if (!inferred.ok()) {
        Fail(MakeDiagnostic("error", "awq.mapping_inference", inferred.status().message()));
        return absl::OkStatus();
      }
      chosen = *std::move(inferred);
      out->add_log("INFO No AWQModifier.mappings provided, inferring from model...");
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
    WRING_ASSIGN_OR_RETURN(
        AwqResolution resolution,
        ResolveAwqMappings(model_.tree, chosen.mappings, quantization_.targeted()));
    const ModuleTree& tree = model_.tree;
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
    if (resolution.error.has_value()) {
      out->set_error(*resolution.error);
      Fail(ExplainAwqError(tree, chosen.mappings[*resolution.error_mapping_index],
                           *resolution.error));
      return absl::OkStatus();
    }
    if (auto duo = DuoScalingError(awq, tree, resolution, quantization_)) {
      out->set_error(*duo);
      Fail(MakeDiagnostic("error", "awq.duo_scaling_tensor", *duo,
                          "Duo scaling normalizes weights per group or channel; a TENSOR "
                          "weight strategy has no such statistic.",
                          "Set `duo_scaling: false` on AWQModifier, or quantize the balance "
                          "layers with a group or channel strategy."));
      return absl::OkStatus();
    }
    if (resolution.resolved.empty()) {
      AddDiagnostic(MakeDiagnostic(
          "warning", "awq.nothing_resolved",
          "AWQ resolved no mapping on this model: it would run but change nothing.",
          "No mapping's patterns matched a targeted smooth/balance set.",
          "Check the mappings' patterns against the module names, or drop AWQModifier."));
    }
    for (const std::string& line : resolution.log) {
      if (absl::StartsWith(line, "WARNING Skipping")) {
        AddDiagnostic(MakeDiagnostic("warning", "awq.skipped", line.substr(8)));
      }
    }
    return absl::OkStatus();
  }

  void AddDiagnostic(report::Diagnostic d) {
    if (d.severity() == "error") failed_ = true;
    *report_.add_diagnostics() = std::move(d);
  }
  void Fail(report::Diagnostic d) {
    d.set_severity("error");
    AddDiagnostic(std::move(d));
  }

  void FinishVerdict() {
    report::Verdict* v = report_.mutable_verdict();
    v->set_would_run(!failed_);
    v->set_exit_code(failed_ ? kExitWouldFail : kExitWouldRun);
    if (failed_) {
      for (const report::Diagnostic& d : report_.diagnostics()) {
        if (d.severity() == "error") {
          v->set_summary(absl::StrCat("llm-compressor would raise: ",
                                      d.message().substr(0, 240),
                                      d.message().size() > 240 ? "..." : ""));
          break;
        }
      }
    } else {
      v->set_summary(absl::StrCat(report_.targets_size(), " modules quantized",
                                  report_.has_awq()
                                      ? absl::StrCat(", ", report_.awq().resolved_size(),
                                                     " AWQ mappings resolved")
                                      : ""));
    }
  }

  ModelInput model_;
  const recipe::Recipe& recipe_;
  bool is_default_;
  report::CheckReport report_;
  QuantizationStep quantization_;
  bool failed_ = false;
};

}  // namespace

absl::StatusOr<report::CheckReport> CheckRecipe(ModelInput model, const recipe::Recipe* recipe) {
  recipe::Recipe default_recipe;
  if (recipe == nullptr) {
    WRING_ASSIGN_OR_RETURN(default_recipe, ParseRecipe(DefaultAwqW4A16Recipe(), "default"));
  }
  Checker checker(std::move(model), recipe != nullptr ? *recipe : default_recipe,
                  recipe == nullptr);
  return checker.Run();
}

}  // namespace mapping
}  // namespace wring
