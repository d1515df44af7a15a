// Target and ignore strings with compressed-tensors' matching semantics.
//
// A target is either "re:<python regex>", matched as Python's
// `re.match(regex, name)` (anchored at the start only), or a plain string,
// which matches a module whose full name equals it or any of whose classes
// (MRO) has that name ("Linear" also matches vLLM's LinearBase).
//
// Regexes run on RE2. Python-only syntax RE2 cannot express (lookaround,
// backreferences, atomic groups, ...) is rejected with an error naming the
// construct instead of being matched differently from Python.
#ifndef WRING_MAPPING_MATCH_PATTERN_H_
#define WRING_MAPPING_MATCH_PATTERN_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mapping/tree/module_tree.h"
#include "re2/re2.h"

namespace wring {
namespace mapping {

// Rewrites a Python regex into an RE2 regex that accepts exactly the same
// names, or fails naming the Python-only construct and its position.
absl::StatusOr<std::string> TranslatePythonRegex(absl::string_view python_regex);

class Pattern {
 public:
  // Fails for an invalid regex or Python-only regex syntax; the message names
  // the target string.
  static absl::StatusOr<Pattern> Compile(absl::string_view target);

  const std::string& text() const { return text_; }
  bool is_regex() const { return regex_ != nullptr; }
  // The RE2 form of a regex target (after translation), for RE2::Set.
  const std::string& re2_pattern() const { return re2_pattern_; }

  // match_name(name, target).
  bool MatchesName(absl::string_view name) const;
  // _match_class(module, target).
  bool MatchesClass(const Module& module) const;
  bool Matches(const Module& module) const {
    return MatchesName(module.name) || MatchesClass(module);
  }

 private:
  std::string text_;
  std::string re2_pattern_;
  std::shared_ptr<const RE2> regex_;
};

// True when `target` would match a class name: it is not a regex (class
// names contain no ':').
inline bool IsRegexTarget(absl::string_view target) {
  return target.size() >= 3 && target.substr(0, 3) == "re:";
}

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_MATCH_PATTERN_H_
