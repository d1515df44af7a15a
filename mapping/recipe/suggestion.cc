#include "mapping/recipe/suggestion.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace wring {
namespace mapping {

int EditDistanceIgnoringCase(absl::string_view a, absl::string_view b) {
  // Optimal string alignment: swapped neighbours ("W4A61" for "W4A16") are
  // one typo, not two. Three rolling rows keep memory linear.
  if (a.size() < b.size()) std::swap(a, b);
  auto lower = [](char c) { return absl::ascii_tolower(static_cast<unsigned char>(c)); };
  std::vector<int> before(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) previous[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = static_cast<int>(i);
    const char ca = lower(a[i - 1]);
    for (size_t j = 1; j <= b.size(); ++j) {
      const char cb = lower(b[j - 1]);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1,
                             previous[j - 1] + (ca == cb ? 0 : 1)});
      if (i > 1 && j > 1 && ca == lower(b[j - 2]) && lower(a[i - 2]) == cb) {
        current[j] = std::min(current[j], before[j - 2] + 1);
      }
    }
    std::swap(before, previous);
    std::swap(previous, current);
  }
  return previous[b.size()];
}

absl::optional<std::string> ClosestName(absl::string_view word,
                                        absl::Span<const std::string> candidates) {
  // Long typos cost a few edits; very short words need a tight bound or every
  // two-letter key would "match" every other.
  const int limit = std::max<int>(2, static_cast<int>(word.size()) / 3);
  // Words far longer than any candidate cannot be typos; skip the quadratic
  // work on hostile input.
  if (word.size() > 256) return absl::nullopt;
  absl::optional<std::string> best;
  int best_distance = limit + 1;
  for (const std::string& candidate : candidates) {
    const int distance = EditDistanceIgnoringCase(word, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

std::string DidYouMean(absl::string_view word,
                       absl::Span<const std::string> candidates) {
  absl::optional<std::string> best = ClosestName(word, candidates);
  if (!best.has_value()) return "";
  return absl::StrCat("did you mean '", *best, "'?");
}

}  // namespace mapping
}  // namespace wring
