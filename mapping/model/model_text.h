// Turns whatever a user pasted or uploaded into a ModelInput, deciding the
// format from the content alone. No file IO: this is the entry point the
// WebAssembly build uses (model_loader.h adds files and directories).
#ifndef WRING_MAPPING_MODEL_MODEL_TEXT_H_
#define WRING_MAPPING_MODEL_MODEL_TEXT_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "mapping/base/json.h"
#include "mapping/model/model_input.h"
#include "mapping/model/safetensors.h"

namespace wring {
namespace mapping {

// Detection, in order:
// - the bytes of a whole .safetensors file (8-byte length, then '{'):
//   tensors with shapes;
// - a JSON object with "modules": a module dump (fixture_format.h);
// - a JSON object with "weight_map": model.safetensors.index.json (names
//   only, no shapes);
// - another JSON object: an error that says what the object looks like
//   (config.json holds no module structure);
// - anything else: a module list (module_list.h).
// `config` is config.json's content, or an empty object; it names the
// architecture and is kept in the result (a module dump's own config wins).
// Fused experts are NOT linearized here: call LinearizeFusedExperts.
absl::StatusOr<ModelInput> ModelFromText(absl::string_view text, absl::string_view source,
                                         const Json& config = Json::object());

// A checkpoint given as the parsed headers of its shards (e.g. read by a
// browser from the first bytes of each file).
absl::StatusOr<ModelInput> ModelFromSafetensorsHeaders(absl::Span<const SafetensorsHeader> shards,
                                                       const Json& config,
                                                       absl::string_view source);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_MODEL_MODEL_TEXT_H_
