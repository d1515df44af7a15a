// Fuzzes tokenizer.json loading (backend/data/tokenizer.h), then encodes a
// few fixed texts with every tokenizer it accepts and checks the ids are in
// its vocabulary and truncation holds.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "backend/data/tokenizer.h"
#include "fuzz/internal/fuzz_check.h"

using wring::backend::data::Tokenizer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::FromJson(text, "tokenizer.json");
  if (!tokenizer.ok()) {
    WRING_FUZZ_CHECK(absl::StrContains(tokenizer.status().message(), "tokenizer.json"),
                     "a tokenizer error names the file");
    return 0;
  }
  const int64_t vocab_size = tokenizer->vocab_size();
  for (absl::string_view sample :
       {"", "Hello world", " The  quick\tbrown\n\nfox 123 4567 isn't", "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87",
        "<|begin_of_text|><|endoftext|> <s></s>"}) {
    for (bool special : {false, true}) {
      for (std::optional<int64_t> max_length : {std::optional<int64_t>(), std::optional<int64_t>(3)}) {
        absl::StatusOr<std::vector<int64_t>> ids = tokenizer->Encode(sample, special, max_length);
        if (!ids.ok()) continue;
        for (int64_t id : *ids) {
          WRING_FUZZ_CHECK(id >= 0 && id < vocab_size, "ids are in the vocabulary");
        }
        if (max_length) {
          WRING_FUZZ_CHECK(static_cast<int64_t>(ids->size()) <= *max_length, "truncation holds");
        }
      }
    }
  }
  return 0;
}
