// Resolves `wring check`'s --model / --config arguments to a ModelInput:
// a checkpoint directory, safetensors file(s) or index, a module dump or
// list, or config.json alone for an architecture wring can build.
#ifndef WRING_CLI_MODEL_SOURCE_H_
#define WRING_CLI_MODEL_SOURCE_H_

#include <string>

#include "absl/status/statusor.h"
#include "mapping/model/model_input.h"

namespace wring {
namespace cli {

// `model_path` may be empty when `config_path` names a config.json of a known
// architecture; `architecture` overrides config.architectures[0].
absl::StatusOr<mapping::ModelInput> LoadModelArgument(const std::string& model_path,
                                                      const std::string& config_path,
                                                      const std::string& architecture);

}  // namespace cli
}  // namespace wring

#endif  // WRING_CLI_MODEL_SOURCE_H_
