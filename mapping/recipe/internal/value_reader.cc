#include "mapping/recipe/internal/value_reader.h"

#include <cmath>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/types/optional.h"
#include "mapping/base/python_repr.h"
#include "mapping/match/matchers.h"
#include "mapping/recipe/suggestion.h"

namespace wring {
namespace mapping {
namespace recipe_internal {
namespace {

// A double-quoted YAML scalar; YAML's double-quoted escapes include JSON's.
std::string DoubleQuoted(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          absl::StrAppendFormat(&out, "\\x%02x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += "\"";
  return out;
}

}  // namespace

std::string JoinPath(absl::string_view path, absl::string_view key) {
  if (path.empty()) return std::string(key);
  return absl::StrCat(path, ".", key);
}

absl::Status ValueReader::Error(int id, absl::string_view path,
                                absl::string_view message) const {
  const YamlNode& n = node(id);
  return absl::InvalidArgumentError(
      absl::StrCat(source_, ":", n.line, ":", n.column, ": ",
                   path.empty() ? "" : absl::StrCat(path, ": "), message));
}

wring::recipe::SourceLocation ValueReader::Location(int id) const {
  wring::recipe::SourceLocation location;
  location.set_line(node(id).line);
  location.set_column(node(id).column);
  return location;
}

std::string ValueReader::Describe(int id) const {
  const YamlNode& n = node(id);
  switch (n.kind) {
    case YamlKind::kSequence:
      return "a list";
    case YamlKind::kMapping:
      return "a mapping";
    case YamlKind::kScalar:
      break;
  }
  switch (n.type) {
    case ScalarType::kNull:
      return "null";
    case ScalarType::kBool:
      return absl::StrCat("a boolean (", n.text, ")");
    case ScalarType::kInt:
      return absl::StrCat("an integer (", n.text, ")");
    case ScalarType::kFloat:
      return absl::StrCat("a number (", n.text, ")");
    case ScalarType::kString:
      return absl::StrCat("a string (", PythonStrRepr(n.text), ")");
  }
  return "a value";
}

absl::StatusOr<std::string> ValueReader::String(int id, absl::string_view path) const {
  const YamlNode& n = node(id);
  if (n.is_string()) return n.text;
  std::string fix = "";
  if (n.kind == YamlKind::kScalar && !n.is_null()) {
    fix = absl::StrCat("; if you meant the text, quote it: \"", n.text, "\"");
  }
  return Error(id, path, absl::StrCat("expected a string, got ", Describe(id), fix));
}

absl::StatusOr<int32_t> ValueReader::Int32(int id, absl::string_view path) const {
  const YamlNode& n = node(id);
  absl::optional<int64_t> value;
  if (n.kind == YamlKind::kScalar) {
    if (n.type == ScalarType::kInt && n.int_in_range) {
      value = n.int_value;
    } else if (n.type == ScalarType::kFloat && std::isfinite(n.float_value) &&
               n.float_value == std::trunc(n.float_value) &&
               std::abs(n.float_value) < 1e18) {
      value = static_cast<int64_t>(n.float_value);
    } else if (n.type == ScalarType::kString) {
      int64_t parsed = 0;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(n.text), &parsed)) value = parsed;
    }
  }
  if (!value.has_value()) {
    return Error(id, path, absl::StrCat("expected an integer, got ", Describe(id)));
  }
  if (*value < std::numeric_limits<int32_t>::min() ||
      *value > std::numeric_limits<int32_t>::max()) {
    return Error(id, path,
                 absl::StrCat("integer ", n.text, " is out of range; use a value "
                              "between -2147483648 and 2147483647"));
  }
  return static_cast<int32_t>(*value);
}

absl::StatusOr<double> ValueReader::Float(int id, absl::string_view path) const {
  const YamlNode& n = node(id);
  if (n.kind == YamlKind::kScalar) {
    if (n.type == ScalarType::kFloat) return n.float_value;
    if (n.type == ScalarType::kInt) {
      if (n.int_in_range) return static_cast<double>(n.int_value);
      double v = 0;
      if (absl::SimpleAtod(n.text, &v)) return v;
    }
    if (n.type == ScalarType::kString) {
      // pydantic parses numeric strings such as "1e-3" for float fields.
      double v = 0;
      if (absl::SimpleAtod(absl::StripAsciiWhitespace(n.text), &v)) return v;
    }
  }
  return Error(id, path, absl::StrCat("expected a number, got ", Describe(id)));
}

absl::StatusOr<bool> ValueReader::Bool(int id, absl::string_view path) const {
  const YamlNode& n = node(id);
  if (n.kind == YamlKind::kScalar) {
    switch (n.type) {
      case ScalarType::kBool:
        return n.bool_value;
      case ScalarType::kInt:
        if (n.int_in_range && (n.int_value == 0 || n.int_value == 1)) {
          return n.int_value == 1;
        }
        break;
      case ScalarType::kFloat:
        if (n.float_value == 0.0 || n.float_value == 1.0) return n.float_value == 1.0;
        break;
      case ScalarType::kString: {
        // pydantic's accepted spellings for bool fields.
        const std::string lower = absl::AsciiStrToLower(n.text);
        for (const char* yes : {"1", "on", "t", "true", "y", "yes"}) {
          if (lower == yes) return true;
        }
        for (const char* no : {"0", "off", "f", "false", "n", "no"}) {
          if (lower == no) return false;
        }
        break;
      }
      case ScalarType::kNull:
        break;
    }
  }
  return Error(id, path,
               absl::StrCat("expected true or false, got ", Describe(id)));
}

absl::StatusOr<std::vector<std::string>> ValueReader::StringList(
    int id, absl::string_view path, bool allow_single_string) const {
  const YamlNode& n = node(id);
  if (allow_single_string && n.is_string()) return std::vector<std::string>{n.text};
  if (n.kind != YamlKind::kSequence) {
    std::string fix = n.is_string()
                          ? absl::StrCat("; write a list: [", DoubleQuoted(n.text), "]")
                          : "; write a list such as [\"Linear\"]";
    return Error(id, path,
                 absl::StrCat("expected a list of strings, got ", Describe(id), fix));
  }
  std::vector<std::string> out;
  out.reserve(n.items.size());
  for (size_t i = 0; i < n.items.size(); ++i) {
    absl::StatusOr<std::string> item =
        String(n.items[i], absl::StrCat(path, "[", i, "]"));
    if (!item.ok()) return item.status();
    out.push_back(*std::move(item));
  }
  return out;
}

absl::Status ValueReader::ExpectMapping(int id, absl::string_view path,
                                        absl::string_view example) const {
  if (node(id).kind == YamlKind::kMapping) return absl::OkStatus();
  return Error(id, path,
               absl::StrCat("expected a mapping, got ", Describe(id), "; write it as ",
                            example));
}

absl::Status ValueReader::CheckKeys(int id, absl::string_view path,
                                    absl::string_view owner,
                                    absl::Span<const std::string> allowed) const {
  for (const auto& [key_id, value_id] : node(id).entries) {
    const std::string& key = node(key_id).text;
    bool known = false;
    for (const std::string& name : allowed) known = known || name == key;
    if (known) continue;
    std::string suggestion = DidYouMean(key, allowed);
    return Error(key_id, JoinPath(path, key),
                 absl::StrCat("unknown key '", key, "' for ", owner,
                              " (llm-compressor rejects it: Extra inputs are not "
                              "permitted); ",
                              suggestion.empty() ? "" : absl::StrCat(suggestion, " "),
                              "valid keys: ", absl::StrJoin(allowed, ", ")));
  }
  return absl::OkStatus();
}

std::string ValueReader::Render(int id, const ScalarSpelling& spell) const {
  const YamlNode& n = node(id);
  switch (n.kind) {
    case YamlKind::kSequence: {
      std::vector<std::string> items;
      for (int item : n.items) items.push_back(Render(item, spell));
      return absl::StrCat("[", absl::StrJoin(items, ", "), "]");
    }
    case YamlKind::kMapping: {
      std::vector<std::string> entries;
      for (const auto& [key, value] : n.entries) {
        entries.push_back(absl::StrCat(Render(key, spell), ": ", Render(value, spell)));
      }
      return absl::StrCat("{", absl::StrJoin(entries, ", "), "}");
    }
    case YamlKind::kScalar:
      break;
  }
  return spell(n);
}

std::string ValueReader::RenderFlow(int id) const {
  return Render(id, [](const YamlNode& n) -> std::string {
    switch (n.type) {
      case ScalarType::kBool:
        return n.bool_value ? "true" : "false";
      case ScalarType::kInt:
      case ScalarType::kFloat:
        return n.text;
      case ScalarType::kString:
        return DoubleQuoted(n.text);
      case ScalarType::kNull:
        break;
    }
    return "null";
  });
}

std::string ValueReader::PythonRepr(int id) const {
  return Render(id, [](const YamlNode& n) -> std::string {
    switch (n.type) {
      case ScalarType::kBool:
        return n.bool_value ? "True" : "False";
      case ScalarType::kInt:
        return n.int_in_range ? absl::StrCat(n.int_value) : n.text;
      case ScalarType::kFloat:
        return PythonFloatRepr(n.float_value);
      case ScalarType::kString:
        return PythonStrRepr(n.text);
      case ScalarType::kNull:
        break;
    }
    return "None";
  });
}

bool ValueReader::Truthy(int id) const {
  const YamlNode& n = node(id);
  switch (n.kind) {
    case YamlKind::kSequence:
      return !n.items.empty();
    case YamlKind::kMapping:
      return !n.entries.empty();
    case YamlKind::kScalar:
      break;
  }
  switch (n.type) {
    case ScalarType::kNull:
      return false;
    case ScalarType::kBool:
      return n.bool_value;
    case ScalarType::kInt:
      return !n.int_in_range || n.int_value != 0;
    case ScalarType::kFloat:
      return n.float_value != 0.0;
    case ScalarType::kString:
      return !n.text.empty();
  }
  return false;
}

}  // namespace recipe_internal
}  // namespace mapping
}  // namespace wring
