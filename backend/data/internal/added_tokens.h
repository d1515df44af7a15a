// Splitting text on a tokenizer.json's added tokens, before the model sees it.
//
// Matches are found like the reference's Aho-Corasick (leftmost-longest,
// non-overlapping), then filtered and widened per token: `single_word`
// drops a match touching a word character, `lstrip`/`rstrip` absorb the
// whitespace beside it.
#ifndef WRING_BACKEND_DATA_INTERNAL_ADDED_TOKENS_H_
#define WRING_BACKEND_DATA_INTERNAL_ADDED_TOKENS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace wring {
namespace backend {
namespace data {
namespace internal {

struct AddedToken {
  int64_t id = 0;
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
  bool special = false;
};

// A piece of text, and the added token it is when `id` is set.
struct Segment {
  absl::string_view text;
  std::optional<int64_t> id;
};

class AddedTokenSplitter {
 public:
  AddedTokenSplitter() = default;
  // Tokens with empty content never match.
  explicit AddedTokenSplitter(std::vector<AddedToken> tokens);

  bool empty() const { return tokens_.empty(); }
  // Non-empty segments in order; `text` must be valid UTF-8.
  std::vector<Segment> Split(absl::string_view text) const;

 private:
  std::vector<AddedToken> tokens_;               // longest content first
  std::vector<std::vector<size_t>> by_first_byte_;  // indices into tokens_
};

}  // namespace internal
}  // namespace data
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_DATA_INTERNAL_ADDED_TOKENS_H_
