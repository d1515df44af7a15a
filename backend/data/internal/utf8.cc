#include "backend/data/internal/utf8.h"

#include "absl/strings/str_cat.h"

namespace wring {
namespace backend {
namespace data {
namespace internal {

absl::Status ValidateUtf8(absl::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    const unsigned char lead = static_cast<unsigned char>(text[pos]);
    size_t length;
    char32_t min_value;
    char32_t value;
    if (lead < 0x80) {
      ++pos;
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2, min_value = 0x80, value = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3, min_value = 0x800, value = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4, min_value = 0x10000, value = lead & 0x07;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("text is not valid UTF-8: byte 0x", absl::Hex(lead),
                       " at offset ", pos, " cannot start a character"));
    }
    if (pos + length > text.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "text is not valid UTF-8: truncated character at offset ", pos));
    }
    for (size_t i = 1; i < length; ++i) {
      const unsigned char next = static_cast<unsigned char>(text[pos + i]);
      if ((next & 0xC0) != 0x80) {
        return absl::InvalidArgumentError(absl::StrCat(
            "text is not valid UTF-8: bad continuation byte at offset ", pos + i));
      }
      value = (value << 6) | (next & 0x3F);
    }
    if (value < min_value || value > 0x10FFFF ||
        (value >= 0xD800 && value < 0xE000)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "text is not valid UTF-8: overlong, surrogate or out-of-range "
          "character at offset ",
          pos));
    }
    pos += length;
  }
  return absl::OkStatus();
}

size_t Utf8CharLength(absl::string_view text, size_t pos) {
  const unsigned char lead = static_cast<unsigned char>(text[pos]);
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  return 4;
}

char32_t DecodeUtf8At(absl::string_view text, size_t pos) {
  const size_t length = Utf8CharLength(text, pos);
  const unsigned char lead = static_cast<unsigned char>(text[pos]);
  if (length == 1) return lead;
  char32_t value = lead & (0xFF >> (length + 1));
  for (size_t i = 1; i < length; ++i) {
    value = (value << 6) | (static_cast<unsigned char>(text[pos + i]) & 0x3F);
  }
  return value;
}

std::vector<char32_t> DecodeUtf8(absl::string_view valid_text) {
  std::vector<char32_t> code_points;
  code_points.reserve(valid_text.size());
  for (size_t pos = 0; pos < valid_text.size();
       pos += Utf8CharLength(valid_text, pos)) {
    code_points.push_back(DecodeUtf8At(valid_text, pos));
  }
  return code_points;
}

void AppendUtf8(char32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (c >> 18)));
    out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

}  // namespace internal
}  // namespace data
}  // namespace backend
}  // namespace wring
