#include "backend/data/internal/added_tokens.h"

#include <algorithm>
#include <utility>

#include "backend/data/internal/split_regex.h"
#include "backend/data/internal/utf8.h"
#include "re2/re2.h"

namespace wring {
namespace backend {
namespace data {
namespace internal {
namespace {

// Rust regex's Unicode \w (Alphabetic, marks, decimal digits, connector
// punctuation, joiners), approximated with RE2's tables: the reference uses
// it only for `single_word`, which no Llama-3/Qwen file sets.
bool IsWordCharacter(char32_t c) {
  static const RE2* const word =
      new RE2(R"([\p{L}\p{M}\p{Nd}\p{Nl}\p{Pc}\x{200C}\x{200D}])");
  std::string encoded;
  AppendUtf8(c, &encoded);
  return RE2::FullMatch(encoded, *word);
}

// Start of the code point that ends at `end` (text[0, end) is valid UTF-8).
size_t PreviousCharStart(absl::string_view text, size_t end) {
  size_t pos = end - 1;
  while (pos > 0 && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) --pos;
  return pos;
}

}  // namespace

AddedTokenSplitter::AddedTokenSplitter(std::vector<AddedToken> tokens)
    : by_first_byte_(256) {
  for (AddedToken& token : tokens) {
    if (!token.content.empty()) tokens_.push_back(std::move(token));
  }
  std::stable_sort(tokens_.begin(), tokens_.end(), [](const AddedToken& a, const AddedToken& b) {
    return a.content.size() > b.content.size();
  });
  for (size_t i = 0; i < tokens_.size(); ++i) {
    by_first_byte_[static_cast<unsigned char>(tokens_[i].content[0])].push_back(i);
  }
}

std::vector<Segment> AddedTokenSplitter::Split(absl::string_view text) const {
  std::vector<Segment> segments;
  if (tokens_.empty()) {
    if (!text.empty()) segments.push_back({text, std::nullopt});
    return segments;
  }
  size_t start_offset = 0;  // end of the last piece emitted
  size_t pos = 0;
  while (pos < text.size()) {
    const AddedToken* found = nullptr;
    for (size_t index : by_first_byte_[static_cast<unsigned char>(text[pos])]) {
      const std::string& content = tokens_[index].content;
      if (text.substr(pos, content.size()) == content) {
        found = &tokens_[index];  // longest first
        break;
      }
    }
    if (found == nullptr) {
      ++pos;
      continue;
    }
    size_t start = pos;
    size_t stop = pos + found->content.size();
    pos = stop;  // the matcher moves on even when the match is discarded
    if (found->single_word) {
      const bool word_before =
          start > 0 && IsWordCharacter(DecodeUtf8At(text, PreviousCharStart(text, start)));
      const bool word_after = stop < text.size() && IsWordCharacter(DecodeUtf8At(text, stop));
      if (word_before || word_after) continue;
    }
    if (found->lstrip) {
      size_t new_start = start;
      while (new_start > 0 &&
             IsRegexWhiteSpace(DecodeUtf8At(text, PreviousCharStart(text, new_start)))) {
        new_start = PreviousCharStart(text, new_start);
      }
      start = std::max(new_start, start_offset);
    }
    if (found->rstrip) {
      while (stop < text.size() && IsRegexWhiteSpace(DecodeUtf8At(text, stop))) {
        stop += Utf8CharLength(text, stop);
      }
      pos = std::max(pos, stop);
    }
    if (start_offset < start) {
      segments.push_back({text.substr(start_offset, start - start_offset), std::nullopt});
    }
    segments.push_back({text.substr(start, stop - start), found->id});
    start_offset = stop;
  }
  if (start_offset < text.size()) {
    segments.push_back({text.substr(start_offset), std::nullopt});
  }
  return segments;
}

}  // namespace internal
}  // namespace data
}  // namespace backend
}  // namespace wring
