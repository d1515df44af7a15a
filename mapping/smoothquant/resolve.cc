#include "mapping/smoothquant/resolve.h"

#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "mapping/base/status_macros.h"
#include "mapping/match/match_table.h"
#include "mapping/base/python_repr.h"
#include "mapping/match/matchers.h"

namespace wring {
namespace mapping {
namespace smoothquant {

namespace {

std::string MappingRepr(const LayerMap& mapping, bool from_recipe) {
  return from_recipe ? RecipeLayerMapRepr(mapping) : LayerMapRepr(mapping);
}

}  // namespace

const char kSmoothQuantResolutionError[] =
    "RuntimeError: Error resolving mappings for given architecture.Please refer to the README "
    "at https://github.com/vllm-project/llm-compressor/tree/main/src/llmcompressor/modifiers/"
    "transform/smoothquant for more information.";

const char* SmoothQuantSkipReasonName(SmoothQuantSkipReason reason) {
  return reason == SmoothQuantSkipReason::kAllIgnored ? "all_ignored" : "no_balance";
}

absl::StatusOr<SmoothQuantResolution> ResolveSmoothQuantMappings(
    const ModuleTree& tree, const std::vector<LayerMap>& mappings,
    const std::vector<std::string>& ignore, bool from_recipe) {
  PatternRegistry registry;
  std::vector<std::vector<int>> mapping_targets;
  for (const LayerMap& mapping : mappings) {
    std::vector<std::string> leaves = mapping.balance_layers;
    leaves.push_back(mapping.smooth_layers);
    auto ids = registry.AddAll(leaves);
    if (!ids.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("SmoothQuant mapping ",
                                                     MappingRepr(mapping, from_recipe),
                                                     ": ", ids.status().message()));
    }
    mapping_targets.push_back(*std::move(ids));
  }
  auto ignore_ids = registry.AddAll(ignore);
  if (!ignore_ids.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("SmoothQuantModifier.ignore: ", ignore_ids.status().message()));
  }
  WRING_ASSIGN_OR_RETURN(MatchTable table, MatchTable::Build(tree, registry));
  std::set<int> ignored;
  if (!ignore.empty()) {
    for (int m : MatchNamedModules(tree, table, *ignore_ids).modules) ignored.insert(m);
  }

  SmoothQuantResolution result;
  for (size_t i = 0; i < mappings.size(); ++i) {
    const LayerMap& mapping = mappings[i];
    const int index = static_cast<int>(i);
    auto on_set = [&](const ModuleSet& set) -> absl::Status {
      const std::vector<int>& smooth_layers = set.back();
      if (smooth_layers.size() > 1) {
        std::vector<std::string> names;
        for (int s : smooth_layers) names.push_back(tree.module(s).name);
        return absl::FailedPreconditionError(absl::StrCat(
            "ValueError: SmoothQuant must match a single smooth layer for each mapping but got ",
            PythonListRepr(names), " for mapping: ", MappingRepr(mapping, from_recipe)));
      }
      const int smooth = smooth_layers[0];
      std::vector<int> balance;
      for (size_t t = 0; t + 1 < set.size(); ++t) {
        balance.insert(balance.end(), set[t].begin(), set[t].end());
      }
      bool any_not_ignored = ignored.count(smooth) == 0;
      for (int b : balance) any_not_ignored = any_not_ignored || ignored.count(b) == 0;
      const std::string& smooth_name = tree.module(smooth).name;
      if (!any_not_ignored) {
        result.skipped.push_back({index, smooth, SmoothQuantSkipReason::kAllIgnored});
        result.log.push_back(absl::StrCat("WARNING Skipping SmoothQuant for ", smooth_name,
                                          " because all layers in the mapping are in the "
                                          "ignore list"));
        return absl::OkStatus();
      }
      if (balance.empty()) {
        result.skipped.push_back({index, smooth, SmoothQuantSkipReason::kNoBalance});
        result.log.push_back(absl::StrCat("WARNING Skipping SmoothQuant for ", smooth_name,
                                          " because no balance layers were found"));
        return absl::OkStatus();
      }
      result.resolved.push_back({index, smooth, std::move(balance)});
      return absl::OkStatus();
    };
    absl::Status status =
        MatchModulesSet(tree, table, registry, mapping_targets[i], /*ignore=*/{}, on_set);
    if (!status.ok()) {
      std::string cause(status.message());
      if (!absl::StartsWith(cause, "ValueError: ")) cause = absl::StrCat("ValueError: ", cause);
      result.error = kSmoothQuantResolutionError;
      result.cause = std::move(cause);
      result.error_mapping_index = index;
      return result;
    }
  }
  return result;
}

}  // namespace smoothquant
}  // namespace mapping
}  // namespace wring
