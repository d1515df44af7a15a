#include "backend/model/internal/rope_config.h"

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace model {
namespace internal {
namespace {

using mapping::Json;

// One rope dict (`rope`, read through `rope_fields`) with top-level
// fallbacks in `fields`.
absl::StatusOr<Rope> ParseRopeDict(const FieldReader& fields, const FieldReader& rope_fields, const ModelConfig& c,
                                   double default_theta, const RopeDefaults& defaults) {
  Rope rope;
  WRING_ASSIGN_OR_RETURN(double top_level_theta, fields.Number("rope_theta", default_theta));
  WRING_ASSIGN_OR_RETURN(rope.theta, rope_fields.Number("rope_theta", top_level_theta));
  if (!(rope.theta > 0)) return fields.Error("rope_theta", "must be positive");

  WRING_ASSIGN_OR_RETURN(double top_level_partial,
                         fields.Number("partial_rotary_factor", defaults.partial_rotary_factor));
  WRING_ASSIGN_OR_RETURN(double partial, rope_fields.Number("partial_rotary_factor", top_level_partial));
  if (!defaults.allows_partial && partial != 1.0) {
    return absl::UnimplementedError(absl::StrCat(fields.path(), ": partial_rotary_factor ", partial, " is not supported for ",
                                                 c.model_type, " (only 1.0: RoPE over the whole head)"));
  }
  rope.rotary_dim = static_cast<int64_t>(static_cast<double>(c.head_dim) * partial);
  if (!(partial > 0 && partial <= 1) || rope.rotary_dim < 2 || rope.rotary_dim % 2 != 0) {
    return rope_fields.Error("partial_rotary_factor",
                             absl::StrCat("is ", partial, ": head_dim (", c.head_dim,
                                          ") times it must give an even number of rotated dims in (0, head_dim]"));
  }

  RopeScaling& scaling = rope.scaling;
  WRING_ASSIGN_OR_RETURN(auto legacy_type, rope_fields.String("type", std::string("default")));
  WRING_ASSIGN_OR_RETURN(scaling.rope_type, rope_fields.String("rope_type", legacy_type));
  if (scaling.rope_type == "su") scaling.rope_type = "longrope";  // Phi3's old name
  if (scaling.rope_type == "default") return rope;
  if (scaling.rope_type != "linear" && scaling.rope_type != "llama3" && scaling.rope_type != "longrope") {
    return absl::UnimplementedError(absl::StrCat(fields.path(), ": field `", rope_fields.scope(), "rope_type` is \"",
                                                 scaling.rope_type, "\"; supported: default, linear, llama3, longrope"));
  }
  // A top-level original_max_position_embeddings (Phi3 always has one) wins
  // over the dict's, as standardize_rope_params does.
  WRING_ASSIGN_OR_RETURN(int64_t dict_original, rope_fields.PositiveInt("original_max_position_embeddings",
                                                                        c.max_position_embeddings));
  const int64_t phi3_default = c.model_type == "phi3" ? 4096 : dict_original;
  WRING_ASSIGN_OR_RETURN(scaling.original_max_position_embeddings,
                         fields.PositiveInt("original_max_position_embeddings", phi3_default));
  if (scaling.rope_type == "longrope") {
    WRING_ASSIGN_OR_RETURN(scaling.short_factor, rope_fields.Numbers("short_factor"));
    WRING_ASSIGN_OR_RETURN(scaling.long_factor, rope_fields.Numbers("long_factor"));
    const size_t expected = static_cast<size_t>(rope.rotary_dim / 2);
    for (const char* key : {"short_factor", "long_factor"}) {
      const auto& factors = std::string(key) == "short_factor" ? scaling.short_factor : scaling.long_factor;
      if (factors.size() != expected) {
        return rope_fields.Error(key, absl::StrCat("has ", factors.size(), " entries; longrope needs rotary_dim / 2 = ",
                                                   expected));
      }
    }
    WRING_ASSIGN_OR_RETURN(
        scaling.factor,
        rope_fields.Number("factor", static_cast<double>(c.max_position_embeddings) /
                                         static_cast<double>(scaling.original_max_position_embeddings)));
    WRING_ASSIGN_OR_RETURN(std::optional<double> attention_factor, rope_fields.OptionalNumber("attention_factor"));
    if (attention_factor.has_value()) {
      scaling.attention_factor = *attention_factor;
    } else {
      scaling.attention_factor =
          scaling.factor <= 1.0
              ? 1.0
              : std::sqrt(1 + std::log(scaling.factor) /
                                  std::log(static_cast<double>(scaling.original_max_position_embeddings)));
    }
    return rope;
  }
  WRING_ASSIGN_OR_RETURN(scaling.factor, rope_fields.Number("factor", std::nullopt));
  if (!(scaling.factor > 0)) return rope_fields.Error("factor", "must be positive");
  if (scaling.rope_type == "linear") return rope;

  WRING_ASSIGN_OR_RETURN(scaling.low_freq_factor, rope_fields.Number("low_freq_factor", std::nullopt));
  WRING_ASSIGN_OR_RETURN(scaling.high_freq_factor, rope_fields.Number("high_freq_factor", std::nullopt));
  if (!(scaling.low_freq_factor > 0) || !(scaling.high_freq_factor > scaling.low_freq_factor)) {
    return rope_fields.Error("high_freq_factor", "must exceed low_freq_factor, which must be positive");
  }
  return rope;
}

void SetFullRope(const Rope& rope, ModelConfig& c) {
  c.rope_theta = rope.theta;
  c.rope_scaling = rope.scaling;
  c.rotary_dim = rope.rotary_dim;
}

}  // namespace

absl::Status ReadRope(const FieldReader& fields, ModelConfig& config, const RopeDefaults& defaults) {
  // transformers' convert_rope_params_to_dict: a legacy rope_scaling dict
  // wins over rope_parameters.
  const char* key = fields.Has("rope_scaling") ? "rope_scaling" : "rope_parameters";
  const Json empty = Json::object();
  const Json* rope = fields.Has(key) ? mapping::JsonMember(fields.object(), key) : &empty;
  if (!rope->is_object()) return fields.Error(key, "must be an object");
  for (const char* layer_type : {"full_attention", "sliding_attention", "linear_attention"}) {
    if (mapping::JsonMember(*rope, layer_type) != nullptr) {
      return absl::UnimplementedError(absl::StrCat(fields.path(), ": field `", fields.scope(), key,
                                                   "` gives RoPE parameters per layer type; ", config.model_type,
                                                   " uses one set for all layers"));
    }
  }
  const FieldReader rope_fields(*rope, fields.path(), absl::StrCat(fields.scope(), key, "."));
  WRING_ASSIGN_OR_RETURN(Rope parsed, ParseRopeDict(fields, rope_fields, config, defaults.theta, defaults));
  SetFullRope(parsed, config);
  return absl::OkStatus();
}

absl::Status ReadGemma3Rope(const FieldReader& fields, ModelConfig& config) {
  const Json empty = Json::object();
  const RopeDefaults no_partial{10000.0, 1.0, false};
  Json full = Json::object(), sliding = Json::object();
  std::string full_scope, sliding_scope;
  if (fields.Has("rope_parameters") && !fields.Has("rope_scaling")) {
    const Json* rope = mapping::JsonMember(fields.object(), "rope_parameters");
    if (!rope->is_object()) return fields.Error("rope_parameters", "must be an object");
    for (auto [layer_type, target] : {std::pair<const char*, Json*>{"full_attention", &full},
                                      std::pair<const char*, Json*>{"sliding_attention", &sliding}}) {
      const Json* value = mapping::JsonMember(*rope, layer_type);
      if (value != nullptr && !value->is_null()) {
        if (!value->is_object()) return fields.Error(absl::StrCat("rope_parameters.", layer_type), "must be an object");
        *target = *value;
      }
    }
    full_scope = absl::StrCat(fields.scope(), "rope_parameters.full_attention.");
    sliding_scope = absl::StrCat(fields.scope(), "rope_parameters.sliding_attention.");
  } else {
    // Legacy: rope_scaling applies to full attention; rope_theta and
    // rope_local_base_freq are the two bases.
    if (fields.Has("rope_scaling")) {
      full = *mapping::JsonMember(fields.object(), "rope_scaling");
      if (!full.is_object()) return fields.Error("rope_scaling", "must be an object");
    }
    full_scope = absl::StrCat(fields.scope(), "rope_scaling.");
    sliding_scope = fields.scope();
    WRING_ASSIGN_OR_RETURN(double local, fields.Number("rope_local_base_freq", 10000.0));
    sliding["rope_theta"] = local;
  }
  // The per-type dicts carry their own theta; the top-level rope_theta is
  // only a fallback for the full one.
  WRING_ASSIGN_OR_RETURN(double full_theta, fields.Number("rope_theta", 1000000.0));
  if (!full.contains("rope_theta")) full["rope_theta"] = full_theta;
  if (!sliding.contains("rope_theta")) sliding["rope_theta"] = 10000.0;
  const FieldReader full_fields(full, fields.path(), full_scope);
  const FieldReader sliding_fields(sliding, fields.path(), sliding_scope);
  const FieldReader no_top_level(empty, fields.path(), fields.scope());
  WRING_ASSIGN_OR_RETURN(Rope full_rope, ParseRopeDict(no_top_level, full_fields, config, 1000000.0, no_partial));
  WRING_ASSIGN_OR_RETURN(Rope sliding_rope, ParseRopeDict(no_top_level, sliding_fields, config, 10000.0, no_partial));
  SetFullRope(full_rope, config);
  config.sliding_rope = sliding_rope;
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace model
}  // namespace backend
}  // namespace wring
