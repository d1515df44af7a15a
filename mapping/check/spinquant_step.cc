#include "mapping/check/spinquant_step.h"

#include "absl/strings/str_cat.h"
#include "mapping/base/status_macros.h"
#include "mapping/check/explain.h"
#include "mapping/spinquant/spinquant_resolution.h"
#include "mapping/spinquant/spinquant_transforms.h"

namespace wring {
namespace mapping {
namespace {

google::protobuf::Value NameList(const ModuleTree& tree, const std::vector<int>& modules) {
  google::protobuf::Value list;
  auto* values = list.mutable_list_value();
  for (int m : modules) values->add_values()->set_string_value(tree.module(m).name);
  return list;
}

}  // namespace

absl::Status RunSpinQuantStep(const ModuleTree& tree, const Json& config,
                              const recipe::SpinQuantModifier* modifier, int modifier_index,
                              report::SpinQuantReport* out, DiagnosticList* diagnostics) {
  WRING_ASSIGN_OR_RETURN(spinquant::SpinQuantResolution resolution,
                         spinquant::ResolveSpinQuant(tree));
  out->set_requested(modifier != nullptr);
  if (resolution.mapping.attn_head_dim.has_value()) {
    out->set_head_dim(static_cast<int32_t>(*resolution.mapping.attn_head_dim));
  }
  for (const std::string& line : resolution.info_messages) out->add_log(absl::StrCat("INFO ", line));
  for (const spinquant::FieldMatches& field : resolution.fields) {
    report::SpinQuantField& f = (*out->mutable_fields())[field.field];
    for (const std::string& t : field.targets) f.add_patterns(t);
    for (int m : field.modules) f.add_matches(tree.module(m).name);
  }
  for (const spinquant::NormGroups& norm : resolution.norms) {
    report::NormMapping* n = out->add_norms();
    n->set_norm(norm.mapping.norm);
    for (const std::string& l : norm.mapping.linears) n->add_linears(l);
    if (!norm.match_error.ok()) {
      n->set_error(std::string(norm.match_error.message()));
      continue;
    }
    for (const ModuleSet& set : norm.sets) {
      google::protobuf::Value* group = n->mutable_groups()->add_values();
      for (const std::vector<int>& members : set) {
        *group->mutable_list_value()->add_values() = NameList(tree, members);
      }
    }
  }
  if (modifier == nullptr) return absl::OkStatus();
  const Origin at_load{Phase::kRecipe, modifier_index};
  const Origin at_init{Phase::kInitialize, modifier_index};
  const Origin at_start{Phase::kCalibrationStart, modifier_index};

  spinquant::SpinQuantOptions options = spinquant::SpinQuantOptionsFromRecipe(*modifier);
  absl::Status valid = spinquant::ValidateSpinQuantOptions(options);
  if (!valid.ok()) {
    diagnostics->AddError(MakeDiagnostic("error", "spinquant.options", valid.message()), at_load);
    return absl::OkStatus();
  }
  absl::Status fuse = spinquant::FuseNormsError(tree, resolution);
  if (!fuse.ok()) {
    diagnostics->AddError(MakeDiagnostic(
        "error", "spinquant.norm_fusion", fuse.message(),
        "SpinQuant first folds each norm into the Linear layers it feeds, grouping them "
        "with match_modules_set; this model's modules do not form those groups (e.g. fused "
        "qkv_proj/gate_up_proj instead of separate q/k/v and gate/up projections).",
        "SpinQuant's mappings only fit models with separate projections; use a model "
        "family llm-compressor's SpinQuant supports, or drop SpinQuantModifier."),
        at_start, "dropping SpinQuantModifier");
  }
  auto transform = spinquant::BuildTransformConfig(resolution.mapping, options, config);
  if (!transform.ok()) {
    diagnostics->AddError(
        MakeDiagnostic("error", "spinquant.transform_config", transform.status().message()),
        at_init);
    return absl::OkStatus();
  }
  WRING_ASSIGN_OR_RETURN(spinquant::TransformPlan plan,
                         spinquant::PlanTransforms(tree, *transform));
  if (!plan.error.ok()) {
    diagnostics->AddError(MakeDiagnostic(
        "error", "spinquant.transform", plan.error.message(),
        "A rotation's size must be divisible by its head_dim (transform_block_size for "
        "R1/R4), and deterministic Hadamard matrices exist only for powers of two.",
        "Choose a transform_block_size that divides the hidden and intermediate sizes (a "
        "power of two such as 128 for `hadamard`), or use transform_type: random-hadamard."),
        at_start);
  }
  return absl::OkStatus();
}

}  // namespace mapping
}  // namespace wring
