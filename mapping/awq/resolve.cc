#include "mapping/awq/resolve.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "mapping/base/python_repr.h"
#include "mapping/base/status_macros.h"
#include "mapping/match/match_table.h"
#include "mapping/match/matchers.h"

namespace wring {
namespace mapping {
namespace {

// _check_layers_are_compatible: only the v_proj/qkv_proj -> o_proj shape
// mismatch (grouped-query attention) is detected upstream.
bool LayersAreCompatible(const ModuleTree& tree, int smooth, const std::vector<int>& balance) {
  const Module& s = tree.module(smooth);
  if (!tree.IsInstance(smooth, "Linear")) return true;
  for (int b : balance) {
    const Module& layer = tree.module(b);
    if (!tree.IsInstance(b, "Linear") || !absl::EndsWith(layer.name, ".o_proj")) continue;
    if (s.out_features < 0 || layer.in_features < 0) continue;  // unknown shapes
    if (absl::EndsWith(s.name, ".v_proj") && s.out_features != layer.in_features) return false;
    if (absl::EndsWith(s.name, ".qkv_proj") && s.out_features != 3 * layer.in_features) {
      return false;
    }
  }
  return true;
}

// getattr_chain(parent, path) over submodules. Upstream raises
// AttributeError for a missing attribute; its message embeds the module's
// repr, which only exists at run time, so wring names the class instead.
absl::StatusOr<int> ResolveHookTarget(const ModuleTree& tree, int parent,
                                      const std::string& path) {
  int current = parent;
  for (absl::string_view part : absl::StrSplit(path, '.')) {
    std::string child_name = tree.module(current).name.empty()
                                 ? std::string(part)
                                 : absl::StrCat(tree.module(current).name, ".", part);
    absl::optional<int> child = tree.Find(child_name);
    if (!child.has_value()) {
      return absl::NotFoundError(absl::StrCat("AttributeError: ",
                                              tree.module(current).class_name,
                                              "(...) object has no attribute ", part));
    }
    current = *child;
  }
  return current;
}

}  // namespace

const char* AwqSkipReasonName(AwqSkipReason reason) {
  switch (reason) {
    case AwqSkipReason::kIncompatible:
      return "incompatible";
    case AwqSkipReason::kNoBalance:
      return "no_balance";
    case AwqSkipReason::kNotTargeted:
      return "not_targeted";
  }
  return "incompatible";
}

absl::StatusOr<AwqResolution> ResolveAwqMappings(const ModuleTree& tree,
                                                 const std::vector<AwqMapping>& mappings,
                                                 const std::vector<bool>& targeted) {
  PatternRegistry registry;
  std::vector<std::vector<int>> mapping_targets;
  for (const AwqMapping& mapping : mappings) {
    std::vector<std::string> targets = {mapping.smooth_layer};
    targets.insert(targets.end(), mapping.balance_layers.begin(), mapping.balance_layers.end());
    auto ids = registry.AddAll(targets);
    if (!ids.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "AWQ mapping ", AwqMappingRepr(mapping), ": ", ids.status().message()));
    }
    mapping_targets.push_back(*std::move(ids));
  }
  WRING_ASSIGN_OR_RETURN(MatchTable table, MatchTable::Build(tree, registry));

  AwqResolution result;
  int num_incompatible = 0;
  for (size_t i = 0; i < mappings.size(); ++i) {
    const AwqMapping& mapping = mappings[i];
    const int index = static_cast<int>(i);
    auto on_set = [&](const ModuleSet& set) -> absl::Status {
      const std::vector<int>& smooth_layers = set[0];
      if (smooth_layers.size() > 1) {
        std::vector<std::string> names;
        for (int s : smooth_layers) names.push_back(tree.module(s).name);
        return absl::FailedPreconditionError(absl::StrCat(
            "ValueError: AWQ needs to match a single smoothlayer for each mapping but got ",
            PythonListRepr(names), " for mapping: ", AwqMappingRepr(mapping)));
      }
      const int smooth = smooth_layers[0];
      std::vector<int> balance;
      for (size_t t = 1; t < set.size(); ++t) {
        balance.insert(balance.end(), set[t].begin(), set[t].end());
      }
      bool any_targeted = targeted[smooth];
      for (int b : balance) any_targeted = any_targeted || targeted[b];
      const std::string& smooth_name = tree.module(smooth).name;
      if (!LayersAreCompatible(tree, smooth, balance)) {
        ++num_incompatible;
        result.skipped.push_back({index, smooth, AwqSkipReason::kIncompatible});
        return absl::OkStatus();
      }
      if (!any_targeted || balance.empty()) {
        AwqSkipReason reason =
            balance.empty() ? AwqSkipReason::kNoBalance : AwqSkipReason::kNotTargeted;
        result.skipped.push_back({index, smooth, reason});
        result.log.push_back(absl::StrCat(
            "WARNING Skipping ", smooth_name, " for mapping ", AwqMappingRepr(mapping),
            " because ",
            balance.empty() ? "no balance layers were found."
                            : "no layers are targeted for quantization."));
        return absl::OkStatus();
      }
      const int parent = LowestCommonAncestorAvoidingModuleList(tree, balance);
      absl::optional<int> hook;
      if (mapping.activation_hook_target.has_value() && !mapping.activation_hook_target->empty()) {
        auto target = ResolveHookTarget(tree, parent, *mapping.activation_hook_target);
        if (!target.ok()) return absl::FailedPreconditionError(target.status().message());
        hook = *target;
      }
      result.resolved.push_back({index, smooth, std::move(balance), parent, hook});
      return absl::OkStatus();
    };
    absl::Status status =
        MatchModulesSet(tree, table, registry, mapping_targets[i], /*ignore=*/{}, on_set);
    if (!status.ok()) {
      std::string message(status.message());
      // Matching errors come from compressed-tensors as ValueError.
      if (!absl::StartsWith(message, "ValueError: ") &&
          !absl::StartsWith(message, "AttributeError: ")) {
        message = absl::StrCat("ValueError: ", message);
      }
      result.error = std::move(message);
      result.error_mapping_index = index;
      return result;
    }
  }
  if (num_incompatible > 0) {
    result.log.push_back(absl::StrCat(
        "WARNING ", num_incompatible,
        " mappings were skipped due to incompatible shapes. Set logging to DEBUG to view "
        "full list."));
  }
  return result;
}

}  // namespace mapping
}  // namespace wring
