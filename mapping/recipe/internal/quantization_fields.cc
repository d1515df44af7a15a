#include "mapping/recipe/internal/quantization_fields.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "mapping/base/status_macros.h"
#include "mapping/recipe/internal/modifier_catalog.h"

namespace wring {
namespace mapping {
namespace recipe_internal {
namespace {

using wring::recipe::QuantizationArgs;
using wring::recipe::QuantizationMixin;
using wring::recipe::QuantizationScheme;

// Python's `Enum(value.lower())` check; the message is the ValueError Python
// raises, followed by the valid spellings.
absl::StatusOr<std::string> ReadEnum(const ValueReader& reader, int id,
                                     absl::string_view path, absl::string_view enum_name,
                                     const std::vector<std::string>& values) {
  WRING_ASSIGN_OR_RETURN(std::string text, reader.String(id, path));
  const std::string lower = absl::AsciiStrToLower(text);
  for (const std::string& value : values) {
    if (value == lower) return lower;
  }
  return reader.Error(id, path,
                      absl::StrCat("'", lower, "' is not a valid ", enum_name,
                                   "; use one of: ", absl::StrJoin(values, ", ")));
}

absl::Status BlockStructureError(const ValueReader& reader, int id,
                                 absl::string_view path) {
  const YamlNode& n = reader.node(id);
  const std::string shown = n.is_string() ? n.text : reader.PythonRepr(id);
  return reader.Error(id, path,
                      absl::StrCat("Invalid block_structure '", shown,
                                   "'. Must be a list of positive ints [rows, cols]."));
}

absl::Status ReadBlockStructure(const ValueReader& reader, int id,
                                absl::string_view path, QuantizationArgs* args) {
  const YamlNode& n = reader.node(id);
  std::vector<int64_t> values;
  if (n.is_string()) {
    // Legacy "8x16" spelling.
    for (absl::string_view part : absl::StrSplit(n.text, 'x')) {
      int64_t v = 0;
      if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(part), &v)) {
        return BlockStructureError(reader, id, path);
      }
      values.push_back(v);
    }
  } else if (n.kind == YamlKind::kSequence) {
    for (int item : n.items) {
      const YamlNode& v = reader.node(item);
      if (v.kind != YamlKind::kScalar || v.type != ScalarType::kInt || !v.int_in_range) {
        return BlockStructureError(reader, id, path);
      }
      values.push_back(v.int_value);
    }
  } else {
    return BlockStructureError(reader, id, path);
  }
  if (values.size() != 2) return BlockStructureError(reader, id, path);
  for (int64_t v : values) {
    if (v <= 0 || v > 0x7fffffff) return BlockStructureError(reader, id, path);
    args->add_block_structure(static_cast<int32_t>(v));
  }
  return absl::OkStatus();
}

absl::Status ReadArgsField(const ValueReader& reader, const std::string& key, int v,
                           const std::string& path, QuantizationArgs* args) {
  const YamlNode& n = reader.node(v);
  if (key == "num_bits") {
    WRING_ASSIGN_OR_RETURN(int32_t bits, reader.Int32(v, path));
    args->set_num_bits(bits);
  } else if (key == "type") {
    WRING_RETURN_IF_ERROR(
        ReadEnum(reader, v, path, "QuantizationType", {"int", "float"}).status());
    args->set_type(n.text);
  } else if (key == "symmetric") {
    WRING_ASSIGN_OR_RETURN(bool symmetric, reader.Bool(v, path));
    args->set_symmetric(symmetric);
  } else if (key == "group_size") {
    if (n.is_null()) return absl::OkStatus();
    WRING_ASSIGN_OR_RETURN(int32_t group_size, reader.Int32(v, path));
    args->set_group_size(group_size);
  } else if (key == "strategy") {
    if (n.is_null()) return absl::OkStatus();
    WRING_RETURN_IF_ERROR(ReadEnum(reader, v, path, "QuantizationStrategy",
                                   {"tensor", "channel", "group", "block", "token",
                                    "tensor_group", "attn_head"})
                              .status());
    args->set_strategy(n.text);
  } else if (key == "block_structure") {
    if (n.is_null()) return absl::OkStatus();
    return ReadBlockStructure(reader, v, path, args);
  } else if (key == "dynamic") {
    if (n.is_string()) {
      WRING_ASSIGN_OR_RETURN(std::string dynamic,
                             ReadEnum(reader, v, path, "DynamicType", {"local"}));
      args->set_dynamic(dynamic);
    } else {
      WRING_ASSIGN_OR_RETURN(bool dynamic, reader.Bool(v, path));
      args->set_dynamic(dynamic ? "true" : "false");
    }
  } else if (key == "actorder") {
    if (n.is_null()) return absl::OkStatus();
    if (n.kind == YamlKind::kScalar && n.type == ScalarType::kBool) {
      args->set_actorder(n.bool_value ? "true" : "false");
    } else {
      WRING_ASSIGN_OR_RETURN(
          std::string actorder,
          ReadEnum(reader, v, path, "ActivationOrdering",
                   {"group", "weight", "dynamic", "static"}));
      args->set_actorder(actorder);
    }
  } else if (key == "observer" || key == "scale_dtype" || key == "zp_dtype") {
    if (n.is_null()) return absl::OkStatus();
    WRING_ASSIGN_OR_RETURN(std::string text, reader.String(v, path));
    if (key == "observer") args->set_observer(text);
    if (key == "scale_dtype") args->set_scale_dtype(text);
    if (key == "zp_dtype") args->set_zp_dtype(text);
  } else if (key == "observer_kwargs") {
    WRING_RETURN_IF_ERROR(reader.ExpectMapping(v, path, "observer_kwargs: {name: value}"));
    for (const auto& [k, value] : n.entries) {
      (*args->mutable_observer_kwargs())[reader.node(k).text] = reader.RenderFlow(value);
    }
  }
  return absl::OkStatus();
}

absl::Status ReadObserverDict(const ValueReader& reader, int id, absl::string_view path,
                              QuantizationMixin* mixin) {
  const YamlNode& n = reader.node(id);
  if (n.kind != YamlKind::kMapping) {
    return reader.Error(id, path,
                        "`observer` must be a dictionary (write it as observer: "
                        "{weights: memoryless_minmax, input: minmax})");
  }
  for (const auto& [k, value] : n.entries) {
    const std::string& key = reader.node(k).text;
    if (key != "weights" && key != "input" && key != "output") {
      return reader.Error(k, JoinPath(path, key),
                          absl::StrCat("Invalid observer key '", key,
                                       "'. Valid keys are: {'weights', 'input', "
                                       "'output'}"));
    }
    if (!reader.node(value).is_string()) {
      return reader.Error(value, JoinPath(path, key),
                          absl::StrCat("Observer value for '", key,
                                       "' must be a string"));
    }
    (*mixin->mutable_observer())[key] = reader.node(value).text;
  }
  mixin->set_has_observer(true);
  return absl::OkStatus();
}

absl::Status ReadScheme(const ValueReader& reader, int id, absl::string_view path,
                        QuantizationMixin* mixin) {
  const YamlNode& n = reader.node(id);
  static constexpr char kSchemeMessage[] =
      "`scheme` must either be a preset scheme name or a dictionary of preset "
      "scheme names (e.g. scheme: W4A16, or scheme: {W4A16: [\"Linear\"]})";
  if (n.is_null()) return absl::OkStatus();
  if (n.is_string()) {
    mixin->set_preset(n.text);
    return absl::OkStatus();
  }
  if (n.kind != YamlKind::kMapping) return reader.Error(id, path, kSchemeMessage);
  auto* list = mixin->mutable_preset_map();
  for (const auto& [k, value] : n.entries) {
    if (!reader.node(k).is_string()) return reader.Error(k, path, kSchemeMessage);
    const std::string& preset = reader.node(k).text;
    WRING_ASSIGN_OR_RETURN(std::vector<std::string> targets,
                           reader.StringList(value, JoinPath(path, preset),
                                             /*allow_single_string=*/true));
    auto* entry = list->add_entries();
    entry->set_preset(preset);
    for (std::string& target : targets) entry->add_targets(std::move(target));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<QuantizationArgs> ParseQuantizationArgs(const ValueReader& reader, int id,
                                                       absl::string_view path) {
  WRING_RETURN_IF_ERROR(reader.ExpectMapping(
      id, path, "{num_bits: 4, type: int, symmetric: true, strategy: group, "
                "group_size: 128}"));
  WRING_RETURN_IF_ERROR(
      reader.CheckKeys(id, path, "QuantizationArgs", QuantizationArgsFields()));
  QuantizationArgs args;
  *args.mutable_location() = reader.Location(id);
  for (const auto& [k, v] : reader.node(id).entries) {
    const std::string& key = reader.node(k).text;
    WRING_RETURN_IF_ERROR(ReadArgsField(reader, key, v, JoinPath(path, key), &args));
  }
  return args;
}

absl::StatusOr<QuantizationScheme> ParseQuantizationScheme(const ValueReader& reader,
                                                           int id,
                                                           absl::string_view path) {
  WRING_RETURN_IF_ERROR(reader.ExpectMapping(
      id, path, "{targets: [\"Linear\"], weights: {num_bits: 4, ...}}"));
  WRING_RETURN_IF_ERROR(
      reader.CheckKeys(id, path, "QuantizationScheme", QuantizationSchemeFields()));
  QuantizationScheme scheme;
  *scheme.mutable_location() = reader.Location(id);
  bool has_targets = false;
  for (const auto& [k, v] : reader.node(id).entries) {
    const std::string& key = reader.node(k).text;
    const std::string field_path = JoinPath(path, key);
    if (key == "targets") {
      WRING_ASSIGN_OR_RETURN(std::vector<std::string> targets,
                             reader.StringList(v, field_path, false));
      for (std::string& target : targets) scheme.add_targets(std::move(target));
      has_targets = true;
      continue;
    }
    if (reader.node(v).is_null()) continue;
    if (key == "format") {
      WRING_ASSIGN_OR_RETURN(std::string format, reader.String(v, field_path));
      scheme.set_format(format);
      continue;
    }
    WRING_ASSIGN_OR_RETURN(QuantizationArgs args,
                           ParseQuantizationArgs(reader, v, field_path));
    if (key == "weights") *scheme.mutable_weights() = std::move(args);
    if (key == "input_activations") *scheme.mutable_input_activations() = std::move(args);
    if (key == "output_activations") {
      *scheme.mutable_output_activations() = std::move(args);
    }
  }
  if (!has_targets) {
    return reader.Error(id, path,
                        "missing required key 'targets' (llm-compressor: Field "
                        "required); add the layers this group applies to, e.g. "
                        "targets: [\"Linear\"]");
  }
  return scheme;
}

absl::StatusOr<bool> ReadMixinField(const ValueReader& reader, absl::string_view key,
                                    int v, absl::string_view path,
                                    QuantizationMixin* mixin) {
  const YamlNode& n = reader.node(v);
  if (key == "config_groups") {
    if (n.is_null()) return true;
    WRING_RETURN_IF_ERROR(reader.ExpectMapping(
        v, path, "config_groups: {group_0: {targets: [\"Linear\"], weights: {...}}}"));
    for (const auto& [k, value] : n.entries) {
      const std::string& name = reader.node(k).text;
      WRING_ASSIGN_OR_RETURN(QuantizationScheme scheme,
                             ParseQuantizationScheme(reader, value, JoinPath(path, name)));
      auto* named = mixin->add_config_groups();
      named->set_name(name);
      *named->mutable_scheme() = std::move(scheme);
    }
    mixin->set_has_config_groups(true);
  } else if (key == "targets" || key == "ignore") {
    WRING_ASSIGN_OR_RETURN(std::vector<std::string> names,
                           reader.StringList(v, path, key == "targets"));
    auto* field = key == "targets" ? mixin->mutable_targets() : mixin->mutable_ignore();
    field->Clear();
    for (std::string& name : names) field->Add(std::move(name));
    if (key == "targets") mixin->set_has_targets(true);
  } else if (key == "scheme") {
    WRING_RETURN_IF_ERROR(ReadScheme(reader, v, path, mixin));
  } else if (key == "kv_cache_scheme") {
    if (n.is_null()) return true;
    WRING_ASSIGN_OR_RETURN(*mixin->mutable_kv_cache_scheme(),
                           ParseQuantizationArgs(reader, v, path));
  } else if (key == "weight_observer" || key == "input_observer" ||
             key == "output_observer") {
    if (n.is_null()) return true;
    WRING_ASSIGN_OR_RETURN(std::string observer, reader.String(v, path));
    if (key == "weight_observer") mixin->set_weight_observer(observer);
    if (key == "input_observer") mixin->set_input_observer(observer);
    if (key == "output_observer") mixin->set_output_observer(observer);
  } else if (key == "observer") {
    if (n.is_null()) return true;
    WRING_RETURN_IF_ERROR(ReadObserverDict(reader, v, path, mixin));
  } else if (key == "bypass_divisibility_checks") {
    WRING_ASSIGN_OR_RETURN(bool bypass, reader.Bool(v, path));
    mixin->set_bypass_divisibility_checks(bypass);
  } else {
    return false;
  }
  return true;
}

}  // namespace recipe_internal
}  // namespace mapping
}  // namespace wring
