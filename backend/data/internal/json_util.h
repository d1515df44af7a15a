// Non-throwing lookups on nlohmann::json for tokenizer.json.
//
// tokenizer.json holds objects with 100k+ keys (the vocabulary): parsing it
// into the mapping core's ordered_json (linear-time inserts) takes tens of
// seconds, so the tokenizer parses into the map-backed nlohmann::json.
#ifndef WRING_BACKEND_DATA_INTERNAL_JSON_UTIL_H_
#define WRING_BACKEND_DATA_INTERNAL_JSON_UTIL_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace wring {
namespace backend {
namespace data {
namespace internal {

using TokenizerJson = nlohmann::json;

// The member, or nullptr when absent (or `object` is not an object).
inline const TokenizerJson* JsonMember(const TokenizerJson& object, absl::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(std::string(key));
  return it == object.end() ? nullptr : &*it;
}

inline std::optional<std::string> JsonString(const TokenizerJson& object,
                                             absl::string_view key) {
  const TokenizerJson* value = JsonMember(object, key);
  if (value == nullptr || !value->is_string()) return std::nullopt;
  return value->get<std::string>();
}

inline std::optional<bool> JsonBool(const TokenizerJson& object, absl::string_view key) {
  const TokenizerJson* value = JsonMember(object, key);
  if (value == nullptr || !value->is_boolean()) return std::nullopt;
  return value->get<bool>();
}

inline std::optional<int64_t> JsonInt(const TokenizerJson& object, absl::string_view key) {
  const TokenizerJson* value = JsonMember(object, key);
  if (value == nullptr || !value->is_number_integer()) return std::nullopt;
  return value->get<int64_t>();
}

}  // namespace internal
}  // namespace data
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_DATA_INTERNAL_JSON_UTIL_H_
