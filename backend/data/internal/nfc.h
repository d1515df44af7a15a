// Unicode NFC normalization with the reference's data.
//
// Qwen2/Qwen3 tokenizer.json files set the NFC normalizer; `tokenizers` runs
// it with the Unicode version of its normalization crate (older than the
// Oniguruma one), so the tables come from probing the reference
// (unicode_tables.h) instead of from ICU or the newest Unicode.
#ifndef WRING_BACKEND_DATA_INTERNAL_NFC_H_
#define WRING_BACKEND_DATA_INTERNAL_NFC_H_

#include <string>

#include "absl/strings/string_view.h"

namespace wring {
namespace backend {
namespace data {
namespace internal {

// NFC of `valid_utf8` (must be valid UTF-8; see ValidateUtf8).
std::string NormalizeNfc(absl::string_view valid_utf8);

}  // namespace internal
}  // namespace data
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_DATA_INTERNAL_NFC_H_
