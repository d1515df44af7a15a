// JSON parsing for the mapping core without exceptions.
//
// The core also runs in WebAssembly with exceptions off, so nlohmann::json is
// only used through its non-throwing entry points: parse with
// allow_exceptions=false, and typed lookups that check the type first.
#ifndef WRING_MAPPING_BASE_JSON_H_
#define WRING_MAPPING_BASE_JSON_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "nlohmann/json.hpp"

namespace wring {
namespace mapping {

using Json = nlohmann::ordered_json;

// Parses `text`; on failure the message names `source` (a file name) and the
// byte offset / reason nlohmann reports.
absl::StatusOr<Json> ParseJson(absl::string_view text, absl::string_view source);

// Typed member lookups that never throw. Absent or wrongly typed -> nullopt.
absl::optional<std::string> JsonString(const Json& object, absl::string_view key);
absl::optional<int64_t> JsonInt(const Json& object, absl::string_view key);
absl::optional<bool> JsonBool(const Json& object, absl::string_view key);
// The member, or nullptr when absent (or `object` is not an object).
const Json* JsonMember(const Json& object, absl::string_view key);

// Human name of a JSON value's type, for messages ("string", "array", ...).
const char* JsonTypeName(const Json& value);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_BASE_JSON_H_
