// Reading one modifier's fields (`AWQModifier: {...}`) into the typed proto.
#ifndef WRING_MAPPING_RECIPE_INTERNAL_MODIFIER_PARSERS_H_
#define WRING_MAPPING_RECIPE_INTERNAL_MODIFIER_PARSERS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "mapping/proto/recipe.pb.h"
#include "mapping/recipe/internal/modifier_catalog.h"
#include "mapping/recipe/internal/value_reader.h"

namespace wring {
namespace mapping {
namespace recipe_internal {

// Fills the `kind` of `modifier` from the mapping `body_id`, checking every
// key against `spec`'s fields. `path` names the modifier in messages
// ("quant_stage.quant_modifiers.AWQModifier").
absl::Status ParseModifierBody(const ValueReader& reader, const ModifierSpec& spec,
                               int body_id, absl::string_view path,
                               wring::recipe::Modifier* modifier);

}  // namespace recipe_internal
}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_RECIPE_INTERNAL_MODIFIER_PARSERS_H_
