// Reading a whole file, with an error that names the file, what it was
// meant to be and why it could not be read. Every command-line input
// (recipe, config.json, tokenizer, dataset, module list) goes through here
// so that a wrong path reads the same everywhere.
#ifndef WRING_MAPPING_BASE_FILE_H_
#define WRING_MAPPING_BASE_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace wring {
namespace mapping {

// The contents of `path`. `what` names the file's role in messages
// ("recipe", "model config"): NotFound / PermissionDenied /
// InvalidArgument (a directory) read "<path>: cannot read the <what>: <reason>".
absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view what);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_BASE_FILE_H_
