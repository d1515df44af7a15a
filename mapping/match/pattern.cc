#include "mapping/match/pattern.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace wring {
namespace mapping {
namespace {

absl::Status PythonOnly(absl::string_view regex, size_t pos, absl::string_view construct,
                        absl::string_view hint) {
  return absl::InvalidArgumentError(absl::StrCat(
      "regex \"", regex, "\" uses ", construct, " at offset ", pos,
      ", which Python's re supports but wring's RE2 engine cannot run exactly; ", hint));
}

constexpr absl::string_view kListHint =
    "rewrite the pattern without it (e.g. list the wanted names, or use an ignore "
    "entry instead of a negative lookahead)";

}  // namespace

absl::StatusOr<std::string> TranslatePythonRegex(absl::string_view re) {
  std::string out;
  out.reserve(re.size() + 8);
  bool in_class = false;
  for (size_t i = 0; i < re.size(); ++i) {
    char c = re[i];
    if (c == '\\') {
      if (i + 1 >= re.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("regex \"", re, "\" ends with a lone backslash"));
      }
      char e = re[i + 1];
      if (!in_class && e >= '1' && e <= '9') {
        return PythonOnly(re, i, absl::StrCat("the backreference \\", std::string(1, e)),
                          kListHint);
      }
      if (e == 'Z' && !in_class) {  // Python's \Z is RE2's \z.
        out += "\\z";
      } else {
        out += c;
        out += e;
      }
      ++i;
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      out += c;
      continue;
    }
    if (c == '[') {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal member.
      if (i + 1 < re.size() && re[i + 1] == '^') out += re[++i];
      if (i + 1 < re.size() && re[i + 1] == ']') out += re[++i];
      continue;
    }
    if (c == '(' && i + 1 < re.size() && re[i + 1] == '?') {
      absl::string_view rest = re.substr(i + 2);
      auto starts = [&](absl::string_view p) { return rest.substr(0, p.size()) == p; };
      if (starts("=")) return PythonOnly(re, i, "a lookahead \"(?=...)\"", kListHint);
      if (starts("!")) return PythonOnly(re, i, "a negative lookahead \"(?!...)\"", kListHint);
      if (starts("<=")) return PythonOnly(re, i, "a lookbehind \"(?<=...)\"", kListHint);
      if (starts("<!")) {
        return PythonOnly(re, i, "a negative lookbehind \"(?<!...)\"", kListHint);
      }
      if (starts("P=")) return PythonOnly(re, i, "a named backreference \"(?P=...)\"", kListHint);
      if (starts("(")) return PythonOnly(re, i, "a conditional group \"(?(...)\"", kListHint);
      if (starts(">")) return PythonOnly(re, i, "an atomic group \"(?>...)\"", kListHint);
      if (starts("#")) return PythonOnly(re, i, "a comment group \"(?#...)\"", "remove it");
      // Inline flags: RE2 knows i, m, s, U; Python's a, L, u and x differ.
      size_t j = 0;
      while (j < rest.size() && absl::ascii_isalpha(rest[j])) ++j;
      for (size_t k = 0; k < j; ++k) {
        if (rest[k] == 'x' || rest[k] == 'a' || rest[k] == 'L' || rest[k] == 'u') {
          return PythonOnly(re, i, absl::StrCat("the inline flag \"", std::string(1, rest[k]),
                                                "\""),
                            "remove the flag and write the pattern without it");
        }
      }
    }
    if (c == '+' && i > 0 && (re[i - 1] == '*' || re[i - 1] == '+' || re[i - 1] == '?' ||
                              re[i - 1] == '}') &&
        !(i >= 2 && re[i - 2] == '\\')) {
      return PythonOnly(re, i, "a possessive quantifier", kListHint);
    }
    if (c == '{' && i + 1 < re.size() && re[i + 1] == ',') {
      // Python reads "{,n}" as "{0,n}"; RE2 would take it literally.
      size_t j = i + 2;
      while (j < re.size() && absl::ascii_isdigit(re[j])) ++j;
      if (j > i + 2 && j < re.size() && re[j] == '}') {
        out += "{0";
        continue;
      }
    }
    out += c;
  }
  return out;
}

absl::StatusOr<Pattern> Pattern::Compile(absl::string_view target) {
  Pattern p;
  p.text_ = std::string(target);
  if (!IsRegexTarget(target)) return p;
  absl::string_view body = target.substr(3);
  auto translated = TranslatePythonRegex(body);
  if (!translated.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("target \"", target, "\": ", translated.status().message()));
  }
  p.re2_pattern_ = *std::move(translated);
  RE2::Options options;
  options.set_log_errors(false);
  auto regex = std::make_shared<RE2>(p.re2_pattern_, options);
  if (!regex->ok()) {
    return absl::InvalidArgumentError(absl::StrCat("target \"", target,
                                                   "\" is not a valid regular expression: ",
                                                   regex->error()));
  }
  p.regex_ = std::move(regex);
  return p;
}

bool Pattern::MatchesName(absl::string_view name) const {
  if (regex_ == nullptr) return name == text_;
  return regex_->Match(re2::StringPiece(name.data(), name.size()), 0, name.size(), RE2::ANCHOR_START, nullptr, 0);
}

bool Pattern::MatchesClass(const Module& module) const {
  if (regex_ != nullptr) return false;
  // Every module's MRO ends in torch.nn.Module, which module trees leave out.
  if (text_ == "Module") return true;
  for (const std::string& cls : module.mro) {
    if (cls == text_ || (cls == "LinearBase" && text_ == "Linear")) return true;
  }
  return false;
}

}  // namespace mapping
}  // namespace wring
