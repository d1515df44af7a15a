// Precomputed answers to "does target T match module M?" for a whole model.
//
// Resolution asks that question for every module and every target of every
// mapping (a 100k-module MoE model times dozens of targets). Running each
// regex separately is the slow part of llm-compressor's resolution; here all
// regex targets run in one RE2::Set pass per module name, exact names are a
// hash lookup and class targets a per-class lookup.
#ifndef WRING_MAPPING_MATCH_MATCH_TABLE_H_
#define WRING_MAPPING_MATCH_MATCH_TABLE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "mapping/match/pattern.h"
#include "mapping/tree/module_tree.h"

namespace wring {
namespace mapping {

// Target strings used by one check, each compiled once and given an id.
class PatternRegistry {
 public:
  // Returns the id of `target`, compiling it on first sight. Errors name the
  // target (invalid or Python-only regex).
  absl::StatusOr<int> Add(absl::string_view target);
  absl::StatusOr<std::vector<int>> AddAll(absl::Span<const std::string> targets);

  int size() const { return static_cast<int>(patterns_.size()); }
  const Pattern& pattern(int id) const { return patterns_[id]; }
  const std::string& text(int id) const { return patterns_[id].text(); }

 private:
  std::vector<Pattern> patterns_;
  absl::flat_hash_map<std::string, int> ids_;
};

class MatchTable {
 public:
  // Evaluates every pattern of `registry` against every module of `tree`.
  // Patterns added to the registry later are not covered.
  static absl::StatusOr<MatchTable> Build(const ModuleTree& tree,
                                          const PatternRegistry& registry);

  // match_name(module.name, pattern)
  bool NameMatches(int module, int pattern) const {
    return Bit(name_bits_, module, pattern);
  }
  // _match_class(module, pattern)
  bool ClassMatches(int module, int pattern) const {
    return Bit(class_bits_, module, pattern);
  }
  bool Matches(int module, int pattern) const {
    return NameMatches(module, pattern) || ClassMatches(module, pattern);
  }
  // is_match(name, module, targets, ignore): some target matches and no
  // ignore entry does.
  bool IsMatch(int module, absl::Span<const int> targets, absl::Span<const int> ignore) const;
  bool MatchesAny(int module, absl::Span<const int> patterns) const;

  // A set of patterns as a bitmask, to ask "does any of them match module m"
  // with one AND per 64 patterns (resolution asks it for every module).
  using PatternMask = std::vector<uint64_t>;
  PatternMask Mask(absl::Span<const int> patterns) const;
  bool MatchesMask(int module, const PatternMask& mask) const {
    const size_t base = static_cast<size_t>(module) * words_;
    for (int w = 0; w < words_; ++w) {
      if ((name_bits_[base + w] | class_bits_[base + w]) & mask[w]) return true;
    }
    return false;
  }

  int num_patterns() const { return num_patterns_; }

 private:
  bool Bit(const std::vector<uint64_t>& bits, int module, int pattern) const {
    size_t index = static_cast<size_t>(module) * words_ + (pattern >> 6);
    return (bits[index] >> (pattern & 63)) & 1;
  }

  int num_patterns_ = 0;
  int words_ = 0;
  std::vector<uint64_t> name_bits_;
  std::vector<uint64_t> class_bits_;
};

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_MATCH_MATCH_TABLE_H_
