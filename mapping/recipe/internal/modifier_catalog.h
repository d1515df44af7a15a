// The modifier classes llm-compressor's ModifierFactory can build from a
// recipe, with the pydantic fields each accepts (all are extra="forbid").
//
// Read from llm-compressor at ab1ba3ef (2026-08): every `*Modifier` class
// under llmcompressor.modifiers, minus the deprecated shims the factory skips
// (llmcompressor.modifiers.awq's AWQModifier *function* among them).
#ifndef WRING_MAPPING_RECIPE_INTERNAL_MODIFIER_CATALOG_H_
#define WRING_MAPPING_RECIPE_INTERNAL_MODIFIER_CATALOG_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace wring {
namespace mapping {
namespace recipe_internal {

struct ModifierSpec {
  std::string name;
  // Every accepted key, the Modifier base fields included.
  std::vector<std::string> fields;
  // Fields without a default (pydantic "Field required").
  std::vector<std::string> required;
  // Subclasses QuantizationMixin: counts as "subsequent quantization" for AWQ.
  bool quantization_mixin = false;
};

const std::vector<ModifierSpec>& KnownModifiers();
const ModifierSpec* FindModifier(absl::string_view name);
const std::vector<std::string>& KnownModifierNames();

// Modifier base class fields a recipe may set. `group` is a base field too,
// but a recipe cannot set it (from_dict passes it twice), so it is left out.
const std::vector<std::string>& ModifierBaseFields();
// QuantizationMixin's fields (QuantizationModifier, GPTQModifier, AutoRound).
const std::vector<std::string>& QuantizationMixinFields();
// compressed-tensors QuantizationArgs / QuantizationScheme fields.
const std::vector<std::string>& QuantizationArgsFields();
const std::vector<std::string>& QuantizationSchemeFields();

}  // namespace recipe_internal
}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_RECIPE_INTERNAL_MODIFIER_CATALOG_H_
