// Unicode data as the reference (Hugging Face `tokenizers`) sees it.
//
// Generated into unicode_tables.cc by testdata/gen_unicode_tables.py, which
// probes the reference library itself: its Split regexes (Oniguruma) and its
// NFC normalizer (an older Unicode version) disagree with each other and with
// the system RE2's built-in tables, and ids must match the reference exactly.
#ifndef WRING_BACKEND_DATA_INTERNAL_UNICODE_TABLES_H_
#define WRING_BACKEND_DATA_INTERNAL_UNICODE_TABLES_H_

#include <cstddef>
#include <cstdint>

namespace wring {
namespace backend {
namespace data {
namespace internal {

struct CodePointRange {
  char32_t first;
  char32_t last;  // inclusive
};

struct CombiningClassRange {
  char32_t first;
  char32_t last;  // inclusive
  uint8_t combining_class;
};

// One level of a canonical decomposition (second == 0 for singletons);
// `composes` marks primary composites (not excluded from composition).
struct CanonicalDecomposition {
  char32_t code_point;
  char32_t first;
  char32_t second;
  bool composes;
};

// Sorted, non-overlapping. Hangul syllables are algorithmic and not listed.
extern const CodePointRange kLetterRanges[];  // \p{L}
extern const size_t kLetterRangesSize;
extern const CodePointRange kNumberRanges[];  // \p{N}
extern const size_t kNumberRangesSize;
extern const CodePointRange kWhiteSpaceRanges[];  // \s
extern const size_t kWhiteSpaceRangesSize;
extern const CombiningClassRange kCombiningClassRanges[];
extern const size_t kCombiningClassRangesSize;
extern const CanonicalDecomposition kCanonicalDecompositions[];
extern const size_t kCanonicalDecompositionsSize;

}  // namespace internal
}  // namespace data
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_DATA_INTERNAL_UNICODE_TABLES_H_
