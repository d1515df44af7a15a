// A Hugging Face `tokenizer.json` byte-level BPE tokenizer (GPT-2, Llama-3,
// Qwen2/Qwen3 families), encoding text to exactly the ids the `tokenizers`
// library gives, for tokenizing calibration text in `wring compress`.
//
// Supported (anything else is rejected when loading, naming the field):
//   added_tokens    special or not; lstrip, rstrip, single_word, normalized
//   normalizer      null, NFC, or a Sequence of those
//   pre_tokenizer   null, ByteLevel (use_regex, add_prefix_space), Split
//                   (Isolated, not inverted; the GPT-2/GPT-4/Llama-3/Qwen2
//                   patterns, see internal/split_regex.h), or a Sequence
//   model           BPE with "a b" or ["a", "b"] merges, ignore_merges,
//                   unk_token/fuse_unk (no dropout, byte_fallback, affixes)
//   post_processor  null, ByteLevel (ids unchanged), TemplateProcessing
//                   (single template), or a Sequence of those
#ifndef WRING_BACKEND_DATA_TOKENIZER_H_
#define WRING_BACKEND_DATA_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace wring {
namespace backend {
namespace data {

namespace internal {
struct TokenizerPipeline;
}  // namespace internal

class Tokenizer {
 public:
  // Parses tokenizer.json contents; `path_for_errors` prefixes messages.
  static absl::StatusOr<Tokenizer> FromJson(absl::string_view tokenizer_json,
                                            absl::string_view path_for_errors);
  // Reads and parses a tokenizer.json file.
  static absl::StatusOr<Tokenizer> FromFile(const std::string& path);

  // The ids `tokenizers` gives for `text` (tokenizer.encode(text,
  // add_special_tokens=...).ids). With `max_length`, truncates like
  // truncation=True, max_length=...: the text's ids are cut on the right so
  // that they and the template's special tokens fit. Invalid UTF-8 and a
  // max_length smaller than the special tokens are errors.
  absl::StatusOr<std::vector<int64_t>> Encode(
      absl::string_view text, bool add_special_tokens,
      std::optional<int64_t> max_length = std::nullopt) const;

  // The template's leading special token (Llama-3's <|begin_of_text|>), or
  // nullopt when encoding adds none (Qwen2/Qwen3).
  std::optional<int64_t> bos_token_id() const;
  // Number of ids add_special_tokens=true adds.
  int64_t num_special_tokens_to_add() const;
  // Largest id Encode can give plus one (len(tokenizer) for real files).
  int64_t vocab_size() const;
  // Id of a vocabulary or added token.
  std::optional<int64_t> TokenToId(absl::string_view token) const;

 private:
  explicit Tokenizer(std::shared_ptr<const internal::TokenizerPipeline> pipeline)
      : pipeline_(std::move(pipeline)) {}

  std::shared_ptr<const internal::TokenizerPipeline> pipeline_;
};

}  // namespace data
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_DATA_TOKENIZER_H_
