// What one QuantizationMixin modifier (QuantizationModifier, GPTQModifier)
// asks for once llm-compressor has validated and resolved its fields: the
// ordered config groups, the ignore list and the KV-cache args
// (QuantizationMixin.resolve_quantization_config), with every validation
// error and message upstream raises on the way.
#ifndef WRING_MAPPING_QUANTIZATION_QUANTIZATION_CONFIG_H_
#define WRING_MAPPING_QUANTIZATION_QUANTIZATION_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "mapping/proto/recipe.pb.h"
#include "mapping/quantization/quantization_args.h"
#include "mapping/quantization/quantization_scheme.h"

namespace wring {
namespace mapping {

// compressed-tensors' KV_CACHE_TARGETS: added to a modifier's resolved
// targets when it has a kv_cache_scheme.
inline constexpr char kKvCacheTarget[] = "re:.*(self_attn|attention)$";

// The observers QuantizationMixin gives args that name none (static or
// `dynamic: local` ones; fully dynamic args get none).
inline constexpr char kDefaultWeightObserver[] = "memoryless_minmax";
inline constexpr char kDefaultActivationObserver[] = "minmax";

struct NamedQuantizationScheme {
  std::string name;  // "group_0", or the recipe's config_groups key
  QuantizationScheme scheme;
};

struct ResolvedQuantizationConfig {
  // In config_groups order (or group_0, group_1, ... for `scheme:`).
  std::vector<NamedQuantizationScheme> config_groups;
  std::vector<std::string> ignore;
  absl::optional<QuantizationArgs> kv_cache_scheme;
  // QuantizationMixin.has_config(): false when every field is at its
  // default. A GPTQModifier without config attaches nothing of its own.
  bool has_config = false;
  bool requires_calibration_data = false;
  bool bypass_divisibility_checks = false;
  // What upstream would log while validating (deprecations, dropped
  // observers, mismatched group sizes), in order.
  std::vector<std::string> warnings;

  // resolved_targets: every scheme's targets plus kKvCacheTarget when a
  // KV-cache scheme is set, each once, in first-seen order (upstream uses a
  // set; only its iteration order differs).
  std::vector<std::string> ResolvedTargets() const;
};

enum class QuantizationModifierKind { kQuantizationModifier, kGptqModifier };

// Validates a QuantizationMixin as pydantic would build the modifier (field
// validators, then resolve_quantization_config), then, for a
// QuantizationModifier, the on_initialize check "QuantizationModifier
// requires that quantization fields be specified". Errors are
// InvalidArgument with upstream's ValueError text (Unimplemented for
// NotImplementedError).
absl::StatusOr<ResolvedQuantizationConfig> ResolveQuantizationMixin(
    const wring::recipe::QuantizationMixin& mixin,
    QuantizationModifierKind kind = QuantizationModifierKind::kQuantizationModifier);

// GPTQModifier.resolve_quantization_config: the mixin resolution plus the
// modifier-level `actorder` (default "static") applied to every weight
// scheme, with its conflict error.
absl::StatusOr<ResolvedQuantizationConfig> ResolveGptqModifier(
    const wring::recipe::GptqModifier& gptq);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_QUANTIZATION_QUANTIZATION_CONFIG_H_
