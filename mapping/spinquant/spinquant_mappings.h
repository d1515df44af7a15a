// SpinQuant's layer mappings (llm-compressor's SpinQuantMapping and
// NormMapping) and the per-architecture registries they are chosen from.
//
// SpinQuantModifier always infers both from the model's class name
// (`model.__class__.__name__`): a registered architecture gets its entry,
// anything else the default mappings, after an info-level log line.
// User-supplied `mappings` / `norm_mappings` are overwritten by that
// inference, so these registries are the only mappings SpinQuant ever uses.
#ifndef WRING_MAPPING_SPINQUANT_SPINQUANT_MAPPINGS_H_
#define WRING_MAPPING_SPINQUANT_SPINQUANT_MAPPINGS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/optional.h"

namespace wring {
namespace mapping {
namespace spinquant {

// Every string is a target: "re:<regex>", a module name or a class name.
struct SpinQuantMapping {
  std::string embedding;
  std::string attn;
  std::string attn_q;
  std::string attn_k;
  std::string attn_v;
  std::string attn_o;
  // Declared upstream but never read by SpinQuantModifier, which takes the
  // head dim from the model config instead. None in every registry entry.
  absl::optional<int64_t> attn_head_dim;
  std::vector<std::string> mlp_in;
  std::vector<std::string> mlp_out;
  std::string lm_head;

  bool operator==(const SpinQuantMapping& other) const;
};

// A norm layer and the Linear layers its output feeds; SpinQuant folds the
// norm's weight into those layers before rotating them.
struct NormMapping {
  std::string norm;
  std::vector<std::string> linears;

  bool operator==(const NormMapping& other) const {
    return norm == other.norm && linears == other.linears;
  }
};

// One SpinQuantMapping field with its targets, in declaration order.
// Single-string fields have one target; mlp_in/mlp_out keep their list order.
struct SpinQuantMappingField {
  const char* name;  // "embedding", "attn", ..., "lm_head"
  std::vector<std::string> targets;
};

// The target-valued fields (all but attn_head_dim), in declaration order:
// embedding, attn, attn_q, attn_k, attn_v, attn_o, mlp_in, mlp_out, lm_head.
std::vector<SpinQuantMappingField> MappingFields(const SpinQuantMapping& mapping);

// The registries are data generated from the pinned llm-compressor release
// (mapping/spinquant/data/spinquant_mappings.json,
// tools/reference/generate.py) and compiled in.

// mappings.py / norm_mappings.py `_default_mappings`: what an unregistered
// architecture gets.
const SpinQuantMapping& DefaultSpinQuantMapping();
const std::vector<NormMapping>& DefaultNormMappings();

// SPINQUANT_MAPPING_REGISTRY / NORM_MAPPING_REGISTRY, in upstream's order.
const std::vector<std::pair<std::string, const SpinQuantMapping*>>& SpinQuantMappingRegistry();
const std::vector<std::pair<std::string, const std::vector<NormMapping>*>>& NormMappingRegistry();

// The info message both infer_* functions log for an unregistered class.
std::string UnrecognizedArchitectureMessage(absl::string_view architecture);

// infer_mapping_from_model / infer_norm_mapping_from_model for a model whose
// class is `architecture`. `fell_back` is set when the default was used, and
// `info_message` then holds the text upstream logs.
struct InferredSpinQuantMapping {
  const SpinQuantMapping* mapping;
  bool fell_back;
  absl::optional<std::string> info_message;
};
struct InferredNormMappings {
  const std::vector<NormMapping>* mappings;
  bool fell_back;
  absl::optional<std::string> info_message;
};
InferredSpinQuantMapping InferSpinQuantMapping(absl::string_view architecture);
InferredNormMappings InferNormMappings(absl::string_view architecture);

}  // namespace spinquant
}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_SPINQUANT_SPINQUANT_MAPPINGS_H_
