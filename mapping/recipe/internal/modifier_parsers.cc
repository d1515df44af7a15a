#include "mapping/recipe/internal/modifier_parsers.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mapping/base/status_macros.h"
#include "mapping/recipe/internal/quantization_fields.h"

namespace wring {
namespace mapping {
namespace recipe_internal {
namespace {

using wring::recipe::Modifier;

bool Contains(const std::vector<std::string>& names, absl::string_view name) {
  for (const std::string& n : names) {
    if (n == name) return true;
  }
  return false;
}

// The Modifier base fields; their values do not reach the typed proto (it has
// no slot for them; they only schedule training-time modifiers).
absl::StatusOr<bool> ReadBaseField(const ValueReader& reader, const std::string& key,
                                   int v, const std::string& path) {
  if (key != "index" && key != "start" && key != "end" && key != "update") return false;
  if (reader.node(v).is_null()) return true;
  if (key == "index") {
    WRING_RETURN_IF_ERROR(reader.Int32(v, path).status());
  } else {
    WRING_RETURN_IF_ERROR(reader.Float(v, path).status());
  }
  return true;
}

absl::Status ParseAwqMapping(const ValueReader& reader, int id, const std::string& path,
                             wring::recipe::AwqMapping* mapping) {
  static const std::vector<std::string>* kFields = new std::vector<std::string>{
      "smooth_layer", "balance_layers", "activation_hook_target"};
  WRING_RETURN_IF_ERROR(reader.ExpectMapping(
      id, path,
      "{smooth_layer: \"re:.*input_layernorm$\", balance_layers: "
      "[\"re:.*q_proj$\", \"re:.*k_proj$\", \"re:.*v_proj$\"]}"));
  WRING_RETURN_IF_ERROR(reader.CheckKeys(id, path, "AWQMapping", *kFields));
  *mapping->mutable_location() = reader.Location(id);
  bool has_smooth = false, has_balance = false;
  for (const auto& [k, v] : reader.node(id).entries) {
    const std::string& key = reader.node(k).text;
    const std::string field_path = JoinPath(path, key);
    if (key == "smooth_layer") {
      WRING_ASSIGN_OR_RETURN(*mapping->mutable_smooth_layer(),
                             reader.String(v, field_path));
      has_smooth = true;
    } else if (key == "balance_layers") {
      WRING_ASSIGN_OR_RETURN(std::vector<std::string> layers,
                             reader.StringList(v, field_path, false));
      for (std::string& layer : layers) mapping->add_balance_layers(std::move(layer));
      has_balance = true;
    } else if (!reader.node(v).is_null()) {
      WRING_ASSIGN_OR_RETURN(*mapping->mutable_activation_hook_target(),
                             reader.String(v, field_path));
    }
  }
  if (!has_smooth || !has_balance) {
    return reader.Error(id, path,
                        absl::StrCat("missing required key '",
                                     has_smooth ? "balance_layers" : "smooth_layer",
                                     "' (llm-compressor: AWQMapping needs both "
                                     "smooth_layer and balance_layers)"));
  }
  return absl::OkStatus();
}

// AWQModifier lost its QuantizationMixin fields when it became a transform;
// old recipes still put them there.
absl::Status RejectAwqQuantizationKeys(const ValueReader& reader, int body_id,
                                       const std::string& path) {
  std::vector<std::string> quant_keys;
  std::vector<std::string> awq_lines;
  std::vector<std::string> quant_lines;
  int first_key = -1;
  for (const auto& [k, v] : reader.node(body_id).entries) {
    const std::string& key = reader.node(k).text;
    const std::string line = absl::StrCat("      ", key, ": ", reader.RenderFlow(v));
    if (Contains(QuantizationMixinFields(), key)) {
      if (first_key < 0) first_key = k;
      quant_keys.push_back(key);
      quant_lines.push_back(line);
    } else {
      awq_lines.push_back(line);
    }
  }
  if (quant_keys.empty()) return absl::OkStatus();
  return reader.Error(
      first_key, JoinPath(path, quant_keys.front()),
      absl::StrCat(
          "AWQModifier does not accept ", absl::StrJoin(quant_keys, ", "),
          ": in current llm-compressor AWQModifier is transform-only (it smooths "
          "weights but does not quantize), and it must be followed by a "
          "quantization modifier that carries these settings. Move them to a "
          "QuantizationModifier (or GPTQModifier) after AWQModifier:\n",
          "    AWQModifier:", awq_lines.empty() ? " {}" : "",
          awq_lines.empty() ? "" : "\n", absl::StrJoin(awq_lines, "\n"),
          "\n    QuantizationModifier:\n", absl::StrJoin(quant_lines, "\n")));
}

absl::Status ParseAwq(const ValueReader& reader, int body_id, const std::string& path,
                      wring::recipe::AwqModifier* awq) {
  for (const auto& [k, v] : reader.node(body_id).entries) {
    const std::string& key = reader.node(k).text;
    const std::string field_path = JoinPath(path, key);
    const YamlNode& n = reader.node(v);
    if (key == "mappings") {
      if (n.is_null()) continue;
      if (n.kind != YamlKind::kSequence) {
        return reader.Error(v, field_path,
                            absl::StrCat("expected a list of mappings, got ",
                                         reader.Describe(v),
                                         "; write each as '- smooth_layer: ...' with "
                                         "balance_layers: [...]"));
      }
      auto* list = awq->mutable_mappings();
      for (size_t i = 0; i < n.items.size(); ++i) {
        WRING_RETURN_IF_ERROR(ParseAwqMapping(reader, n.items[i],
                                              absl::StrCat(field_path, "[", i, "]"),
                                              list->add_mappings()));
      }
    } else if (key == "offload_device") {
      if (n.is_null()) {
        awq->set_offload_device("none");
      } else if (n.is_string()) {
        awq->set_offload_device(n.text);
      } else {
        return reader.Error(v, field_path,
                            absl::StrCat("expected a device name such as cpu or "
                                         "cuda:0, or null for no offloading; got ",
                                         reader.Describe(v)));
      }
    } else if (key == "duo_scaling") {
      if (n.is_string() && n.text == "both") {
        awq->set_duo_scaling("both");
        continue;
      }
      absl::StatusOr<bool> value = reader.Bool(v, field_path);
      if (!value.ok()) {
        return reader.Error(v, field_path,
                            absl::StrCat("duo_scaling must be True, False, or 'both', "
                                         "got ",
                                         reader.PythonRepr(v)));
      }
      awq->set_duo_scaling(*value ? "true" : "false");
    } else if (key == "n_grid") {
      WRING_ASSIGN_OR_RETURN(int32_t n_grid, reader.Int32(v, field_path));
      awq->set_n_grid(n_grid);
    }
  }
  return absl::OkStatus();
}

absl::Status ParseGptq(const ValueReader& reader, int body_id, const std::string& path,
                       wring::recipe::GptqModifier* gptq) {
  for (const auto& [k, v] : reader.node(body_id).entries) {
    const std::string& key = reader.node(k).text;
    const std::string field_path = JoinPath(path, key);
    const YamlNode& n = reader.node(v);
    WRING_ASSIGN_OR_RETURN(
        bool mixin, ReadMixinField(reader, key, v, field_path, gptq->mutable_quantization()));
    if (mixin) continue;
    if (key == "block_size") {
      WRING_ASSIGN_OR_RETURN(int32_t block_size, reader.Int32(v, field_path));
      gptq->set_block_size(block_size);
    } else if (key == "dampening_frac") {
      if (n.is_null()) {
        return reader.Error(v, field_path,
                            "null is accepted by llm-compressor but GPTQ then fails "
                            "computing the dampening; give a number such as 0.01");
      }
      WRING_ASSIGN_OR_RETURN(double frac, reader.Float(v, field_path));
      gptq->set_dampening_frac(frac);
    } else if (key == "actorder") {
      // An explicit null turns activation ordering off; absent means the
      // "static" default, so the two must stay distinguishable.
      if (n.is_null()) {
        gptq->set_actorder("none");
        continue;
      }
      WRING_ASSIGN_OR_RETURN(std::string actorder, reader.String(v, field_path));
      if (actorder != "group" && actorder != "weight" && actorder != "dynamic" &&
          actorder != "static") {
        return reader.Error(v, field_path,
                            absl::StrCat("Input should be 'group', 'weight', 'dynamic' "
                                         "or 'static' (got ",
                                         reader.PythonRepr(v),
                                         "); use null to disable activation ordering"));
      }
      gptq->set_actorder(actorder);
    } else if (key == "batched_quantization") {
      // Literal["auto"] | StrictInt | None, positive when an int.
      auto* batched = gptq->mutable_batched_quantization();
      if (n.is_null()) {
        batched->set_disabled(true);
        continue;
      }
      if (n.is_string() && n.text == "auto") {
        batched->set_auto_(true);
        continue;
      }
      absl::StatusOr<int32_t> size =
          n.is_string() ? absl::StatusOr<int32_t>(absl::InvalidArgumentError(""))
                        : reader.Int32(v, field_path);
      if (!size.ok()) {
        return reader.Error(v, field_path,
                            absl::StrCat("expected \"auto\", a positive integer or null, got ",
                                         reader.Describe(v),
                                         " (llm-compressor: Input should be 'auto' or a valid "
                                         "integer)"));
      }
      if (*size <= 0) {
        return reader.Error(v, field_path,
                            "batched_quantization must be a positive integer (llm-compressor's "
                            "message); use null to quantize one module at a time");
      }
      batched->set_batch_size(*size);
    }
  }
  return absl::OkStatus();
}

// SpinQuantModifier and QuIPModifier validate randomize/learnable on the raw
// value (mode="before"), so any truthy value raises, even the string "false".
absl::Status CheckNotImplementedFlag(const ValueReader& reader, int v,
                                     const std::string& key, const std::string& path,
                                     absl::string_view wording) {
  if (!reader.Truthy(v)) return absl::OkStatus();
  return reader.Error(v, path,
                      absl::StrCat(key, " is not supported ", wording,
                                   " (llm-compressor raises NotImplementedError); "
                                   "remove it or set it to false"));
}

absl::Status ParseSpinQuant(const ValueReader& reader, int body_id,
                            const std::string& path,
                            wring::recipe::SpinQuantModifier* spin) {
  for (const auto& [k, v] : reader.node(body_id).entries) {
    const std::string& key = reader.node(k).text;
    const std::string field_path = JoinPath(path, key);
    const YamlNode& n = reader.node(v);
    if (key == "rotations") {
      WRING_ASSIGN_OR_RETURN(std::vector<std::string> rotations,
                             reader.StringList(v, field_path, false));
      spin->clear_rotations();
      for (size_t i = 0; i < rotations.size(); ++i) {
        const std::string upper = absl::AsciiStrToUpper(rotations[i]);
        if (upper != "R1" && upper != "R2" && upper != "R3" && upper != "R4") {
          return reader.Error(n.items[i], absl::StrCat(field_path, "[", i, "]"),
                              absl::StrCat("Input should be 'R1', 'R2', 'R3' or 'R4' "
                                           "(got ",
                                           reader.PythonRepr(n.items[i]), ")"));
        }
        spin->add_rotations(upper);
      }
      spin->set_has_rotations(true);
    } else if (key == "transform_type") {
      WRING_ASSIGN_OR_RETURN(std::string type, reader.String(v, field_path));
      if (type != "hadamard" && type != "random-hadamard" && type != "random-matrix") {
        return reader.Error(v, field_path,
                            absl::StrCat("Input should be 'hadamard', 'random-hadamard' "
                                         "or 'random-matrix' (got ",
                                         reader.PythonRepr(v), ")"));
      }
      spin->set_transform_type(type);
    } else if (key == "randomize" || key == "learnable") {
      WRING_RETURN_IF_ERROR(
          CheckNotImplementedFlag(reader, v, key, field_path, "as of now"));
      WRING_ASSIGN_OR_RETURN(bool flag, reader.Bool(v, field_path));
      if (key == "randomize") spin->set_randomize(flag);
      if (key == "learnable") spin->set_learnable(flag);
    } else if (key == "precision") {
      WRING_ASSIGN_OR_RETURN(*spin->mutable_precision(), reader.String(v, field_path));
    } else if (key == "transform_block_size") {
      if (n.is_null()) continue;
      WRING_ASSIGN_OR_RETURN(int32_t size, reader.Int32(v, field_path));
      spin->set_transform_block_size(size);
    } else if (key == "transform_config") {
      if (n.is_null()) continue;
      return reader.Error(v, field_path,
                          "wring does not support a hand-written SpinQuant "
                          "transform_config; remove it and use rotations, "
                          "transform_type and transform_block_size");
    }
    // mappings / norm_mappings: llm-compressor overwrites them with inferred
    // ones in on_initialize, so their values never matter.
  }
  return absl::OkStatus();
}

absl::Status ParseOther(const ValueReader& reader, int body_id, const std::string& path,
                        const ModifierSpec& spec, wring::recipe::OtherModifier* other) {
  for (const auto& [k, v] : reader.node(body_id).entries) {
    const std::string& key = reader.node(k).text;
    if (spec.name == "QuIPModifier" && (key == "randomize" || key == "learnable")) {
      WRING_RETURN_IF_ERROR(CheckNotImplementedFlag(reader, v, key, JoinPath(path, key),
                                                    "right now"));
    }
    (*other->mutable_fields())[key] = reader.RenderFlow(v);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseModifierBody(const ValueReader& reader, const ModifierSpec& spec,
                               int body_id, absl::string_view path_view,
                               Modifier* modifier) {
  const std::string path(path_view);
  const YamlNode& body = reader.node(body_id);
  if (body.kind != YamlKind::kMapping) {
    return reader.Error(
        body_id, path,
        absl::StrCat("expected the modifier's fields as a mapping, got ",
                     reader.Describe(body_id),
                     body.is_null() ? absl::StrCat("; write '", spec.name,
                                                   ": {}' to use every default")
                                    : absl::StrCat("; write '", spec.name,
                                                   ":' followed by indented "
                                                   "'field: value' lines")));
  }
  for (const auto& [k, v] : body.entries) {
    if (reader.node(k).text != "group") continue;
    return reader.Error(
        k, JoinPath(path, "group"),
        "ModifierFactory.create() got multiple values for keyword argument 'group' "
        "(llm-compressor takes the group from the enclosing '<group>_modifiers:' key "
        "and passes it a second time); remove 'group:' and rename the "
        "'<group>_modifiers:' key instead");
  }
  if (spec.name == "AWQModifier") {
    WRING_RETURN_IF_ERROR(RejectAwqQuantizationKeys(reader, body_id, path));
  }
  if (spec.name == "GPTQModifier") {
    for (const auto& [k, v] : body.entries) {
      if (reader.node(k).text != "offload_hessians") continue;
      return reader.Error(
          k, JoinPath(path, "offload_hessians"),
          "GPTQModifier no longer has offload_hessians: llm-compressor 0.14 removed it and "
          "rejects the key (Extra inputs are not permitted), though GPTQModifier's own "
          "docstring example still shows it; delete the line (Hessians are placed with the "
          "module now)");
    }
  }
  WRING_RETURN_IF_ERROR(reader.CheckKeys(body_id, path, spec.name, spec.fields));
  for (const std::string& required : spec.required) {
    bool present = false;
    for (const auto& entry : body.entries) {
      present = present || reader.node(entry.first).text == required;
    }
    if (!present) {
      return reader.Error(body_id, path,
                          absl::StrCat("missing required key '", required, "' for ",
                                       spec.name, " (llm-compressor: Field required)"));
    }
  }
  for (const auto& [k, v] : body.entries) {
    const std::string& key = reader.node(k).text;
    WRING_RETURN_IF_ERROR(ReadBaseField(reader, key, v, JoinPath(path, key)).status());
  }
  if (spec.name == "AWQModifier") return ParseAwq(reader, body_id, path, modifier->mutable_awq());
  if (spec.name == "GPTQModifier") {
    return ParseGptq(reader, body_id, path, modifier->mutable_gptq());
  }
  if (spec.name == "SpinQuantModifier") {
    return ParseSpinQuant(reader, body_id, path, modifier->mutable_spinquant());
  }
  if (spec.name == "QuantizationModifier") {
    auto* mixin = modifier->mutable_quantization();
    for (const auto& [k, v] : body.entries) {
      const std::string& key = reader.node(k).text;
      WRING_RETURN_IF_ERROR(
          ReadMixinField(reader, key, v, JoinPath(path, key), mixin).status());
    }
    return absl::OkStatus();
  }
  return ParseOther(reader, body_id, path, spec, modifier->mutable_other());
}

}  // namespace recipe_internal
}  // namespace mapping
}  // namespace wring
