// Choosing the AWQ mappings for a model the way llm-compressor's
// get_layer_mappings_from_model does: runtime builders first (hybrid
// attention models from config `layer_types`, Step3p5 from its module
// names), then the static registry, then the default mappings.
#ifndef WRING_MAPPING_AWQ_DYNAMIC_MAPPINGS_H_
#define WRING_MAPPING_AWQ_DYNAMIC_MAPPINGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "mapping/awq/awq_mapping.h"
#include "mapping/base/json.h"
#include "mapping/tree/module_tree.h"

namespace wring {
namespace mapping {

enum class AwqMappingSource { kDynamic, kRegistry, kDefault, kRecipe };
// "dynamic", "registry", "default", "recipe" (the fixtures' awq_source).
const char* AwqMappingSourceName(AwqMappingSource source);

struct ChosenAwqMappings {
  AwqMappingSource source;
  std::vector<AwqMapping> mappings;
  // The registry list's name ("default_mappings", ...) or the builder's.
  std::string list_name;
  // What llm-compressor would log about the choice (info/warning lines).
  std::vector<std::string> log;
};

// The architecture's mappings. Fails only where llm-compressor raises (e.g.
// `layer_types` shorter than num_hidden_layers).
absl::StatusOr<ChosenAwqMappings> ChooseAwqMappings(const ModuleTree& tree, const Json& config,
                                                     absl::string_view architecture);

// Hybrid attention facts (`layer_types` / `num_hidden_layers`, read from
// `text_config` first, then the top level). Present only when both
// "full_attention" and "linear_attention" occur.
struct HybridAttentionConfig {
  std::vector<std::string> layer_types;
  int64_t num_hidden_layers = 0;
};
absl::optional<HybridAttentionConfig> GetHybridAttentionConfig(const Json& config);

// The `layer_types` list the config declares (text_config first), if any.
absl::optional<std::vector<std::string>> GetConfigLayerTypes(const Json& config);

// llm-compressor's is_moe_model: a module class named like "MoE"/"Expert",
// or a top-level config key containing "moe"/"expert".
bool IsMoeModel(const ModuleTree& tree, const Json& config);

// build_hybrid_attention_mappings; nullopt where upstream returns None.
absl::StatusOr<absl::optional<std::vector<AwqMapping>>> BuildHybridAttentionMappings(
    const ModuleTree& tree, const Json& config, std::vector<std::string>* log);
// build_step3p5_mappings; nullopt where upstream returns None.
absl::optional<std::vector<AwqMapping>> BuildStep3p5Mappings(const ModuleTree& tree,
                                                             std::vector<std::string>* log);

// The builders of AWQ_DYNAMIC_MAPPING_REGISTRY, by their upstream names.
inline constexpr char kHybridAttentionBuilder[] = "build_hybrid_attention_mappings";
inline constexpr char kStep3p5Builder[] = "build_step3p5_mappings";

// Architectures with a runtime builder (AWQ_DYNAMIC_MAPPING_REGISTRY).
bool HasDynamicAwqBuilder(absl::string_view architecture);
// Whether wring implements the builder upstream's registry names.
bool IsImplementedDynamicAwqBuilder(absl::string_view builder);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_AWQ_DYNAMIC_MAPPINGS_H_
