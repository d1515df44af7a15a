// Reads the module-dump format of tests/fixtures/mapping (and of the
// `dump_modules` snippet in the README): a JSON object with `modules`
// (named_modules() entries with class, MRO, Linear features), optional
// `params` ([name, shape] pairs), `config` and `architecture`.
#ifndef WRING_MAPPING_MODEL_FIXTURE_FORMAT_H_
#define WRING_MAPPING_MODEL_FIXTURE_FORMAT_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mapping/base/json.h"
#include "mapping/model/model_input.h"

namespace wring {
namespace mapping {

// True when `document` looks like a module dump (an object with `modules`).
bool IsModuleDump(const Json& document);

// Builds the model from a parsed module dump; `source` names the file in
// error messages.
absl::StatusOr<ModelInput> ModelFromModuleDump(const Json& document, absl::string_view source);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_MODEL_FIXTURE_FORMAT_H_
