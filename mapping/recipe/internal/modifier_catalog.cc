#include "mapping/recipe/internal/modifier_catalog.h"

namespace wring {
namespace mapping {
namespace recipe_internal {
namespace {

using Names = std::vector<std::string>;

Names Concat(std::initializer_list<const Names*> parts) {
  Names out;
  for (const Names* part : parts) out.insert(out.end(), part->begin(), part->end());
  return out;
}

std::vector<ModifierSpec>* BuildCatalog() {
  const Names& base = ModifierBaseFields();
  const Names& mixin = QuantizationMixinFields();
  // SparsityModifierBase (SparseGPT, Wanda).
  const Names sparsity = {"sparsity",  "sparsity_profile",  "mask_structure",
                          "owl_m",     "owl_lmbda",         "sequential_update",
                          "targets",   "ignore"};
  const Names smoothquant = {"smoothing_strength",   "mappings", "ignore",
                             "num_calibration_steps", "calibration_function",
                             "algorithm"};
  const Names awq = {"mappings", "offload_device", "duo_scaling", "n_grid"};
  // llm-compressor 0.14 (pydantic model_fields, extra="forbid").
  const Names gptq = {"block_size", "dampening_frac", "actorder", "batched_quantization"};
  const Names spinquant = {"rotations", "transform_type",       "randomize",
                           "learnable", "precision",            "transform_block_size",
                           "mappings",  "norm_mappings",        "transform_config"};
  const Names quip = {"rotations", "transform_type", "targets",
                      "randomize", "learnable",      "precision",
                      "transform_block_size",        "ignore",
                      "transform_config"};
  const Names sparsegpt = {"block_size", "dampening_frac", "preserve_sparsity_mask",
                           "offload_hessians"};
  const Names magnitude = {"targets",         "init_sparsity",  "final_sparsity",
                           "update_scheduler", "scheduler_args", "mask_structure",
                           "leave_enabled",   "apply_globally"};
  const Names autoround = {"iters",   "enable_torch_compile", "batch_size",
                           "lr",      "device_ids",           "disable_opt_rtn"};
  const Names constant = {"targets"};
  const Names reap = {"sparsity", "ignore", "report_path"};

  auto* catalog = new std::vector<ModifierSpec>{
      {"AWQModifier", Concat({&awq, &base}), {}, false},
      {"QuantizationModifier", Concat({&mixin, &base}), {}, true},
      {"GPTQModifier", Concat({&mixin, &gptq, &base}), {}, true},
      {"SpinQuantModifier", Concat({&spinquant, &base}), {}, false},
      {"AutoRoundModifier", Concat({&mixin, &autoround, &base}), {}, true},
      {"SmoothQuantModifier", Concat({&smoothquant, &base}), {}, false},
      {"LogarithmicEqualizationModifier", Concat({&smoothquant, &base}), {}, false},
      {"QuIPModifier", Concat({&quip, &base}), {}, false},
      {"SparseGPTModifier", Concat({&sparsity, &sparsegpt, &base}), {"sparsity"}, false},
      {"WandaPruningModifier", Concat({&sparsity, &base}), {"sparsity"}, false},
      {"MagnitudePruningModifier",
       Concat({&magnitude, &base}),
       {"targets", "init_sparsity", "final_sparsity"},
       false},
      {"ConstantPruningModifier", Concat({&constant, &base}), {"targets"}, false},
      {"REAPPruningModifier", Concat({&reap, &base}), {"sparsity"}, false},
  };
  return catalog;
}

}  // namespace

const std::vector<std::string>& ModifierBaseFields() {
  static const Names* names = new Names{"index", "start", "end", "update"};
  return *names;
}

const std::vector<std::string>& QuantizationMixinFields() {
  static const Names* names = new Names{
      "config_groups",   "targets",         "ignore",         "scheme",
      "kv_cache_scheme", "weight_observer", "input_observer", "output_observer",
      "observer",        "bypass_divisibility_checks"};
  return *names;
}

const std::vector<std::string>& QuantizationArgsFields() {
  static const Names* names = new Names{
      "num_bits", "type",    "symmetric",   "group_size", "strategy",  "block_structure",
      "dynamic",  "actorder", "scale_dtype", "zp_dtype",   "observer", "observer_kwargs"};
  return *names;
}

const std::vector<std::string>& QuantizationSchemeFields() {
  static const Names* names = new Names{"targets", "weights", "input_activations",
                                        "output_activations", "format"};
  return *names;
}

const std::vector<ModifierSpec>& KnownModifiers() {
  static const std::vector<ModifierSpec>* catalog = BuildCatalog();
  return *catalog;
}

const ModifierSpec* FindModifier(absl::string_view name) {
  for (const ModifierSpec& spec : KnownModifiers()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

const std::vector<std::string>& KnownModifierNames() {
  static const Names* names = [] {
    auto* out = new Names;
    for (const ModifierSpec& spec : KnownModifiers()) out->push_back(spec.name);
    return out;
  }();
  return *names;
}

}  // namespace recipe_internal
}  // namespace mapping
}  // namespace wring
