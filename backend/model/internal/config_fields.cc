#include "backend/model/internal/config_fields.h"

#include "absl/strings/str_cat.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace model {
namespace internal {

using mapping::Json;

bool FieldReader::Has(absl::string_view key) const {
  const Json* value = mapping::JsonMember(object_, key);
  return value != nullptr && !value->is_null();
}

absl::Status FieldReader::Error(absl::string_view key, absl::string_view problem) const {
  return absl::InvalidArgumentError(absl::StrCat(path_, ": field `", scope_, key, "` ", problem));
}

absl::Status FieldReader::Unsupported(absl::string_view key, absl::string_view problem) const {
  return absl::UnimplementedError(absl::StrCat(path_, ": field `", scope_, key, "` ", problem));
}

absl::StatusOr<int64_t> FieldReader::Int(absl::string_view key, std::optional<int64_t> fallback) const {
  const Json* value = mapping::JsonMember(object_, key);
  if (value == nullptr || value->is_null()) {
    if (fallback.has_value()) return *fallback;
    return Error(key, "is required");
  }
  if (!value->is_number_integer()) {
    return Error(key, absl::StrCat("must be an integer, got ", mapping::JsonTypeName(*value)));
  }
  return value->get<int64_t>();
}

absl::StatusOr<int64_t> FieldReader::PositiveInt(absl::string_view key, std::optional<int64_t> fallback) const {
  WRING_ASSIGN_OR_RETURN(int64_t value, Int(key, fallback));
  if (value <= 0) return Error(key, absl::StrCat("must be positive, got ", value));
  return value;
}

absl::StatusOr<double> FieldReader::Number(absl::string_view key, std::optional<double> fallback) const {
  const Json* value = mapping::JsonMember(object_, key);
  if (value == nullptr || value->is_null()) {
    if (fallback.has_value()) return *fallback;
    return Error(key, "is required");
  }
  if (!value->is_number()) return Error(key, absl::StrCat("must be a number, got ", mapping::JsonTypeName(*value)));
  return value->get<double>();
}

absl::StatusOr<std::optional<double>> FieldReader::OptionalNumber(absl::string_view key) const {
  if (!Has(key)) return std::optional<double>();
  WRING_ASSIGN_OR_RETURN(double value, Number(key, std::nullopt));
  return std::optional<double>(value);
}

absl::StatusOr<bool> FieldReader::Bool(absl::string_view key, bool fallback) const {
  const Json* value = mapping::JsonMember(object_, key);
  if (value == nullptr || value->is_null()) return fallback;
  if (!value->is_boolean()) return Error(key, absl::StrCat("must be true or false, got ", mapping::JsonTypeName(*value)));
  return value->get<bool>();
}

absl::StatusOr<std::string> FieldReader::String(absl::string_view key, std::optional<std::string> fallback) const {
  const Json* value = mapping::JsonMember(object_, key);
  if (value == nullptr || value->is_null()) {
    if (fallback.has_value()) return *fallback;
    return Error(key, "is required");
  }
  if (!value->is_string()) return Error(key, absl::StrCat("must be a string, got ", mapping::JsonTypeName(*value)));
  return value->get<std::string>();
}

absl::StatusOr<std::vector<std::string>> FieldReader::Strings(absl::string_view key) const {
  std::vector<std::string> strings;
  const Json* value = mapping::JsonMember(object_, key);
  if (value == nullptr || value->is_null()) return strings;
  if (!value->is_array()) return Error(key, "must be a list of strings");
  for (const Json& item : *value) {
    if (!item.is_string()) return Error(key, "must be a list of strings");
    strings.push_back(item.get<std::string>());
  }
  return strings;
}

absl::StatusOr<std::vector<int64_t>> FieldReader::Ints(absl::string_view key) const {
  std::vector<int64_t> ints;
  const Json* value = mapping::JsonMember(object_, key);
  if (value == nullptr || value->is_null()) return ints;
  if (!value->is_array()) return Error(key, "must be a list of integers");
  for (const Json& item : *value) {
    if (!item.is_number_integer()) return Error(key, "must be a list of integers");
    ints.push_back(item.get<int64_t>());
  }
  return ints;
}

absl::StatusOr<std::vector<double>> FieldReader::Numbers(absl::string_view key) const {
  std::vector<double> numbers;
  const Json* value = mapping::JsonMember(object_, key);
  if (value == nullptr || value->is_null()) return numbers;
  if (!value->is_array()) return Error(key, "must be a list of numbers");
  for (const Json& item : *value) {
    if (!item.is_number()) return Error(key, "must be a list of numbers");
    numbers.push_back(item.get<double>());
  }
  return numbers;
}

}  // namespace internal
}  // namespace model
}  // namespace backend
}  // namespace wring
