// The vision tower of Qwen3.5 vision-language models (Qwen3_5VisionModel /
// Qwen3_5MoeVisionModel) from config.json's vision_config, as transformers
// 5.17 registers it. wring never quantizes it, but its Linear modules take
// part in matching (they appear in quantization_config's ignore list).
#ifndef WRING_MAPPING_ARCHS_INTERNAL_VISION_TOWER_H_
#define WRING_MAPPING_ARCHS_INTERNAL_VISION_TOWER_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "mapping/base/json.h"
#include "mapping/tree/module_tree.h"

namespace wring {
namespace mapping {
namespace archs_internal {

struct VisionModule {
  std::string name;
  std::string mro;  // comma-separated, "{P}" the family prefix
  std::vector<Parameter> params;  // names relative to the module
  bool linear = false;            // params[0] is the weight [out, in]
};

// Calls `add` for every module of the tower at `base`, in named_modules()
// order. `config` is the whole config.json; a missing vision_config gets the
// config class's defaults, a malformed field is named.
absl::Status WriteQwen3_5VisionTower(const Json& config, absl::string_view source, absl::string_view base,
                                     const std::function<void(VisionModule)>& add);

}  // namespace archs_internal
}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_ARCHS_INTERNAL_VISION_TOWER_H_
