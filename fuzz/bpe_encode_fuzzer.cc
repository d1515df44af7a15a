// Fuzzes byte-level BPE encoding (backend/data/tokenizer.h) with real
// tokenizer.json files. Input: one byte choosing the tokenizer, one byte
// choosing add_special_tokens and max_length, then the text.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "backend/data/demo_data.h"
#include "backend/data/tokenizer.h"
#include "fuzz/internal/fuzz_check.h"
#include "fuzz/internal/test_tokenizers.h"

namespace {

using wring::backend::data::Tokenizer;

const std::vector<Tokenizer>& Tokenizers() {
  static const auto* tokenizers = [] {
    auto* result = new std::vector<Tokenizer>();
    std::vector<absl::string_view> jsons = wring::fuzz::TestTokenizerJsons();
    jsons.insert(jsons.begin(), wring::backend::data::DemoTokenizerJson());
    for (absl::string_view json : jsons) {
      absl::StatusOr<Tokenizer> tokenizer = Tokenizer::FromJson(json, "tokenizer.json");
      WRING_FUZZ_CHECK(tokenizer.ok(), "the built-in tokenizers load");
      result->push_back(*std::move(tokenizer));
    }
    return result;
  }();
  return *tokenizers;
}

// Well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF),
// which the reference's Rust strings hold; Encode refuses anything else.
bool IsValidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = text[i];
    int length = 0;
    uint32_t code = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      length = 2;
      code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3;
      code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (int k = 1; k < length; ++k) {
      const unsigned char next = text[i + k];
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    const uint32_t minimum = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000;
    if (code < minimum || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
    i += length;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const Tokenizer& tokenizer = Tokenizers()[data[0] % Tokenizers().size()];
  const bool special = (data[1] & 1) != 0;
  // 0: no truncation, else 1..127 ids.
  const int64_t max_length_byte = data[1] >> 1;
  const std::optional<int64_t> max_length =
      max_length_byte == 0 ? std::nullopt : std::optional<int64_t>(max_length_byte);
  const absl::string_view text(reinterpret_cast<const char*>(data) + 2, size - 2);
  absl::StatusOr<std::vector<int64_t>> ids = tokenizer.Encode(text, special, max_length);
  const bool fits = !max_length || !special || *max_length >= tokenizer.num_special_tokens_to_add();
  if (IsValidUtf8(text) && fits) {
    WRING_FUZZ_CHECK(ids.ok(), "valid UTF-8 always encodes");
  }
  if (!ids.ok()) return 0;
  for (int64_t id : *ids) {
    WRING_FUZZ_CHECK(id >= 0 && id < tokenizer.vocab_size(), "ids are in the vocabulary");
  }
  if (max_length) {
    WRING_FUZZ_CHECK(static_cast<int64_t>(ids->size()) <= *max_length, "truncation holds");
  }
  if (!special) {
    WRING_FUZZ_CHECK(text.empty() == ids->empty(), "only empty text gives no ids");
  }
  return 0;
}
