// The BPE model of a Hugging Face tokenizer.json ("model": {"type": "BPE"}),
// and the GPT-2 byte-to-character mapping of the ByteLevel pre-tokenizer.
//
// Merging follows `tokenizers` exactly: the pair with the lowest merge rank
// merges first, ties go to the leftmost pair; with `ignore_merges` a word
// that is itself in the vocabulary is one token.
#ifndef WRING_BACKEND_DATA_INTERNAL_BPE_H_
#define WRING_BACKEND_DATA_INTERNAL_BPE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "backend/data/internal/json_util.h"

namespace wring {
namespace backend {
namespace data {
namespace internal {

class BpeModel {
 public:
  // `model` is tokenizer.json's "model" object; `path` names the file in errors.
  static absl::StatusOr<BpeModel> FromJson(const TokenizerJson& model,
                                           absl::string_view path);

  // Appends the ids of one pre-tokenized word (valid UTF-8). Characters
  // missing from the vocabulary become the unknown token, or are dropped
  // when there is none (as the reference does).
  void Tokenize(absl::string_view word, std::vector<int64_t>* ids) const;

  std::optional<int64_t> TokenToId(absl::string_view token) const;
  // Largest id in the vocabulary, -1 when empty.
  int64_t max_id() const { return max_id_; }
  // Number of vocabulary entries (the reference's get_vocab_size()).
  int64_t vocab_count() const { return static_cast<int64_t>(vocab_.size()); }

 private:
  struct Merge {
    uint32_t rank;
    int64_t new_id;
  };

  BpeModel() = default;

  absl::flat_hash_map<std::string, int64_t> vocab_;
  absl::flat_hash_map<uint64_t, Merge> merges_;  // key: (left id << 32) | right id
  std::optional<int64_t> unk_id_;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
  int64_t max_id_ = -1;
};

// The ByteLevel pre-tokenizer's view of `piece`: every byte as the GPT-2
// printable character standing for it, UTF-8 encoded.
std::string ByteLevelEncode(absl::string_view piece);

}  // namespace internal
}  // namespace data
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_DATA_INTERNAL_BPE_H_
