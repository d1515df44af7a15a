// SmoothQuant's layer mappings (llm-compressor's LayerMap) and how
// SmoothQuantModifier infers them from a model when the recipe gives none
// (`get_layer_mappings_from_model`): a dynamic builder for the architecture
// first (Qwen3.5 hybrid attention, from config `layer_types`), then
// MAPPINGS_REGISTRY, then DEFAULT_SMOOTHQUANT_MAPPINGS with an info log.
//
// The registries are data generated from the pinned llm-compressor release
// (mapping/smoothquant/data/smoothquant_mappings.json,
// tools/reference/generate.py) and compiled in. Resolving the mappings
// against a model is not here.
#ifndef WRING_MAPPING_SMOOTHQUANT_SMOOTHQUANT_MAPPINGS_H_
#define WRING_MAPPING_SMOOTHQUANT_SMOOTHQUANT_MAPPINGS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "mapping/base/json.h"

namespace wring {
namespace mapping {
namespace smoothquant {

// One mapping: the layers whose input is the smoothed activation, and the
// layer whose output is divided by the smoothing scales. Every string is a
// target: "re:<regex>", a module name or a class name.
struct LayerMap {
  std::vector<std::string> balance_layers;
  std::string smooth_layers;

  bool operator==(const LayerMap& other) const {
    return balance_layers == other.balance_layers && smooth_layers == other.smooth_layers;
  }
};

// A named list of utils.py ("DEFAULT_SMOOTHQUANT_MAPPINGS", ...).
struct LayerMapList {
  std::string name;
  std::vector<LayerMap> mappings;
};

// The namedtuple repr upstream logs:
// LayerMap(balance_layers=['re:.*q_proj', ...], smooth_layers='re:.*input_layernorm')
std::string LayerMapRepr(const LayerMap& map);
std::string LayerMapListRepr(const std::vector<LayerMap>& maps);

// DEFAULT_SMOOTHQUANT_MAPPINGS.
const LayerMapList& DefaultSmoothQuantMappings();
// MAPPINGS_REGISTRY[architecture], or nullptr.
const LayerMapList* FindRegisteredSmoothQuantMappings(absl::string_view architecture);
// MAPPINGS_REGISTRY in upstream's order.
const std::vector<std::pair<std::string, const LayerMapList*>>& SmoothQuantRegistry();
// Every named list of utils.py, in definition order.
const std::vector<LayerMapList>& SmoothQuantMappingLists();

// SMOOTHQUANT_DYNAMIC_MAPPING_REGISTRY: (architecture, builder name) pairs.
const std::vector<std::pair<std::string, std::string>>& DynamicSmoothQuantRegistry();
absl::optional<std::string> DynamicSmoothQuantBuilderName(absl::string_view architecture);
// Whether wring implements a builder upstream's registry names.
bool IsImplementedSmoothQuantBuilder(absl::string_view builder);

enum class SmoothQuantMappingSource { kDynamic, kRegistry, kDefault };
// "dynamic", "registry", "default".
const char* SmoothQuantMappingSourceName(SmoothQuantMappingSource source);

struct ChosenSmoothQuantMappings {
  SmoothQuantMappingSource source = SmoothQuantMappingSource::kDefault;
  // The registry list's name, or the builder's.
  std::string list_name;
  std::vector<LayerMap> mappings;
  // What llm-compressor would log about the choice ("INFO ..." lines).
  std::vector<std::string> log;
  // Set when upstream raises instead ("ValueError: Qwen3.5 SmoothQuant
  // mappings require ..."); `mappings` is then empty.
  absl::optional<std::string> error;
};

// get_layer_mappings_from_model for a model of class `architecture` with
// config.json `config` (text_config is read first, as upstream does).
ChosenSmoothQuantMappings ChooseSmoothQuantMappings(const Json& config,
                                                   absl::string_view architecture);

}  // namespace smoothquant
}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_SMOOTHQUANT_SMOOTHQUANT_MAPPINGS_H_
