#include "mapping/check/check.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mapping/awq/dynamic_mappings.h"
#include "mapping/base/status_macros.h"
#include "mapping/check/awq_step.h"
#include "mapping/check/diagnostic_list.h"
#include "mapping/check/explain.h"
#include "mapping/check/loose_regex.h"
#include "mapping/check/quantization_step.h"
#include "mapping/check/spinquant_step.h"
#include "mapping/check/version.h"
#include "mapping/model/moe_linearize.h"
#include "mapping/recipe/recipe_parser.h"

namespace wring {
namespace mapping {
namespace {

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
    std::vector<std::string> names;
    for (int i = 0; i < recipe_.modifiers_size(); ++i) {
      names.push_back(absl::StrCat(recipe_.modifiers(i).type(), " #", i + 1));
    }
    DiagnosticList diagnostics(names);

    for (const recipe::RecipeProblem& problem : recipe_.problems()) {
      diagnostics.AddError(
          MakeDiagnostic("error", problem.code(), problem.message(),
                         "llm-compressor raises nothing here: the run completes without "
                         "these modifiers and writes the model uncompressed. This report "
                         "judges them as if nested correctly.",
                         problem.fix()),
          Origin{Phase::kRecipe, -1}, "nesting the modifiers under a stage and a group",
          /*raises=*/false);
    }
    // Recipe.validate_model_after runs once every modifier is constructed.
    absl::Status order = ValidateRecipeOrder(recipe_);
    if (!order.ok()) {
      diagnostics.AddError(
          MakeDiagnostic(
              "error", "recipe.awq_without_quantization",
              absl::StrCat("ValueError: ", order.message()),
              "AWQModifier only smooths weights in current llm-compressor; the schemes it "
              "searches with come from a QuantizationModifier (or GPTQModifier) after it.",
              "Add a QuantizationModifier after AWQModifier, e.g. `QuantizationModifier: "
              "{scheme: W4A16, targets: [Linear], ignore: [lm_head]}`."),
          Origin{Phase::kRecipe, recipe_.modifiers_size()},
          "adding `QuantizationModifier: {scheme: W4A16, targets: [Linear], ignore: "
          "[lm_head]}` after AWQModifier");
    }

    WRING_RETURN_IF_ERROR(quantization_.Run(model_.tree, recipe_, &report_, &diagnostics));
    WarnAboutLooseRegexes(model_.tree, recipe_, &diagnostics);

    // Without any quantization modifier AWQ targets nothing; resolve it on
    // the targets of the modifier the fix above adds instead.
    const std::vector<bool>* targeted = &quantization_.targeted();
    QuantizationStep assumed_quantization;
    const bool assume_targets = !order.ok() && !quantization_.has_quantization();
    if (assume_targets) {
      WRING_ASSIGN_OR_RETURN(recipe::Recipe fix,
                             ParseRecipe(DefaultAwqW4A16Recipe(), "default"));
      report::CheckReport scratch;
      DiagnosticList ignored;
      WRING_RETURN_IF_ERROR(assumed_quantization.Run(model_.tree, fix, &scratch, &ignored));
      targeted = &assumed_quantization.targeted();
    }
    for (int i = 0; i < recipe_.modifiers_size(); ++i) {
      const recipe::Modifier& modifier = recipe_.modifiers(i);
      if (modifier.kind_case() != recipe::Modifier::kAwq) continue;
      AwqStepInput input;
      input.model = &model_;
      input.awq = &modifier.awq();
      input.modifier_index = i;
      input.source_name = recipe_.source_name();
      input.targeted = targeted;
      input.quantization = assume_targets ? &assumed_quantization : &quantization_;
      input.targets_assumed = assume_targets;
      WRING_RETURN_IF_ERROR(RunAwqStep(input, report_.mutable_awq(), &diagnostics));
    }

    const recipe::SpinQuantModifier* spinquant = nullptr;
    int spinquant_index = -1;
    for (int i = 0; i < recipe_.modifiers_size(); ++i) {
      if (recipe_.modifiers(i).kind_case() == recipe::Modifier::kSpinquant) {
        spinquant = &recipe_.modifiers(i).spinquant();
        spinquant_index = i;
      }
    }
    WRING_RETURN_IF_ERROR(RunSpinQuantStep(model_.tree, model_.config, spinquant,
                                           spinquant_index, report_.mutable_spinquant(),
                                           &diagnostics));

    NoteModifiersCompressDoesNotRun(&diagnostics);
    diagnostics.MoveInto(&report_);
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

  // wring check judges every modifier as far as the core knows it;
  // `wring compress` runs only some of them and refuses the others by name.
  void NoteModifiersCompressDoesNotRun(DiagnosticList* diagnostics) {
    std::vector<std::string> others;
    for (const recipe::Modifier& m : recipe_.modifiers()) {
      const bool runs = m.kind_case() == recipe::Modifier::kQuantization ||
                        m.kind_case() == recipe::Modifier::kAwq ||
                        m.kind_case() == recipe::Modifier::kSpinquant;
      if (!runs && std::find(others.begin(), others.end(), m.type()) == others.end()) {
        others.push_back(m.type());
      }
    }
    if (others.empty()) return;
    diagnostics->Add(
        MakeDiagnostic(
            "info", "compress.modifier_not_run",
            absl::StrCat("`wring compress` does not run ", absl::StrJoin(others, ", "),
                         "; this check validates ", others.size() == 1 ? "it" : "them",
                         " as far as wring knows ",
                         others.size() == 1 ? "its" : "their",
                         " fields and targets, and llm-compressor's oneshot runs ",
                         others.size() == 1 ? "it" : "them", "."),
            "wring compress runs QuantizationModifier, AWQModifier and SpinQuantModifier.", ""),
        Origin{});
  }

  void FinishVerdict() {
    int errors = 0, warnings = 0;
    const report::Diagnostic* first = nullptr;
    for (const report::Diagnostic& d : report_.diagnostics()) {
      if (d.severity() != "error") continue;
      ++errors;
      // The error a run stops at, else (nothing raised) the first one.
      if (first == nullptr || (d.stops_run() && !first->stops_run())) first = &d;
    }
    for (const report::Diagnostic& d : report_.diagnostics()) {
      if (d.severity() == "warning") ++warnings;
    }
    report::Verdict* v = report_.mutable_verdict();
    v->set_would_run(errors == 0);
    v->set_exit_code(errors == 0 ? kExitWouldRun : kExitWouldFail);
    v->set_errors(errors);
    v->set_warnings(warnings);
    if (first != nullptr) {
      const std::string& message = first->message();
      v->set_summary(absl::StrCat(
          first->code() == "recipe.modifiers_not_read" ? "llm-compressor would skip modifiers: "
                                                        : "llm-compressor would raise: ",
          message.substr(0, 240),
          message.size() > 240 ? "..." : "",
          errors > 1 ? absl::StrCat(" (the first of ", errors, " errors; all are listed)")
                     : ""));
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

report::CheckReport UnusableInputReport(const absl::Status& error) {
  const std::string message(error.message());
  report::CheckReport report;
  StampVersions(&report);
  report::Verdict* verdict = report.mutable_verdict();
  verdict->set_would_run(false);
  verdict->set_exit_code(kExitUnusableInput);
  verdict->set_summary(message);
  verdict->set_errors(1);
  report::Diagnostic* diagnostic = report.add_diagnostics();
  diagnostic->set_severity("error");
  diagnostic->set_code("input");
  diagnostic->set_message(message);
  diagnostic->set_stops_run(true);
  return report;
}

}  // namespace mapping
}  // namespace wring
