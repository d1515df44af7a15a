// Typed config.json lookups whose errors name the file and the field, for
// the family config readers.
#ifndef WRING_BACKEND_MODEL_INTERNAL_CONFIG_FIELDS_H_
#define WRING_BACKEND_MODEL_INTERNAL_CONFIG_FIELDS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mapping/base/json.h"

namespace wring {
namespace backend {
namespace model {
namespace internal {

class FieldReader {
 public:
  // `scope` prefixes field names in messages ("text_config.", "rope_parameters.").
  FieldReader(const mapping::Json& object, std::string path, std::string scope)
      : object_(object), path_(std::move(path)), scope_(std::move(scope)) {}

  const mapping::Json& object() const { return object_; }
  const std::string& path() const { return path_; }
  const std::string& scope() const { return scope_; }

  // Present and not null.
  bool Has(absl::string_view key) const;
  // InvalidArgument: "<path>: field `<scope><key>` <problem>".
  absl::Status Error(absl::string_view key, absl::string_view problem) const;
  // Unimplemented, same wording: valid for transformers, not run by wring.
  absl::Status Unsupported(absl::string_view key, absl::string_view problem) const;

  // Without a fallback, an absent (or null) field is an error.
  absl::StatusOr<int64_t> Int(absl::string_view key, std::optional<int64_t> fallback) const;
  absl::StatusOr<int64_t> PositiveInt(absl::string_view key, std::optional<int64_t> fallback) const;
  absl::StatusOr<double> Number(absl::string_view key, std::optional<double> fallback) const;
  absl::StatusOr<std::optional<double>> OptionalNumber(absl::string_view key) const;
  absl::StatusOr<bool> Bool(absl::string_view key, bool fallback) const;
  absl::StatusOr<std::string> String(absl::string_view key, std::optional<std::string> fallback) const;
  // Absent or null: empty.
  absl::StatusOr<std::vector<std::string>> Strings(absl::string_view key) const;
  absl::StatusOr<std::vector<int64_t>> Ints(absl::string_view key) const;
  absl::StatusOr<std::vector<double>> Numbers(absl::string_view key) const;

 private:
  const mapping::Json& object_;
  std::string path_;
  std::string scope_;
};

}  // namespace internal
}  // namespace model
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_MODEL_INTERNAL_CONFIG_FIELDS_H_
