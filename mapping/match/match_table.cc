#include "mapping/match/match_table.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
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

namespace {

// The literal text a regex's match must end with, when it has one: the
// pattern ends in "<literal>$" and has no top-level alternation or inline
// flags (which could change what the literal means). "" when unknown.
std::string RequiredSuffix(const std::string& re) {
  if (re.size() < 2 || re.back() != '$' || re.find("(?") != std::string::npos) return "";
  int depth = 0;
  bool in_class = false;
  for (size_t i = 0; i + 1 < re.size(); ++i) {
    char c = re[i];
    if (c == '\\') {
      ++i;
    } else if (in_class) {
      in_class = c != ']';
    } else if (c == '[') {
      in_class = true;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      --depth;
    } else if (c == '|' && depth == 0) {
      return "";
    }
  }
  // Walk back from the '$' over plain characters and escaped punctuation.
  std::string suffix;
  size_t end = re.size() - 1;
  while (end > 0) {
    char c = re[end - 1];
    bool escaped = end >= 2 && re[end - 2] == '\\' && !(end >= 3 && re[end - 3] == '\\');
    if (escaped && (c == '.' || c == '-' || c == '/' || c == '_')) {
      suffix.insert(suffix.begin(), c);
      end -= 2;
    } else if (!escaped && (absl::ascii_isalnum(c) || c == '_' || c == '-' || c == '/')) {
      suffix.insert(suffix.begin(), c);
      end -= 1;
    } else {
      break;
    }
  }
  return suffix;
}

// Regex patterns matched together in one RE2::Set pass, falling back to one
// regex at a time if the combined automaton runs out of memory. Names that
// end in none of the patterns' required literals skip the pass.
class RegexGroup {
 public:
  explicit RegexGroup(const RE2::Options& options) : set_(options, RE2::ANCHOR_START) {}

  absl::Status Add(const Pattern& pattern, int id) {
    std::string error;
    if (set_.Add(pattern.re2_pattern(), &error) < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "target \"", pattern.text(), "\" is not a valid regular expression: ", error));
    }
    pattern_ids_.push_back(id);
    std::string suffix = RequiredSuffix(pattern.re2_pattern());
    if (suffix.empty()) all_have_suffix_ = false;
    suffixes_.push_back(std::move(suffix));
    return absl::OkStatus();
  }
  bool empty() const { return pattern_ids_.empty(); }
  void Compile() { compiled_ = !pattern_ids_.empty() && set_.Compile(); }

  // Fills `ids` with the registry ids of the patterns matching `name`.
  // False when `name` ends in none of the patterns' required literals, so
  // no pattern of the group can match it.
  bool CanMatch(absl::string_view name) const {
    if (!all_have_suffix_) return true;
    for (const std::string& suffix : suffixes_) {
      if (absl::EndsWith(name, suffix)) return true;
    }
    return false;
  }

  void Match(const PatternRegistry& registry, const std::string& name, std::vector<int>* ids) {
    ids->clear();
    if (!CanMatch(name)) return;
    RE2::Set::ErrorInfo info;
    if (compiled_ && set_.Match(name, &set_hits_, &info)) {
      for (int h : set_hits_) ids->push_back(pattern_ids_[h]);
    } else if (!compiled_ || info.kind != RE2::Set::kNoError) {
      for (int id : pattern_ids_) {
        if (registry.pattern(id).MatchesName(name)) ids->push_back(id);
      }
    }
  }

 private:
  RE2::Set set_;
  bool compiled_ = false;
  std::vector<int> pattern_ids_;  // set index -> registry id
  std::vector<std::string> suffixes_;
  bool all_have_suffix_ = true;
  std::vector<int> set_hits_;
};

}  // namespace

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

  // Regex targets run as RE2::Sets. A pattern with no digit character in it
  // cannot tell one digit from another (digits are contiguous, so a class or
  // range without digit endpoints holds all of them or none), so its answer
  // is the same for a name with every digit replaced by '0': those patterns
  // are evaluated once per such normalized name. Patterns that spell digits
  // (layer-index alternations) run on every name. Plain targets are exact
  // names and class names, through hash maps.
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(int64_t{256} << 20);
  RegexGroup digit_free(options), digit_aware(options);
  absl::flat_hash_map<std::string, std::vector<int>> plain;
  for (int id = 0; id < registry.size(); ++id) {
    const Pattern& p = registry.pattern(id);
    if (!p.is_regex()) {
      plain[p.text()].push_back(id);
      continue;
    }
    RegexGroup& group =
        p.text().find_first_of("0123456789") == std::string::npos ? digit_free : digit_aware;
    WRING_RETURN_IF_ERROR(group.Add(p, id));
  }
  digit_free.Compile();
  digit_aware.Compile();
  const auto module_target = plain.find("Module");
  absl::flat_hash_map<std::string, std::vector<int>> memo;
  std::string normalized;
  std::vector<int> hits;
  for (int m = 0; m < tree.size(); ++m) {
    const Module& module = tree.module(m);
    if (!digit_free.empty() && digit_free.CanMatch(module.name)) {
      normalized = module.name;
      for (char& c : normalized) {
        if (c >= '0' && c <= '9') c = '0';
      }
      auto [it, inserted] = memo.try_emplace(normalized);
      if (inserted) digit_free.Match(registry, module.name, &it->second);
      for (int id : it->second) set_bit(table.name_bits_, m, id);
    }
    if (!digit_aware.empty()) {
      digit_aware.Match(registry, module.name, &hits);
      for (int id : hits) set_bit(table.name_bits_, m, id);
    }
    if (plain.empty()) continue;
    // torch.nn.Module ends every MRO; module trees leave it out.
    if (module_target != plain.end()) {
      for (int id : module_target->second) set_bit(table.class_bits_, m, id);
    }
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

MatchTable::PatternMask MatchTable::Mask(absl::Span<const int> patterns) const {
  PatternMask mask(words_, 0);
  for (int p : patterns) mask[p >> 6] |= uint64_t{1} << (p & 63);
  return mask;
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
