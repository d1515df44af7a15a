// The pre-tokenizer split regexes of GPT-2 / GPT-4 / Llama-3 / Qwen2-style
// tokenizer.json files, matched exactly as the reference (Oniguruma) does.
//
// Those patterns contain `\s+(?!\S)`, a lookahead RE2 cannot compile. Its
// meaning at a position p inside a whitespace run ending at e is precise:
// p..e when the run reaches the end of the text, else p..e-1 when that is
// non-empty (the last whitespace character is left for the next piece), else
// no match. So the pattern is cut at that alternative: RE2 matches the
// alternatives before it (leftmost-first, like Oniguruma), then the rule
// above, then RE2 the alternatives after it, all anchored at p. \p{L},
// \p{N} and \s are rewritten to explicit ranges from the reference's tables.
// Any other lookaround, backreference or Unicode class is rejected.
#ifndef WRING_BACKEND_DATA_INTERNAL_SPLIT_REGEX_H_
#define WRING_BACKEND_DATA_INTERNAL_SPLIT_REGEX_H_

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "re2/re2.h"

namespace wring {
namespace backend {
namespace data {
namespace internal {

// The GPT-2 pattern that ByteLevel(use_regex=true) applies.
extern const char kGpt2SplitPattern[];

class SplitRegex {
 public:
  // `pattern` is in the tokenizer.json (Oniguruma) syntax.
  static absl::StatusOr<SplitRegex> Compile(absl::string_view pattern);
  // A pattern matching `literal` exactly (Split's {"String": ...} form).
  static absl::StatusOr<SplitRegex> Literal(absl::string_view literal);

  // Byte ranges [begin, end) of the non-overlapping, non-empty matches,
  // leftmost first. `text` must be valid UTF-8.
  std::vector<std::pair<size_t, size_t>> FindAll(absl::string_view text) const;

  // Split "Isolated": matches and the text between them, in order, each
  // non-empty piece once.
  std::vector<absl::string_view> SplitIsolated(absl::string_view text) const;

 private:
  SplitRegex() = default;
  // Length of the match anchored at `pos`, 0 when none.
  size_t MatchAt(absl::string_view text, size_t pos) const;

  std::shared_ptr<const RE2> before_;  // alternatives before the lookahead one
  std::shared_ptr<const RE2> after_;   // alternatives after it
  bool whitespace_lookahead_ = false;
};

// Whether `c` is \s for the reference's regexes (Unicode White_Space).
bool IsRegexWhiteSpace(char32_t c);

}  // namespace internal
}  // namespace data
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_DATA_INTERNAL_SPLIT_REGEX_H_
