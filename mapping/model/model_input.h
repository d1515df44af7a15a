// What every model source (fixture dump, module list, safetensors headers,
// config.json alone) produces: the module tree plus the config facts the
// mapping code needs, and a record of what had to be inferred.
#ifndef WRING_MAPPING_MODEL_MODEL_INPUT_H_
#define WRING_MAPPING_MODEL_MODEL_INPUT_H_

#include <string>
#include <vector>

#include "mapping/base/json.h"
#include "mapping/tree/module_tree.h"

namespace wring {
namespace mapping {

struct ModelInput {
  ModuleTree tree;
  // config.json contents; an empty object when none was given.
  Json config = Json::object();
  // config.architectures[0], else the root module's class.
  std::string architecture;
  // "fixture", "module-list", "safetensors", "safetensors-index", "config".
  std::string source_kind;
  // Human-readable notes on what was inferred (class names, order, shapes,
  // MoE linearization), shown in the report.
  std::vector<std::string> notes;
  // Number of fused-expert modules expanded into per-expert Linear layers.
  int linearized_experts = 0;
};

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_MODEL_MODEL_INPUT_H_
