#include "mapping/base/python_repr.h"

#include <cmath>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace wring {
namespace mapping {
namespace {

std::string JoinStrReprs(absl::Span<const std::string> items) {
  return absl::StrJoin(items, ", ", [](std::string* out, const std::string& s) {
    out->append(PythonStrRepr(s));
  });
}

}  // namespace

std::string PythonStrRepr(absl::string_view s) {
  const bool has_single = s.find('\'') != absl::string_view::npos;
  const bool has_double = s.find('"') != absl::string_view::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == quote) {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += c;
    }
  }
  out += quote;
  return out;
}

std::string PythonOptionalStrRepr(const absl::optional<std::string>& value) {
  return value ? PythonStrRepr(*value) : "None";
}

std::string PythonListRepr(absl::Span<const std::string> items) {
  return absl::StrCat("[", JoinStrReprs(items), "]");
}

std::string PythonSetRepr(absl::Span<const std::string> items) {
  if (items.empty()) return "set()";
  return absl::StrCat("{", JoinStrReprs(items), "}");
}

std::string PythonIntListRepr(absl::Span<const int> values) {
  return absl::StrCat("[", absl::StrJoin(values, ", "), "]");
}

std::string PythonFloatRepr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::string s = absl::StrFormat("%.17g", v);
  for (int precision = 1; precision <= 17; ++precision) {
    std::string candidate = absl::StrFormat("%.*g", precision, v);
    double back = 0;
    if (absl::SimpleAtod(candidate, &back) && back == v) {
      s = candidate;
      break;
    }
  }
  if (s.find_first_of(".eni") == std::string::npos) s += ".0";
  return s;
}

std::string PythonYamlScalarRepr(absl::string_view yaml_text) {
  int64_t i;
  double d;
  if (absl::SimpleAtoi(yaml_text, &i) || absl::SimpleAtod(yaml_text, &d)) {
    return std::string(yaml_text);
  }
  const std::string lower = absl::AsciiStrToLower(yaml_text);
  if (lower == "true") return "True";
  if (lower == "false") return "False";
  if (lower == "null" || lower == "~") return "None";
  return PythonStrRepr(yaml_text);
}

}  // namespace mapping
}  // namespace wring
