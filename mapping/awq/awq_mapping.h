// AWQ mappings (llm-compressor's AWQMapping) and the static architecture
// registry (AWQ_MAPPING_REGISTRY) with its named mapping lists.
//
// A mapping names a "smooth" layer whose output feeds the "balance" layers;
// AWQ divides the smooth layer's output by per-channel scales and multiplies
// the balance layers' input columns by them.
#ifndef WRING_MAPPING_AWQ_AWQ_MAPPING_H_
#define WRING_MAPPING_AWQ_AWQ_MAPPING_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/optional.h"

namespace wring {
namespace mapping {

struct AwqMapping {
  std::string smooth_layer;
  std::vector<std::string> balance_layers;
  // Dotted attribute path from the parent (LCA of the balance layers) to the
  // module whose input is the activation statistic (parallel blocks).
  absl::optional<std::string> activation_hook_target;

  bool operator==(const AwqMapping& other) const {
    return smooth_layer == other.smooth_layer && balance_layers == other.balance_layers &&
           activation_hook_target == other.activation_hook_target;
  }
};

// The dataclass repr llm-compressor prints in its messages:
// AWQMapping(smooth_layer='...', balance_layers=[...], activation_hook_target=None)
std::string AwqMappingRepr(const AwqMapping& mapping);
// Python repr of a list of mappings: [AWQMapping(...), ...].
std::string AwqMappingListRepr(const std::vector<AwqMapping>& mappings);

// A named list from llm-compressor's mappings.py ("default_mappings",
// "_moe_default_mappings", ...).
struct AwqMappingList {
  std::string name;
  std::vector<AwqMapping> mappings;
};

// The registries are data generated from the pinned llm-compressor release
// (mapping/awq/data/awq_mappings.json, tools/reference/generate.py) and
// compiled in.

// default_mappings: the fallback for unregistered architectures.
const AwqMappingList& DefaultAwqMappings();

// AWQ_MAPPING_REGISTRY[architecture], or nullptr when not registered.
const AwqMappingList* FindRegisteredAwqMappings(absl::string_view architecture);

// Every (architecture, list) pair in the static registry, sorted by name.
std::vector<std::pair<std::string, const AwqMappingList*>> AwqRegistryEntries();

// Every named list of mappings.py, in definition order.
const std::vector<AwqMappingList>& AwqMappingLists();

// AWQ_DYNAMIC_MAPPING_REGISTRY[architecture]: the name of the function that
// builds the architecture's mappings at run time ("build_step3p5_mappings"),
// or nullopt.
absl::optional<std::string> DynamicAwqBuilderName(absl::string_view architecture);

// Every (architecture, builder name) pair of the dynamic registry, in
// upstream's order.
const std::vector<std::pair<std::string, std::string>>& DynamicAwqRegistry();

// _STEP3P5_FFN_LAYER_PATTERN: finds the layer index and the FFN kind
// (mlp / moe / share_expert) in a module name (searched, as re.search does).
const std::string& Step3p5FfnLayerPattern();

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_AWQ_AWQ_MAPPING_H_
