// PyYAML safe_load's implicit typing of plain scalars (YAML 1.1 resolver).
#include <cmath>
#include <limits>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "mapping/recipe/internal/yaml_tree.h"
#include "re2/re2.h"

namespace wring {
namespace mapping {
namespace recipe_internal {
namespace {

// The patterns are PyYAML's (resolver.py), anchored by FullMatch.
const RE2& BoolPattern() {
  static const RE2* re = new RE2(
      "yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF");
  return *re;
}
const RE2& NullPattern() {
  static const RE2* re = new RE2("~|null|Null|NULL|");
  return *re;
}
const RE2& IntPattern() {
  static const RE2* re = new RE2(
      "[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"
      "|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+");
  return *re;
}
const RE2& FloatPattern() {
  static const RE2* re = new RE2(
      "[-+]?(?:[0-9][0-9_]*)\\.[0-9_]*(?:[eE][-+][0-9]+)?"
      "|\\.[0-9_]+(?:[eE][-+][0-9]+)?"
      "|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\\.[0-9_]*"
      "|[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN)");
  return *re;
}
// json.loads numbers that YAML 1.1 would leave as strings (`1e-3`, `1E5`).
const RE2& JsonFloatPattern() {
  static const RE2* re =
      new RE2("-?(?:0|[1-9][0-9]*)(?:\\.[0-9]+)?[eE][-+]?[0-9]+");
  return *re;
}

// Base-60 "1:30" style numbers: digits joined by ':'.
bool ParseSexagesimal(const std::string& digits, double& value) {
  value = 0;
  for (absl::string_view part : absl::StrSplit(digits, ':')) {
    double piece = 0;
    if (!absl::SimpleAtod(part, &piece)) return false;
    value = value * 60 + piece;
  }
  return true;
}

void ResolveInt(YamlNode& node) {
  std::string s = absl::StrReplaceAll(node.text, {{"_", ""}});
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.erase(0, 1);
  }
  node.type = ScalarType::kInt;
  uint64_t magnitude = 0;
  bool ok = false;
  if (s.find(':') != std::string::npos) {
    double value = 0;
    // A piece may be negative ("1:-90") or the sum huge: convert only what
    // fits, since a double outside uint64's range has no defined cast.
    ok = ParseSexagesimal(s, value) && value >= 0 && value < 9.2e18;
    if (ok) magnitude = static_cast<uint64_t>(value);
  } else if (s.rfind("0b", 0) == 0) {
    ok = !s.substr(2).empty();
    for (char c : s.substr(2)) {
      if (magnitude >> 62) ok = false;
      magnitude = magnitude * 2 + (c - '0');
    }
  } else if (s.rfind("0x", 0) == 0) {
    ok = absl::SimpleHexAtoi(s.substr(2), &magnitude);
  } else if (s.size() > 1 && s[0] == '0') {
    ok = true;
    for (char c : s.substr(1)) {
      if (magnitude >> 60) ok = false;
      magnitude = magnitude * 8 + (c - '0');
    }
  } else {
    ok = absl::SimpleAtoi(s, &magnitude);
  }
  if (ok && magnitude <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    node.int_in_range = true;
    node.int_value = negative ? -static_cast<int64_t>(magnitude)
                              : static_cast<int64_t>(magnitude);
  }
}

void ResolveFloat(YamlNode& node) {
  node.type = ScalarType::kFloat;
  std::string s = absl::StrReplaceAll(node.text, {{"_", ""}});
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.erase(0, 1);
  }
  double value = 0;
  if (s == ".inf" || s == ".Inf" || s == ".INF") {
    value = std::numeric_limits<double>::infinity();
  } else if (s == ".nan" || s == ".NaN" || s == ".NAN") {
    value = std::numeric_limits<double>::quiet_NaN();
  } else if (s.find(':') != std::string::npos) {
    ParseSexagesimal(s, value);
  } else {
    // PyYAML accepts "1." (trailing dot); strtod-style parsing does too.
    if (!absl::SimpleAtod(s, &value)) value = 0;
  }
  node.float_value = negative ? -value : value;
}

}  // namespace

void ResolvePlainScalar(YamlNode& node, bool json_numbers) {
  const std::string& t = node.text;
  if (RE2::FullMatch(t, NullPattern())) {
    node.type = ScalarType::kNull;
  } else if (RE2::FullMatch(t, BoolPattern())) {
    node.type = ScalarType::kBool;
    const char c = t[0];
    node.bool_value = c == 'y' || c == 'Y' || c == 't' || c == 'T' ||
                      ((c == 'o' || c == 'O') && (t[1] == 'n' || t[1] == 'N'));
  } else if (RE2::FullMatch(t, FloatPattern()) ||
             (json_numbers && RE2::FullMatch(t, JsonFloatPattern()))) {
    ResolveFloat(node);
  } else if (RE2::FullMatch(t, IntPattern())) {
    ResolveInt(node);
  } else {
    node.type = ScalarType::kString;
  }
}

}  // namespace recipe_internal
}  // namespace mapping
}  // namespace wring
