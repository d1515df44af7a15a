// Which module ends up with which quantization scheme after a recipe's
// QuantizationMixin modifiers have been initialized: compressed-tensors'
// apply_quantization_config run once per modifier, in recipe order, on the
// module tree.
//
// Per modifier: the KV-cache scheme goes on every cached attention module;
// then each module matched by a config-group target (and no ignore entry)
// gets the scheme of its most specific target (exact name > regex > class
// name, alphabetical inside a tier; a target listed by two groups belongs to
// the later group), but only if it is a Linear or Embedding, or a cached
// attention module the scheme's targets match narrowly. A later modifier
// overwrites an earlier one's scheme on the same module. Unless bypassed,
// each modifier's group-size divisibility check runs right after it is
// applied, as llm-compressor's initialize_quantization does.
#ifndef WRING_MAPPING_QUANTIZATION_APPLY_H_
#define WRING_MAPPING_QUANTIZATION_APPLY_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mapping/quantization/quantization_config.h"
#include "mapping/quantization/quantization_scheme.h"
#include "mapping/tree/module_tree.h"

namespace wring {
namespace mapping {

enum class SchemeAttachment {
  kLinear,     // a Linear or Embedding matched by a config-group target
  kAttention,  // a cached attention module its scheme's targets match narrowly
  kKvCache,    // the modifier's kv_cache_scheme on a cached attention module
};

// One scheme some module received: a config group of one modifier, or that
// modifier's KV-cache scheme (targets = [kKvCacheTarget], input_activations
// = the kv_cache_scheme).
struct AppliedScheme {
  int config_index = -1;   // position in the list given to AssignSchemes
  std::string group_name;  // "" for the KV-cache scheme
  QuantizationScheme scheme;
};

struct ModuleSchemeAssignment {
  int module = -1;          // index in the ModuleTree
  int applied_scheme = -1;  // index in SchemeAssignments::schemes
  SchemeAttachment attachment = SchemeAttachment::kLinear;
  std::string decided_by;  // the winning target; "" for the KV cache
};

// A target no module matched: upstream logs `message` as a warning.
struct UnmatchedTarget {
  int config_index = -1;
  std::string target;
  std::string message;  // "Could not match `T` in instance of LlamaForCausalLM"
};

struct SchemeAssignments {
  std::vector<AppliedScheme> schemes;
  // Modules holding a quantization_scheme at the end, in named_modules() order.
  std::vector<ModuleSchemeAssignment> modules;
  std::vector<UnmatchedTarget> unmatched_targets;

  // The module's assignment, or nullptr when it has no scheme.
  const ModuleSchemeAssignment* Find(int module) const;
  const QuantizationScheme& scheme(const ModuleSchemeAssignment& assignment) const {
    return schemes[assignment.applied_scheme].scheme;
  }

  std::vector<int> index_by_module;  // module -> index in `modules`, or -1
};

struct AssignSchemesOptions {
  // Run llm-compressor's validate_group_size_divisibility after each
  // modifier (each config's own bypass_divisibility_checks still applies).
  bool check_group_size_divisibility = true;
};

// Applies `in_recipe_order` (one entry per QuantizationMixin modifier, in
// recipe order; entries with has_config == false are skipped, as
// GPTQModifier skips initialize_quantization). Fails on a target or ignore
// entry that cannot be compiled, and on the first divisibility error.
absl::StatusOr<SchemeAssignments> AssignSchemes(
    const ModuleTree& tree, const std::vector<ResolvedQuantizationConfig>& in_recipe_order,
    const AssignSchemesOptions& options = {});

// validate_group_size_divisibility(model, resolved_targets, ignore) for one
// modifier, given the schemes modules hold at that point: every module
// matched by `config`'s resolved targets and not ignored whose weight scheme
// is group / tensor_group with cols >= group_size and cols % group_size != 0
// is listed in upstream's multi-line ValueError. Columns come from
// Module::in_features, else the module's `weight` parameter shape; modules
// with neither are not checked. OK when config.bypass_divisibility_checks.
absl::Status ValidateGroupSizeDivisibility(const ModuleTree& tree,
                                           const SchemeAssignments& state,
                                           const ResolvedQuantizationConfig& config);

// A layer the divisibility check lists: its weight has `columns` input
// columns, which `group_size` does not divide.
struct IndivisibleLayer {
  int module = -1;
  int64_t columns = 0;
  int64_t group_size = 0;
};

// The layers ValidateGroupSizeDivisibility would list, ignoring
// bypass_divisibility_checks (so a report can say what the bypass hides).
absl::StatusOr<std::vector<IndivisibleLayer>> FindIndivisibleLayers(
    const ModuleTree& tree, const SchemeAssignments& state,
    const ResolvedQuantizationConfig& config);

// Upstream's ValueError text for `layers` (non-empty).
std::string GroupSizeDivisibilityMessage(const ModuleTree& tree,
                                         const std::vector<IndivisibleLayer>& layers);

// compressed-tensors' is_cached_attention_module, from the tree alone: the
// class name contains "attention" (any case) and the module has a child
// k_proj, v_proj, qkv_proj or kv_b_proj. (Upstream also requires a
// past_key_value(s) forward parameter, which every such HF module has.)
bool IsCachedAttentionModule(const ModuleTree& tree, int module);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_QUANTIZATION_APPLY_H_
