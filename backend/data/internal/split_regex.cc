#include "backend/data/internal/split_regex.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "backend/data/internal/unicode_tables.h"
#include "backend/data/internal/utf8.h"

namespace wring {
namespace backend {
namespace data {
namespace internal {

const char kGpt2SplitPattern[] =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

constexpr absl::string_view kWhiteSpaceLookahead = R"(\s+(?!\S))";

bool InRanges(const CodePointRange* ranges, size_t size, char32_t c) {
  const CodePointRange* end = ranges + size;
  const CodePointRange* it = std::upper_bound(
      ranges, end, c, [](char32_t value, const CodePointRange& r) { return value < r.first; });
  return it != ranges && c <= (it - 1)->last;
}

// The inside of an RE2 character class listing `ranges`.
std::string ClassBody(const CodePointRange* ranges, size_t size) {
  std::string body;
  for (size_t i = 0; i < size; ++i) {
    absl::StrAppend(&body, "\\x{", absl::Hex(ranges[i].first), "}");
    if (ranges[i].last != ranges[i].first) {
      absl::StrAppend(&body, "-\\x{", absl::Hex(ranges[i].last), "}");
    }
  }
  return body;
}

absl::Status Unsupported(absl::string_view pattern, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("pre-tokenizer regex \"", pattern, "\" uses ", what,
                   ", which wring does not support (supported: the GPT-2, GPT-4, "
                   "Llama-3 and Qwen2 split patterns and RE2 syntax with \\p{L}, "
                   "\\p{N}, \\s and a final-position \\s+(?!\\S))"));
}

// Top-level alternatives of `pattern` (split at `|` outside groups/classes).
absl::StatusOr<std::vector<std::string>> SplitAlternatives(absl::string_view pattern) {
  std::vector<std::string> alternatives(1);
  int depth = 0;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      absl::StrAppend(&alternatives.back(), pattern.substr(i, 2));
      ++i;
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
    } else if (c == '[') {
      in_class = true;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      --depth;
    } else if (c == '|' && depth == 0) {
      alternatives.emplace_back();
      continue;
    }
    alternatives.back() += c;
  }
  if (depth != 0 || in_class) return Unsupported(pattern, "unbalanced brackets");
  return alternatives;
}

// Rewrites one alternative into RE2 syntax with the reference's classes.
absl::StatusOr<std::string> TranslateAlternative(absl::string_view pattern,
                                                 absl::string_view alternative) {
  static const std::string* const letters =
      new std::string(ClassBody(kLetterRanges, kLetterRangesSize));
  static const std::string* const numbers =
      new std::string(ClassBody(kNumberRanges, kNumberRangesSize));
  static const std::string* const spaces =
      new std::string(ClassBody(kWhiteSpaceRanges, kWhiteSpaceRangesSize));
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < alternative.size(); ++i) {
    const char c = alternative[i];
    if (c == '\\') {
      if (i + 1 >= alternative.size()) return Unsupported(pattern, "a trailing backslash");
      const char escaped = alternative[++i];
      const std::string* body = nullptr;
      if (escaped == 'p') {
        const size_t close = alternative.find('}', i);
        if (i + 1 >= alternative.size() || alternative[i + 1] != '{' ||
            close == absl::string_view::npos) {
          return Unsupported(pattern, "a \\p class without braces");
        }
        const absl::string_view name = alternative.substr(i + 2, close - i - 2);
        if (name == "L") {
          body = letters;
        } else if (name == "N") {
          body = numbers;
        } else {
          return Unsupported(pattern, absl::StrCat("the class \\p{", name, "}"));
        }
        i = close;
      } else if (escaped == 's') {
        body = spaces;
      } else if (escaped == 'S') {
        if (in_class) return Unsupported(pattern, "\\S inside a character class");
        absl::StrAppend(&out, "[^", *spaces, "]");
        continue;
      } else if (std::isalnum(static_cast<unsigned char>(escaped)) &&
                 std::string("rntfv").find(escaped) == std::string::npos) {
        return Unsupported(pattern, absl::StrCat("the escape \\", std::string(1, escaped)));
      } else {
        out += '\\';
        out += escaped;
        continue;
      }
      absl::StrAppend(&out, in_class ? "" : "[", *body, in_class ? "" : "]");
      continue;
    }
    if (in_class) {
      if (c == '[') return Unsupported(pattern, "a nested character class");
      if (c == ']') in_class = false;
    } else if (c == '[') {
      in_class = true;
    } else if (c == '(' && i + 2 < alternative.size() && alternative[i + 1] == '?' &&
               std::string("=!<>").find(alternative[i + 2]) != std::string::npos) {
      return Unsupported(pattern, "a lookaround or atomic group");
    }
    out += c;
  }
  return out;
}

absl::StatusOr<std::shared_ptr<const RE2>> CompileGroup(
    absl::string_view pattern, const std::vector<std::string>& alternatives) {
  if (alternatives.empty()) return std::shared_ptr<const RE2>();
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingUTF8);
  options.set_log_errors(false);
  options.set_max_mem(64 << 20);
  auto re = std::make_shared<const RE2>(
      absl::StrCat("(?:", absl::StrJoin(alternatives, "|"), ")"), options);
  if (!re->ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pre-tokenizer regex \"", pattern, "\" does not compile: ", re->error()));
  }
  return std::shared_ptr<const RE2>(std::move(re));
}

}  // namespace

bool IsRegexWhiteSpace(char32_t c) {
  return InRanges(kWhiteSpaceRanges, kWhiteSpaceRangesSize, c);
}

absl::StatusOr<SplitRegex> SplitRegex::Compile(absl::string_view pattern) {
  auto alternatives = SplitAlternatives(pattern);
  if (!alternatives.ok()) return alternatives.status();
  std::vector<std::string> before, after;
  SplitRegex regex;
  for (const std::string& alternative : *alternatives) {
    if (alternative == kWhiteSpaceLookahead) {
      if (regex.whitespace_lookahead_) return Unsupported(pattern, "\\s+(?!\\S) twice");
      regex.whitespace_lookahead_ = true;
      continue;
    }
    auto translated = TranslateAlternative(pattern, alternative);
    if (!translated.ok()) return translated.status();
    (regex.whitespace_lookahead_ ? after : before).push_back(*std::move(translated));
  }
  auto compiled_before = CompileGroup(pattern, before);
  if (!compiled_before.ok()) return compiled_before.status();
  auto compiled_after = CompileGroup(pattern, after);
  if (!compiled_after.ok()) return compiled_after.status();
  regex.before_ = *std::move(compiled_before);
  regex.after_ = *std::move(compiled_after);
  return regex;
}

absl::StatusOr<SplitRegex> SplitRegex::Literal(absl::string_view literal) {
  if (literal.empty()) {
    return absl::InvalidArgumentError("pre-tokenizer Split has an empty string pattern");
  }
  auto compiled = CompileGroup(
      literal, {RE2::QuoteMeta(re2::StringPiece(literal.data(), literal.size()))});
  if (!compiled.ok()) return compiled.status();
  SplitRegex regex;
  regex.before_ = *std::move(compiled);
  return regex;
}

size_t SplitRegex::MatchAt(absl::string_view text, size_t pos) const {
  const re2::StringPiece subject(text.data(), text.size());
  re2::StringPiece match;
  if (before_ != nullptr &&
      before_->Match(subject, pos, text.size(), RE2::ANCHOR_START, &match, 1) &&
      !match.empty()) {
    return match.size();
  }
  if (whitespace_lookahead_ && IsRegexWhiteSpace(DecodeUtf8At(text, pos))) {
    size_t end = pos;
    size_t last_start = pos;
    size_t count = 0;
    while (end < text.size() && IsRegexWhiteSpace(DecodeUtf8At(text, end))) {
      last_start = end;
      end += Utf8CharLength(text, end);
      ++count;
    }
    if (end == text.size()) return end - pos;
    if (count >= 2) return last_start - pos;
  }
  if (after_ != nullptr &&
      after_->Match(subject, pos, text.size(), RE2::ANCHOR_START, &match, 1) &&
      !match.empty()) {
    return match.size();
  }
  return 0;
}

std::vector<std::pair<size_t, size_t>> SplitRegex::FindAll(absl::string_view text) const {
  std::vector<std::pair<size_t, size_t>> matches;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t length = MatchAt(text, pos);
    if (length > 0) {
      matches.emplace_back(pos, pos + length);
      pos += length;
    } else {
      pos += Utf8CharLength(text, pos);
    }
  }
  return matches;
}

std::vector<absl::string_view> SplitRegex::SplitIsolated(absl::string_view text) const {
  std::vector<absl::string_view> pieces;
  size_t previous = 0;
  for (const auto& [begin, end] : FindAll(text)) {
    if (begin > previous) pieces.push_back(text.substr(previous, begin - previous));
    pieces.push_back(text.substr(begin, end - begin));
    previous = end;
  }
  if (previous < text.size()) pieces.push_back(text.substr(previous));
  return pieces;
}

}  // namespace internal
}  // namespace data
}  // namespace backend
}  // namespace wring
