// Loads a model's structure from a path on disk (native builds only; the
// WebAssembly build uses model_text.h on content the page provides).
//
// `path` may be:
// - a directory: config.json (if present) plus model.safetensors.index.json
//   and the shard headers, or else every *.safetensors file in it;
// - a .safetensors file: only its header is read, never the tensor data;
//   config.json beside it is used when present;
// - model.safetensors.index.json (any *.json with "weight_map"): the shards
//   beside it are read for shapes when present, else names only;
// - a module dump .json (fixture format) or a module list (text);
// - a .xz file is refused with a hint to decompress it.
// `config_path`, when not empty, names config.json explicitly (it wins over
// one found beside the input). Fused experts are NOT linearized here.
#ifndef WRING_MAPPING_MODEL_MODEL_LOADER_H_
#define WRING_MAPPING_MODEL_MODEL_LOADER_H_

#include <string>

#include "absl/status/statusor.h"
#include "mapping/model/model_input.h"
#include "mapping/model/safetensors.h"

namespace wring {
namespace mapping {

absl::StatusOr<ModelInput> LoadModelFromPath(const std::string& path,
                                             const std::string& config_path = "");

// Reads and validates one .safetensors file's header (8 + N bytes only).
absl::StatusOr<SafetensorsHeader> ReadSafetensorsHeaderFile(const std::string& path);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_MODEL_MODEL_LOADER_H_
