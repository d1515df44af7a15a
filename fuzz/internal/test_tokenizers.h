// The tokenizer.json files the BPE fuzz target encodes with, compiled in (a
// fuzz target has no runfiles of its own when run by hand): the demo
// tokenizer and backend/data/testdata's GPT-2, Llama-3 and Qwen3 ones, which
// cover the byte-level split patterns, added tokens and templates wring
// supports.
#ifndef WRING_FUZZ_INTERNAL_TEST_TOKENIZERS_H_
#define WRING_FUZZ_INTERNAL_TEST_TOKENIZERS_H_

#include <vector>

#include "absl/strings/string_view.h"

namespace wring {
namespace fuzz {

// backend/data/testdata/{gpt2,llama3,qwen3}_small.json, in that order.
std::vector<absl::string_view> TestTokenizerJsons();

}  // namespace fuzz
}  // namespace wring

#endif  // WRING_FUZZ_INTERNAL_TEST_TOKENIZERS_H_
