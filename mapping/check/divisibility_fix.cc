#include "mapping/check/divisibility_fix.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "mapping/report/layer_ranges.h"
#include "re2/re2.h"

namespace wring {
namespace mapping {
namespace {

constexpr const char* kTowers[] = {"vision_tower", "vision_model", "visual", "audio_tower",
                                   "multi_modal_projector", "vision_embed", "audio_model"};

std::string Quote(absl::string_view text) {
  return RE2::QuoteMeta(re2::StringPiece(text.data(), text.size()));
}

// The tower component of `name` with everything before it
// ("model.visual."), or "".
std::string TowerPrefix(absl::string_view name) {
  for (const char* tower : kTowers) {
    const std::string component = absl::StrCat(tower, ".");
    size_t at = name.find(component);
    while (at != absl::string_view::npos && at != 0 && name[at - 1] != '.') {
      at = name.find(component, at + 1);
    }
    if (at != absl::string_view::npos) return std::string(name.substr(0, at + component.size()));
  }
  return "";
}

}  // namespace

std::vector<std::string> IgnorePatternsFor(const ModuleTree& tree,
                                           const std::vector<IndivisibleLayer>& layers,
                                           const std::vector<bool>& targeted) {
  std::set<int> wanted;
  for (const IndivisibleLayer& l : layers) wanted.insert(l.module);
  // One candidate per (layer stack, name inside the layer); names outside a
  // layer stack stay exact.
  std::vector<std::string> order;
  std::map<std::string, std::vector<int>> members;
  for (const IndivisibleLayer& l : layers) {
    const std::string& name = tree.module(l.module).name;
    LayerName split = SplitLayerName(name);
    std::string pattern = split.layer.has_value()
                              ? absl::StrCat("re:", Quote(split.prefix), "\\d+\\.",
                                             Quote(split.rest), "$")
                              : name;
    if (!members.count(pattern)) order.push_back(pattern);
    members[pattern].push_back(l.module);
  }
  std::vector<std::string> out;
  for (const std::string& pattern : order) {
    bool exact = true;
    if (absl::StartsWith(pattern, "re:")) {
      RE2 re(pattern.substr(3));
      for (int m = 0; m < tree.size() && exact; ++m) {
        if (m < static_cast<int>(targeted.size()) && targeted[m] && !wanted.count(m) &&
            RE2::FullMatch(tree.module(m).name, re)) {
          exact = false;
        }
      }
    }
    if (exact) {
      out.push_back(pattern);
    } else {
      for (int m : members[pattern]) out.push_back(tree.module(m).name);
    }
  }
  return out;
}

absl::optional<int64_t> DividingGroupSize(const std::vector<int64_t>& columns,
                                          int64_t group_size) {
  for (int64_t candidate = 1024; candidate >= 32; candidate /= 2) {
    if (candidate >= group_size) continue;
    bool divides = true;
    for (int64_t c : columns) {
      if (c >= candidate && c % candidate != 0) divides = false;
    }
    if (divides) return candidate;
  }
  return absl::nullopt;
}

std::string CommonNonTextTower(const ModuleTree& tree,
                               const std::vector<IndivisibleLayer>& layers) {
  std::string common;
  for (const IndivisibleLayer& l : layers) {
    std::string tower = TowerPrefix(tree.module(l.module).name);
    if (tower.empty() || (!common.empty() && tower != common)) return "";
    common = tower;
  }
  return common;
}

std::string DivisibilityFix(const ModuleTree& tree, const std::vector<IndivisibleLayer>& layers,
                            const std::vector<int64_t>& grouped_columns,
                            const std::vector<bool>& targeted) {
  std::vector<std::string> patterns = IgnorePatternsFor(tree, layers, targeted);
  // YAML single quotes keep regex backslashes as written.
  std::vector<std::string> quoted;
  for (const std::string& p : patterns) {
    quoted.push_back(absl::StrCat("'", absl::StrReplaceAll(p, {{"'", "''"}}), "'"));
  }
  std::string fix = absl::StrCat("Add to this modifier's `ignore`: [", absl::StrJoin(quoted, ", "),
                                 "] (exactly the ", layers.size(), " layer",
                                 layers.size() == 1 ? "" : "s", " listed)");
  const std::string tower = CommonNonTextTower(tree, layers);
  if (!tower.empty()) {
    absl::StrAppend(&fix, "; all of them are in ", tower,
                    "*, which is usually kept in full precision: 're:", Quote(tower),
                    ".*' ignores that whole tower");
  }
  const int64_t group_size = layers.front().group_size;
  std::set<int64_t> bad_columns;
  for (const IndivisibleLayer& l : layers) bad_columns.insert(l.columns);
  if (auto divisor = DividingGroupSize(grouped_columns, group_size)) {
    absl::StrAppend(&fix, ". Or use `group_size: ", *divisor,
                    "`, which divides every targeted layer's columns");
  } else {
    absl::StrAppend(&fix, ". No power-of-two group_size from 32 up divides ",
                    absl::StrJoin(bad_columns, ", "), " columns");
  }
  absl::StrAppend(&fix,
                  ". Or set `bypass_divisibility_checks: true` if your runtime (e.g. vLLM) "
                  "supports a partial last group.");
  return fix;
}

}  // namespace mapping
}  // namespace wring
