// SmoothQuant mappings (llm-compressor's LayerMap) and how a model gets
// them when the recipe names none: the dynamic builders
// (SMOOTHQUANT_DYNAMIC_MAPPING_REGISTRY, Qwen3.5 hybrid attention), then the
// static MAPPINGS_REGISTRY by architecture class name, then
// DEFAULT_SMOOTHQUANT_MAPPINGS (modifiers/transform/smoothquant/utils.py and
// dynamic_mappings.py, llm-compressor 0.14.0.1).
//
// A mapping names the balance layers that read one smooth layer's output;
// SmoothQuant divides that output by per-channel scales and multiplies the
// balance layers' input columns by them.
#ifndef WRING_MAPPING_SMOOTHQUANT_SMOOTHQUANT_MAPPINGS_H_
#define WRING_MAPPING_SMOOTHQUANT_SMOOTHQUANT_MAPPINGS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mapping/base/json.h"

namespace wring {
namespace mapping {

struct SmoothQuantMapping {
  std::vector<std::string> balance_layers;
  std::string smooth_layer;

  bool operator==(const SmoothQuantMapping& other) const {
    return balance_layers == other.balance_layers && smooth_layer == other.smooth_layer;
  }
};

// How llm-compressor prints a mapping in its messages: a registry mapping
// is a LayerMap namedtuple, LayerMap(balance_layers=[...], smooth_layers='...');
// a recipe's is the list it was given, [[...], '...'].
std::string SmoothQuantMappingRepr(const SmoothQuantMapping& mapping, bool from_recipe);

enum class SmoothQuantMappingSource { kDynamic, kRegistry, kDefault, kRecipe };
// "dynamic", "registry", "default", "recipe".
const char* SmoothQuantMappingSourceName(SmoothQuantMappingSource source);

struct ChosenSmoothQuantMappings {
  SmoothQuantMappingSource source = SmoothQuantMappingSource::kDefault;
  std::vector<SmoothQuantMapping> mappings;
  // The registry list's name (DEFAULT_SMOOTHQUANT_MAPPINGS, ...) or the
  // builder's.
  std::string list_name;
  // What llm-compressor logs about the choice.
  std::vector<std::string> log;
};

// get_layer_mappings_from_model for `architecture` (the model's class name).
// Fails where the Qwen3.5 builders raise ValueError (the message is
// upstream's, prefixed "ValueError: ").
absl::StatusOr<ChosenSmoothQuantMappings> ChooseSmoothQuantMappings(const Json& config,
                                                                    absl::string_view architecture);

// DEFAULT_SMOOTHQUANT_MAPPINGS.
const std::vector<SmoothQuantMapping>& DefaultSmoothQuantMappings();

// Every (architecture, list name) pair of MAPPINGS_REGISTRY and the dynamic
// registry, sorted by architecture.
std::vector<std::pair<std::string, std::string>> SmoothQuantRegistryEntries();

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_SMOOTHQUANT_SMOOTHQUANT_MAPPINGS_H_
