#include "backend/data/internal/nfc.h"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "backend/data/internal/unicode_tables.h"
#include "backend/data/internal/utf8.h"

namespace wring {
namespace backend {
namespace data {
namespace internal {
namespace {

// Hangul syllables compose and decompose by formula (Unicode 3.12).
constexpr char32_t kSyllableBase = 0xAC00;
constexpr char32_t kLeadBase = 0x1100;
constexpr char32_t kVowelBase = 0x1161;
constexpr char32_t kTrailBase = 0x11A7;
constexpr char32_t kLeadCount = 19;
constexpr char32_t kVowelCount = 21;
constexpr char32_t kTrailCount = 28;
constexpr char32_t kSyllablesPerLead = kVowelCount * kTrailCount;
constexpr char32_t kSyllableCount = kLeadCount * kSyllablesPerLead;

struct NfcData {
  absl::flat_hash_map<char32_t, std::pair<char32_t, char32_t>> decompositions;
  absl::flat_hash_map<uint64_t, char32_t> compositions;
};

uint64_t PairKey(char32_t first, char32_t second) {
  return (static_cast<uint64_t>(first) << 32) | second;
}

const NfcData& Data() {
  static const NfcData* const data = [] {
    auto* built = new NfcData;
    for (size_t i = 0; i < kCanonicalDecompositionsSize; ++i) {
      const CanonicalDecomposition& d = kCanonicalDecompositions[i];
      built->decompositions[d.code_point] = {d.first, d.second};
      if (d.composes) built->compositions[PairKey(d.first, d.second)] = d.code_point;
    }
    return built;
  }();
  return *data;
}

int CombiningClass(char32_t c) {
  if (c < 0x300) return 0;  // nothing below U+0300 combines
  const CombiningClassRange* end = kCombiningClassRanges + kCombiningClassRangesSize;
  const CombiningClassRange* it = std::upper_bound(
      kCombiningClassRanges, end, c,
      [](char32_t value, const CombiningClassRange& r) { return value < r.first; });
  if (it == kCombiningClassRanges) return 0;
  --it;
  return c <= it->last ? it->combining_class : 0;
}

void Decompose(char32_t c, const NfcData& data, std::vector<char32_t>* out) {
  if (c >= kSyllableBase && c < kSyllableBase + kSyllableCount) {
    const char32_t index = c - kSyllableBase;
    out->push_back(kLeadBase + index / kSyllablesPerLead);
    out->push_back(kVowelBase + (index % kSyllablesPerLead) / kTrailCount);
    if (index % kTrailCount != 0) out->push_back(kTrailBase + index % kTrailCount);
    return;
  }
  auto it = data.decompositions.find(c);
  if (it == data.decompositions.end()) {
    out->push_back(c);
    return;
  }
  Decompose(it->second.first, data, out);
  if (it->second.second != 0) Decompose(it->second.second, data, out);
}

// The composite of `starter` + `c`, or 0 when they do not compose.
char32_t Compose(char32_t starter, char32_t c, const NfcData& data) {
  if (starter >= kLeadBase && starter < kLeadBase + kLeadCount && c >= kVowelBase &&
      c < kVowelBase + kVowelCount) {
    return kSyllableBase +
           ((starter - kLeadBase) * kVowelCount + (c - kVowelBase)) * kTrailCount;
  }
  if (starter >= kSyllableBase && starter < kSyllableBase + kSyllableCount &&
      (starter - kSyllableBase) % kTrailCount == 0 && c > kTrailBase &&
      c < kTrailBase + kTrailCount) {
    return starter + (c - kTrailBase);
  }
  auto it = data.compositions.find(PairKey(starter, c));
  return it == data.compositions.end() ? 0 : it->second;
}

}  // namespace

std::string NormalizeNfc(absl::string_view valid_utf8) {
  // ASCII is already NFC and nothing can compose onto an ASCII letter
  // without a non-ASCII mark, so all-ASCII text is returned unchanged.
  if (std::all_of(valid_utf8.begin(), valid_utf8.end(),
                  [](char ch) { return static_cast<unsigned char>(ch) < 0x80; })) {
    return std::string(valid_utf8);
  }
  const NfcData& data = Data();
  std::vector<char32_t> chars;
  chars.reserve(valid_utf8.size());
  for (char32_t c : DecodeUtf8(valid_utf8)) Decompose(c, data, &chars);

  // Canonical ordering: stable sort of every run of non-starters by class.
  for (size_t i = 0; i < chars.size();) {
    if (CombiningClass(chars[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < chars.size() && CombiningClass(chars[j]) != 0) ++j;
    std::stable_sort(chars.begin() + i, chars.begin() + j, [](char32_t a, char32_t b) {
      return CombiningClass(a) < CombiningClass(b);
    });
    i = j;
  }

  // Canonical composition. last_class is -1 while the starter is the last
  // character kept, so a character is unblocked exactly when
  // last_class < its class.
  std::vector<char32_t> composed;
  composed.reserve(chars.size());
  size_t starter = 0;
  bool have_starter = false;
  int last_class = -1;
  for (char32_t c : chars) {
    const int combining_class = CombiningClass(c);
    if (have_starter && last_class < combining_class) {
      const char32_t composite = Compose(composed[starter], c, data);
      if (composite != 0) {
        composed[starter] = composite;
        continue;
      }
    }
    if (combining_class == 0) {
      starter = composed.size();
      have_starter = true;
      last_class = -1;
    } else {
      last_class = combining_class;
    }
    composed.push_back(c);
  }
  std::string out;
  out.reserve(valid_utf8.size());
  for (char32_t c : composed) AppendUtf8(c, &out);
  return out;
}

}  // namespace internal
}  // namespace data
}  // namespace backend
}  // namespace wring
