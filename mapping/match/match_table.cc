#include "mapping/match/match_table.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "mapping/base/status_macros.h"
#include "re2/set.h"

namespace wring {
namespace mapping {

absl::StatusOr<int> PatternRegistry::Add(absl::string_view target) {
  auto it = ids_.find(target);
  if (it != ids_.end()) return it->second;
  WRING_ASSIGN_OR_RETURN(Pattern pattern, Pattern::Compile(target));
  int id = static_cast<int>(patterns_.size());
  patterns_.push_back(std::move(pattern));
  ids_.emplace(std::string(target), id);
  return id;
}

absl::StatusOr<std::vector<int>> PatternRegistry::AddAll(absl::Span<const std::string> targets) {
  std::vector<int> ids;
  ids.reserve(targets.size());
  for (const std::string& t : targets) {
    WRING_ASSIGN_OR_RETURN(int id, Add(t));
    ids.push_back(id);
  }
  return ids;
}

absl::StatusOr<MatchTable> MatchTable::Build(const ModuleTree& tree,
                                             const PatternRegistry& registry) {
  MatchTable table;
  table.num_patterns_ = registry.size();
  table.words_ = (registry.size() + 63) / 64;
  const size_t total = static_cast<size_t>(tree.size()) * table.words_;
  table.name_bits_.assign(total, 0);
  table.class_bits_.assign(total, 0);
  if (registry.size() == 0) return table;

  auto set_bit = [&](std::vector<uint64_t>& bits, int module, int pattern) {
    bits[static_cast<size_t>(module) * table.words_ + (pattern >> 6)] |= uint64_t{1}
                                                                        << (pattern & 63);
  };

  // Regex targets: one RE2::Set pass per name. Plain targets: exact names
  // and class names through hash maps.
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(int64_t{256} << 20);
  RE2::Set set(options, RE2::ANCHOR_START);
  std::vector<int> set_to_pattern;
  absl::flat_hash_map<std::string, std::vector<int>> plain;
  for (int id = 0; id < registry.size(); ++id) {
    const Pattern& p = registry.pattern(id);
    if (p.is_regex()) {
      std::string error;
      if (set.Add(p.re2_pattern(), &error) < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("target \"", p.text(), "\" is not a valid regular expression: ", error));
      }
      set_to_pattern.push_back(id);
    } else {
      plain[p.text()].push_back(id);
    }
  }
  const bool use_set = !set_to_pattern.empty() && set.Compile();
  std::vector<int> hits;
  for (int m = 0; m < tree.size(); ++m) {
    const Module& module = tree.module(m);
    if (!set_to_pattern.empty()) {
      hits.clear();
      RE2::Set::ErrorInfo info;
      if (use_set && set.Match(module.name, &hits, &info)) {
        for (int h : hits) set_bit(table.name_bits_, m, set_to_pattern[h]);
      } else if (!use_set || info.kind != RE2::Set::kNoError) {
        // The combined automaton ran out of memory: fall back to one regex
        // at a time (slower, same answers).
        for (int id : set_to_pattern) {
          if (registry.pattern(id).MatchesName(module.name)) set_bit(table.name_bits_, m, id);
        }
      }
    }
    if (plain.empty()) continue;
    auto exact = plain.find(module.name);
    if (exact != plain.end()) {
      for (int id : exact->second) set_bit(table.name_bits_, m, id);
    }
    for (const std::string& cls : module.mro) {
      auto hit = plain.find(cls);
      if (hit != plain.end()) {
        for (int id : hit->second) set_bit(table.class_bits_, m, id);
      }
      if (cls == "LinearBase") {
        auto linear = plain.find("Linear");
        if (linear != plain.end()) {
          for (int id : linear->second) set_bit(table.class_bits_, m, id);
        }
      }
    }
  }
  return table;
}

bool MatchTable::MatchesAny(int module, absl::Span<const int> patterns) const {
  for (int p : patterns) {
    if (Matches(module, p)) return true;
  }
  return false;
}

bool MatchTable::IsMatch(int module, absl::Span<const int> targets,
                         absl::Span<const int> ignore) const {
  return MatchesAny(module, targets) && !MatchesAny(module, ignore);
}

}  // namespace mapping
}  // namespace wring
