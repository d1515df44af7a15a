// Builds a model's module tree from config.json alone, for the architectures
// wring knows: exactly what transformers 5.17's `model.named_modules()` would
// list (names, order, classes, MROs, Linear features) and the parameters a
// checkpoint would hold (names, shapes; fused MoE experts as their 3-D
// parameters). This lets a user with only config.json check a recipe.
//
//   WRING_ASSIGN_OR_RETURN(Json config, ParseJson(text, "config.json"));
//   WRING_ASSIGN_OR_RETURN(ModelInput model, ModelFromConfig(config, "config.json"));
#ifndef WRING_MAPPING_ARCHS_ARCHITECTURES_H_
#define WRING_MAPPING_ARCHS_ARCHITECTURES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mapping/base/json.h"
#include "mapping/model/model_input.h"

namespace wring {
namespace mapping {

// The model from `config` (a parsed config.json; `source` names it in
// messages). The architecture is `architecture` when non-empty, else
// config.architectures[0] (configs saved from a bare config class have
// `"architectures": null`). Fields a transformers config class defaults
// (head_dim, num_key_value_heads, tie_word_embeddings, biases, ...) get that
// default, listed in ModelInput::notes; required sizes that are missing or
// malformed give InvalidArgument naming the field. An unknown architecture
// gives InvalidArgument listing the known ones.
absl::StatusOr<ModelInput> ModelFromConfig(const Json& config, absl::string_view source,
                                           absl::string_view architecture = {});

// True for what looks like a config.json on its own: an object naming a
// model type or architecture, with neither `modules` (a module dump) nor
// `weight_map` (a safetensors index). Such a document given as "the model"
// means "build the structure from this config".
bool IsModelConfig(const Json& document);

bool IsKnownArchitecture(absl::string_view architecture);
// In a stable order.
std::vector<std::string> KnownArchitectures();

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_ARCHS_ARCHITECTURES_H_
