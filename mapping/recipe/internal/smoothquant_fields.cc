#include "mapping/recipe/internal/smoothquant_fields.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace mapping {
namespace recipe_internal {
namespace {

constexpr char kMappingExample[] =
    "[[\"re:.*q_proj\", \"re:.*k_proj\", \"re:.*v_proj\"], \"re:.*input_layernorm\"]";

// torch.utils._pytree.tree_leaves over one mapping: every string, depth
// first, in order.
absl::Status CollectLeaves(const ValueReader& reader, int id, const std::string& path,
                           std::vector<std::string>* leaves) {
  const YamlNode& n = reader.node(id);
  if (n.kind == YamlKind::kSequence) {
    for (size_t i = 0; i < n.items.size(); ++i) {
      WRING_RETURN_IF_ERROR(
          CollectLeaves(reader, n.items[i], absl::StrCat(path, "[", i, "]"), leaves));
    }
    return absl::OkStatus();
  }
  if (!n.is_string()) {
    return reader.Error(id, path,
                        absl::StrCat("expected a module name or regex (\"re:...\"), got ",
                                     reader.Describe(id), "; a mapping is ", kMappingExample));
  }
  leaves->push_back(n.text);
  return absl::OkStatus();
}

absl::Status ParseMapping(const ValueReader& reader, int id, const std::string& path,
                          wring::recipe::SmoothQuantMapping* mapping) {
  if (reader.node(id).kind != YamlKind::kSequence) {
    // pydantic: list[tuple | list].
    return reader.Error(id, path,
                        absl::StrCat("expected a list [[balance layers...], smooth layer], got ",
                                     reader.Describe(id), "; e.g. ", kMappingExample));
  }
  std::vector<std::string> leaves;
  WRING_RETURN_IF_ERROR(CollectLeaves(reader, id, path, &leaves));
  if (leaves.empty()) {
    return reader.Error(id, path,
                        absl::StrCat("an empty mapping; write [[balance layers...], smooth "
                                     "layer], e.g. ",
                                     kMappingExample));
  }
  *mapping->mutable_location() = reader.Location(id);
  mapping->set_smooth_layer(leaves.back());
  leaves.pop_back();
  for (std::string& leaf : leaves) mapping->add_balance_layers(std::move(leaf));
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseSmoothQuant(const ValueReader& reader, int body_id, const std::string& path,
                              const std::string& modifier_name,
                              wring::recipe::SmoothQuantModifier* out) {
  if (modifier_name == "LogarithmicEqualizationModifier") out->set_algorithm("log_equalization");
  for (const auto& [k, v] : reader.node(body_id).entries) {
    const std::string& key = reader.node(k).text;
    const std::string field_path = JoinPath(path, key);
    const YamlNode& n = reader.node(v);
    if (key == "smoothing_strength") {
      WRING_ASSIGN_OR_RETURN(double strength, reader.Float(v, field_path));
      out->set_smoothing_strength(strength);
    } else if (key == "mappings") {
      if (n.is_null()) continue;
      if (n.kind != YamlKind::kSequence) {
        return reader.Error(v, field_path,
                            absl::StrCat("expected a list of mappings, got ", reader.Describe(v),
                                         "; e.g. [", kMappingExample, "]"));
      }
      auto* list = out->mutable_mappings();
      for (size_t i = 0; i < n.items.size(); ++i) {
        WRING_RETURN_IF_ERROR(ParseMapping(reader, n.items[i],
                                           absl::StrCat(field_path, "[", i, "]"),
                                           list->add_mappings()));
      }
    } else if (key == "ignore") {
      if (n.is_null()) continue;
      WRING_ASSIGN_OR_RETURN(std::vector<std::string> ignore,
                             reader.StringList(v, field_path, false));
      for (std::string& name : ignore) out->add_ignore(std::move(name));
    } else if (key == "algorithm") {
      WRING_ASSIGN_OR_RETURN(std::string algorithm, reader.String(v, field_path));
      if (algorithm != "smoothquant" && algorithm != "log_equalization") {
        return reader.Error(v, field_path,
                            absl::StrCat("Input should be 'smoothquant' or 'log_equalization' "
                                         "(got ",
                                         reader.PythonRepr(v), ")"));
      }
      out->set_algorithm(algorithm);
    } else if (key == "num_calibration_steps") {
      if (n.is_null()) continue;
      WRING_ASSIGN_OR_RETURN(int32_t steps, reader.Int32(v, field_path));
      out->set_num_calibration_steps(steps);
    } else if (key == "calibration_function") {
      if (n.is_null()) continue;
      return reader.Error(v, field_path,
                          "a calibration function is Python code; a recipe file cannot give "
                          "one (pydantic: Input should be callable); remove it");
    }
  }
  return absl::OkStatus();
}

}  // namespace recipe_internal
}  // namespace mapping
}  // namespace wring
