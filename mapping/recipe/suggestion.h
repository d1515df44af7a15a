// "Did you mean ...?" suggestions for misspelled names in recipes.
//
// Recipe errors for unknown modifiers and unknown keys name the closest valid
// spelling, so a typo like `AWQModifer` or `duo_scailng` is fixed in one step.
#ifndef WRING_MAPPING_RECIPE_SUGGESTION_H_
#define WRING_MAPPING_RECIPE_SUGGESTION_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "absl/types/span.h"

namespace wring {
namespace mapping {

// Edit distance (insert, delete, substitute, swap two neighbours; each costs
// 1: optimal string alignment), compared
// byte by byte and ignoring ASCII case, so `awqmodifier` is 0 away from
// `AWQModifier`.
int EditDistanceIgnoringCase(absl::string_view a, absl::string_view b);

// The candidate closest to `word`, if one is close enough to be a plausible
// typo: at most max(2, len(word) / 3) edits. Ties go to the earlier candidate.
absl::optional<std::string> ClosestName(absl::string_view word,
                                        absl::Span<const std::string> candidates);

// "did you mean 'X'?" when ClosestName finds one, else "".
std::string DidYouMean(absl::string_view word,
                       absl::Span<const std::string> candidates);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_RECIPE_SUGGESTION_H_
