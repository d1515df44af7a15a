// AWQ mappings (llm-compressor's AWQMapping) and the static architecture
// registry (AWQ_MAPPING_REGISTRY) with its named mapping lists.
//
// A mapping names a "smooth" layer whose output feeds the "balance" layers;
// AWQ divides the smooth layer's output by per-channel scales and multiplies
// the balance layers' input columns by them.
#ifndef WRING_MAPPING_AWQ_AWQ_MAPPING_H_
#define WRING_MAPPING_AWQ_AWQ_MAPPING_H_

#include <string>
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
  const char* name;
  std::vector<AwqMapping> mappings;
};

// default_mappings: the fallback for unregistered architectures.
const AwqMappingList& DefaultAwqMappings();

// AWQ_MAPPING_REGISTRY[architecture], or nullptr when not registered.
const AwqMappingList* FindRegisteredAwqMappings(absl::string_view architecture);

// Every (architecture, list) pair in the static registry, sorted by name.
std::vector<std::pair<std::string, const AwqMappingList*>> AwqRegistryEntries();

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_AWQ_AWQ_MAPPING_H_
