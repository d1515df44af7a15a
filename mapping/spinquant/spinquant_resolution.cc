#include "mapping/spinquant/spinquant_resolution.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "mapping/base/python_repr.h"
#include "mapping/base/status_macros.h"
#include "mapping/match/match_table.h"

namespace wring {
namespace mapping {
namespace spinquant {
namespace {

Json ModuleNames(const ModuleTree& tree, const std::vector<int>& modules) {
  Json names = Json::array();
  for (int m : modules) names.push_back(tree.module(m).name);
  return names;
}

Json StringList(const std::vector<std::string>& items) {
  Json list = Json::array();
  for (const std::string& item : items) list.push_back(item);
  return list;
}

}  // namespace

absl::StatusOr<SpinQuantResolution> ResolveSpinQuant(const ModuleTree& tree) {
  const std::string architecture = tree.size() > 0 ? tree.root_class() : std::string();
  InferredSpinQuantMapping inferred = InferSpinQuantMapping(architecture);
  InferredNormMappings inferred_norms = InferNormMappings(architecture);
  WRING_ASSIGN_OR_RETURN(SpinQuantResolution resolution,
                         ResolveSpinQuant(tree, *inferred.mapping, *inferred_norms.mappings));
  resolution.architecture = architecture;
  // on_initialize infers the SpinQuant mapping first, then the norm mappings.
  if (inferred.info_message) resolution.info_messages.push_back(*inferred.info_message);
  if (inferred_norms.info_message) {
    resolution.info_messages.push_back(*inferred_norms.info_message);
  }
  return resolution;
}

absl::StatusOr<SpinQuantResolution> ResolveSpinQuant(
    const ModuleTree& tree, const SpinQuantMapping& mapping,
    const std::vector<NormMapping>& norm_mappings) {
  SpinQuantResolution resolution;
  resolution.architecture = tree.size() > 0 ? tree.root_class() : std::string();
  resolution.mapping = mapping;
  resolution.norm_mappings = norm_mappings;

  // Register every target first so one MatchTable pass answers them all.
  PatternRegistry registry;
  std::vector<SpinQuantMappingField> fields = MappingFields(mapping);
  std::vector<std::vector<int>> field_ids;
  for (const SpinQuantMappingField& field : fields) {
    WRING_ASSIGN_OR_RETURN(std::vector<int> ids, registry.AddAll(field.targets));
    field_ids.push_back(std::move(ids));
  }
  std::vector<std::vector<int>> norm_ids;
  for (const NormMapping& norm : norm_mappings) {
    std::vector<std::string> targets = {norm.norm};
    targets.insert(targets.end(), norm.linears.begin(), norm.linears.end());
    WRING_ASSIGN_OR_RETURN(std::vector<int> ids, registry.AddAll(targets));
    norm_ids.push_back(std::move(ids));
  }
  WRING_ASSIGN_OR_RETURN(MatchTable table, MatchTable::Build(tree, registry));

  for (size_t f = 0; f < fields.size(); ++f) {
    NamedModuleMatches matches = MatchNamedModules(tree, table, field_ids[f]);
    FieldMatches out;
    out.field = fields[f].name;
    out.targets = fields[f].targets;
    out.modules = std::move(matches.modules);
    for (int id : matches.unmatched_targets) out.unmatched_targets.push_back(registry.text(id));
    resolution.fields.push_back(std::move(out));
  }

  for (size_t n = 0; n < norm_mappings.size(); ++n) {
    NormGroups groups;
    groups.mapping = norm_mappings[n];
    groups.match_error = MatchModulesSet(
        tree, table, registry, norm_ids[n], /*ignore=*/{}, [&groups](const ModuleSet& set) {
          if (set[0].size() != 1 && !groups.first_set_without_single_norm) {
            groups.first_set_without_single_norm = static_cast<int>(groups.sets.size());
          }
          groups.sets.push_back(set);
          return absl::OkStatus();
        });
    resolution.norms.push_back(std::move(groups));
  }
  return resolution;
}

absl::Status FuseNormsError(const ModuleTree& tree, const SpinQuantResolution& resolution) {
  for (const NormGroups& groups : resolution.norms) {
    // The assertion runs on each set as it is yielded, before the generator
    // can reach its own end-of-walk error.
    if (groups.first_set_without_single_norm) {
      const ModuleSet& set = groups.sets[*groups.first_set_without_single_norm];
      std::vector<std::string> norms;
      for (int m : set[0]) norms.push_back(tree.module(m).name);
      return absl::FailedPreconditionError(absl::StrCat(
          "AssertionError in SpinQuantModifier._fuse_norms (assert len(norm) == 1): norm "
          "mapping ",
          PythonStrRepr(groups.mapping.norm), " grouped ", norms.size(),
          " norm modules with one set of linears: ", PythonListRepr(norms),
          ". The norm target must match exactly one module per layer next to the linears "
          "it feeds; SpinQuant's norm mappings come from NORM_MAPPING_REGISTRY, so this "
          "architecture needs its own entry there."));
    }
    if (!groups.match_error.ok()) return groups.match_error;
  }
  return absl::OkStatus();
}

Json ResolutionToJson(const ModuleTree& tree, const SpinQuantResolution& resolution) {
  Json out = Json::object();
  out["head_dim"] =
      resolution.mapping.attn_head_dim ? Json(*resolution.mapping.attn_head_dim) : Json(nullptr);
  Json fields = Json::object();
  for (const FieldMatches& field : resolution.fields) {
    Json entry = Json::object();
    entry["patterns"] = StringList(field.targets);
    entry["matches"] = ModuleNames(tree, field.modules);
    fields[field.field] = std::move(entry);
  }
  out["fields"] = std::move(fields);
  Json norms = Json::array();
  for (const NormGroups& groups : resolution.norms) {
    Json entry = Json::object();
    entry["norm"] = groups.mapping.norm;
    entry["linears"] = StringList(groups.mapping.linears);
    if (!groups.match_error.ok()) {
      entry["error"] = std::string(groups.match_error.message());
    } else {
      Json sets = Json::array();
      for (const ModuleSet& set : groups.sets) {
        Json lists = Json::array();
        for (const std::vector<int>& modules : set) lists.push_back(ModuleNames(tree, modules));
        sets.push_back(std::move(lists));
      }
      entry["groups"] = std::move(sets);
    }
    norms.push_back(std::move(entry));
  }
  out["norms"] = std::move(norms);
  return out;
}

}  // namespace spinquant
}  // namespace mapping
}  // namespace wring
