// Reads llm-compressor recipes (YAML or JSON text) into wring::recipe::Recipe.
//
// Accepts what llm-compressor's Recipe.from_dict accepts:
//
//   <name>_stage:                 # top-level keys ending in "_stage"
//     <group>_modifiers:          # keys ending in "_modifiers"
//       AWQModifier: {...}        # a modifier class name and its fields
//
// Modifiers are collected in file order across stages and groups. Every key
// is checked against the modifier's real (pydantic, extra="forbid") fields;
// AWQ, QuantizationModifier, GPTQ and SpinQuant are typed, the other modifier
// classes become OtherModifier. Values are kept as written; semantic
// validation (presets, strategies) happens later in mapping/quantization.
//
// Errors are InvalidArgument and read "<source>:<line>:<column>: <field>:
// <problem>; <fix>". Where llm-compressor raises for the same input, its
// message is reproduced. The YAML is parsed with bounded depth and alias
// expansion, so hostile input fails cleanly.
#ifndef WRING_MAPPING_RECIPE_RECIPE_PARSER_H_
#define WRING_MAPPING_RECIPE_RECIPE_PARSER_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mapping/proto/recipe.pb.h"

namespace wring {
namespace mapping {

// `source_name` (usually the file name) prefixes every error message and is
// stored in Recipe.source_name. An empty recipe (no modifiers) is an error.
absl::StatusOr<wring::recipe::Recipe> ParseRecipe(absl::string_view text,
                                                  absl::string_view source_name);

// llm-compressor's Recipe.validate_model_after: every AWQModifier needs a
// QuantizationMixin modifier (QuantizationModifier, GPTQModifier,
// AutoRoundModifier) somewhere after it. The message is upstream's.
absl::Status ValidateRecipeOrder(const wring::recipe::Recipe& recipe);

// The recipe wring runs when the user gives none: AWQ with mappings inferred
// from the model, then W4A16 (int4, symmetric, group 128) on every Linear
// except lm_head. The text parses with ParseRecipe.
const std::string& DefaultAwqW4A16Recipe();

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_RECIPE_RECIPE_PARSER_H_
