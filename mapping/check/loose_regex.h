// Recipe regexes whose unescaped `.` matches more than the name it spells
// (llm-compressor issue #1642: "re:model.language_model.layers.1.*" also
// ignores layers 10-19). Upstream matches them silently; wring shows what
// they over-match next to the pattern the dots suggest.
#ifndef WRING_MAPPING_CHECK_LOOSE_REGEX_H_
#define WRING_MAPPING_CHECK_LOOSE_REGEX_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "mapping/check/diagnostic_list.h"
#include "mapping/proto/recipe.pb.h"
#include "mapping/tree/module_tree.h"

namespace wring {
namespace mapping {

// The regex with every `.` that stands between name characters escaped,
// and `<digit>.*` / `<digit>.+` turned into `<digit>\..*` (a layer number
// ends at a dot). nullopt when nothing changes. `regex` has no "re:".
absl::optional<std::string> StrictDotVariant(absl::string_view regex);

// A warning (code "recipe.loose_regex", wring's advice) for every `re:`
// target, ignore entry or AWQ mapping pattern of `recipe` that matches
// modules its strict variant does not.
void WarnAboutLooseRegexes(const ModuleTree& tree, const recipe::Recipe& recipe,
                           DiagnosticList* diagnostics);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_CHECK_LOOSE_REGEX_H_
