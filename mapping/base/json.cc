#include "mapping/base/json.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace wring {
namespace mapping {
namespace {

// Records the first parse error instead of throwing it.
class ErrorCapturingSax : public nlohmann::json_sax<Json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t position, const std::string& last_token,
                   const nlohmann::detail::exception& ex) override {
    message = ex.what();
    offset = position;
    (void)last_token;
    return false;
  }
  std::string message;
  std::size_t offset = 0;
};

}  // namespace

absl::StatusOr<Json> ParseJson(absl::string_view text, absl::string_view source) {
  Json value = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (!value.is_discarded()) return value;
  ErrorCapturingSax sax;
  Json::sax_parse(text.begin(), text.end(), &sax);
  return absl::InvalidArgumentError(absl::StrCat(
      source, ": not valid JSON (byte ", sax.offset, "): ", sax.message,
      ". Fix the file or pass the right one."));
}

const Json* JsonMember(const Json& object, absl::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(std::string(key));
  if (it == object.end()) return nullptr;
  return &*it;
}

absl::optional<std::string> JsonString(const Json& object, absl::string_view key) {
  const Json* v = JsonMember(object, key);
  if (v == nullptr || !v->is_string()) return absl::nullopt;
  return v->get_ref<const std::string&>();
}

absl::optional<int64_t> JsonInt(const Json& object, absl::string_view key) {
  const Json* v = JsonMember(object, key);
  if (v == nullptr || !v->is_number_integer()) return absl::nullopt;
  return v->get<int64_t>();
}

absl::optional<bool> JsonBool(const Json& object, absl::string_view key) {
  const Json* v = JsonMember(object, key);
  if (v == nullptr || !v->is_boolean()) return absl::nullopt;
  return v->get<bool>();
}

const char* JsonTypeName(const Json& value) { return value.type_name(); }

}  // namespace mapping
}  // namespace wring
