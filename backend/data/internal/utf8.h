// UTF-8 validation, decoding and encoding for the tokenizer.
//
// The reference works on Rust `str`, which is always valid UTF-8; user text
// that is not (bytes, lone surrogates, overlongs) is rejected up front so the
// tokenizer never has to guess.
#ifndef WRING_BACKEND_DATA_INTERNAL_UTF8_H_
#define WRING_BACKEND_DATA_INTERNAL_UTF8_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace wring {
namespace backend {
namespace data {
namespace internal {

// OK, or InvalidArgument naming the byte offset of the first bad sequence.
absl::Status ValidateUtf8(absl::string_view text);

// Length in bytes of the character starting at text[pos] (text must be valid).
size_t Utf8CharLength(absl::string_view text, size_t pos);

// Code point starting at text[pos] (text must be valid).
char32_t DecodeUtf8At(absl::string_view text, size_t pos);

std::vector<char32_t> DecodeUtf8(absl::string_view valid_text);
void AppendUtf8(char32_t code_point, std::string* out);

}  // namespace internal
}  // namespace data
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_DATA_INTERNAL_UTF8_H_
