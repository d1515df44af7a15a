#include "mapping/archs/internal/config_sizes.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace mapping {
namespace archs_internal {
namespace {

bool IsAbsent(const Json* value) { return value == nullptr || value->is_null(); }

// transformers' remap_legacy_layer_types, for checkpoints saved with the old
// layer-type names.
std::string RemapLegacyLayerType(const std::string& type) {
  if (type == "mamba" || type == "conv") return "linear_attention";
  if (type == "attention") return "full_attention";
  return type;
}

// A value for an error message: compact, bounded, never throwing on bad UTF-8.
std::string ShortDump(const Json& value) {
  std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() > 60) text = absl::StrCat(text.substr(0, 57), "...");
  return text;
}

}  // namespace

ConfigSizes::ConfigSizes(const Json& config, const FamilySpec& family,
                         absl::string_view source)
    : config_(config), family_(family), source_(source) {}

absl::Status ConfigSizes::FieldError(absl::string_view key, absl::string_view problem) const {
  return absl::InvalidArgumentError(
      absl::StrCat(source_, ": config field \"", key, "\" ", problem));
}

void ConfigSizes::NoteDefault(absl::string_view key, absl::string_view value,
                              absl::string_view why) {
  std::string note = absl::StrCat(key, " not set: used ", value, " (", why, ")");
  if (std::find(defaults_applied_.begin(), defaults_applied_.end(), note) ==
      defaults_applied_.end()) {
    defaults_applied_.push_back(std::move(note));
  }
}

absl::StatusOr<int64_t> ConfigSizes::RequiredInt(absl::string_view key, int64_t max) {
  auto cached = ints_.find(key);
  if (cached != ints_.end()) return cached->second;
  const Json* value = JsonMember(config_, key);
  if (IsAbsent(value)) {
    return FieldError(key, absl::StrCat("is missing; ", family_.architecture,
                                        " needs it to size its modules. Add it to config.json "
                                        "(transformers writes it whenever it saves a config)."));
  }
  if (!value->is_number_integer()) {
    return FieldError(key, absl::StrCat("must be a positive integer, got ",
                                        JsonTypeName(*value), ". Fix config.json."));
  }
  bool too_large = value->is_number_unsigned() ? value->get<uint64_t>() > uint64_t(max)
                                               : value->get<int64_t>() > max;
  if (too_large || value->get<int64_t>() < 1) {
    return FieldError(key, absl::StrCat("must be a positive integer no larger than ", max,
                                        ", got ", ShortDump(*value), ". Fix config.json."));
  }
  int64_t result = value->get<int64_t>();
  ints_.emplace(std::string(key), result);
  return result;
}

absl::StatusOr<int64_t> ConfigSizes::OptionalInt(absl::string_view key, int64_t fallback,
                                                 absl::string_view fallback_reason,
                                                 int64_t min) {
  const Json* value = JsonMember(config_, key);
  if (IsAbsent(value)) {
    NoteDefault(key, absl::StrCat(fallback), fallback_reason);
    return fallback;
  }
  if (!value->is_number_integer() ||
      (value->is_number_unsigned() && value->get<uint64_t>() > uint64_t(kMaxDimension)) ||
      value->get<int64_t>() < min || value->get<int64_t>() > kMaxDimension) {
    return FieldError(key, absl::StrCat("must be an integer from ", min, " to ", kMaxDimension,
                                        " (or absent), got ", ShortDump(*value),
                                        ". Fix config.json."));
  }
  return value->get<int64_t>();
}

absl::StatusOr<bool> ConfigSizes::OptionalBool(absl::string_view key, bool fallback) {
  const Json* value = JsonMember(config_, key);
  if (value == nullptr) return fallback;
  // Python reads null as falsy: nn.Linear(bias=None) has no bias.
  if (value->is_null()) return false;
  if (!value->is_boolean()) {
    return FieldError(key, absl::StrCat("must be true or false, got ", JsonTypeName(*value),
                                        ". Fix config.json."));
  }
  return value->get<bool>();
}

absl::StatusOr<int64_t> ConfigSizes::HeadDim() {
  const Json* value = JsonMember(config_, "head_dim");
  if (value != nullptr && !value->is_null()) return RequiredInt("head_dim");
  WRING_ASSIGN_OR_RETURN(int64_t hidden, RequiredInt("hidden_size"));
  WRING_ASSIGN_OR_RETURN(int64_t heads, RequiredInt("num_attention_heads"));
  if (value == nullptr && family_.default_head_dim > 0) {
    NoteDefault("head_dim", absl::StrCat(family_.default_head_dim),
                absl::StrCat(family_.config_class, " default"));
    return family_.default_head_dim;
  }
  int64_t derived = hidden / heads;
  if (derived < 1) {
    return FieldError("num_attention_heads",
                      "is larger than hidden_size, so head_dim = hidden_size // "
                      "num_attention_heads is 0. Fix config.json or set head_dim.");
  }
  NoteDefault("head_dim", absl::StrCat(derived), "hidden_size // num_attention_heads");
  return derived;
}

absl::StatusOr<int64_t> ConfigSizes::KeyValueHeads() {
  const Json* value = JsonMember(config_, "num_key_value_heads");
  if (value != nullptr && !value->is_null()) return RequiredInt("num_key_value_heads");
  WRING_ASSIGN_OR_RETURN(int64_t heads, RequiredInt("num_attention_heads"));
  if (value == nullptr && family_.default_key_value_heads > 0) {
    NoteDefault("num_key_value_heads", absl::StrCat(family_.default_key_value_heads),
                absl::StrCat(family_.config_class, " default"));
    return family_.default_key_value_heads;
  }
  NoteDefault("num_key_value_heads", absl::StrCat(heads), "num_attention_heads");
  return heads;
}

absl::StatusOr<int64_t> ConfigSizes::NumExperts() {
  const char* key = family_.num_experts_key;
  if (key == nullptr) return absl::InternalError("family has no experts");
  if (family_.num_experts_alias != nullptr && IsAbsent(JsonMember(config_, key)) &&
      !IsAbsent(JsonMember(config_, family_.num_experts_alias))) {
    key = family_.num_experts_alias;
  }
  auto cached = ints_.find(key);
  if (cached != ints_.end()) return cached->second;
  if (family_.moe == MoePlacement::kSparseStep) {
    // A count of 0 is valid there: every layer gets the dense MLP.
    const Json* value = JsonMember(config_, key);
    if (IsAbsent(value)) return RequiredInt(key);
    if (!value->is_number_integer() || value->get<int64_t>() < 0 ||
        (value->is_number_unsigned() && value->get<uint64_t>() > uint64_t(kMaxDimension)) ||
        value->get<int64_t>() > kMaxDimension) {
      return FieldError(key, absl::StrCat("must be a non-negative integer, got ",
                                          ShortDump(*value), ". Fix config.json."));
    }
    ints_.emplace(key, value->get<int64_t>());
    return value->get<int64_t>();
  }
  return RequiredInt(key);
}

absl::StatusOr<int64_t> ConfigSizes::Get(Size size) {
  switch (size) {
    case Size::kNone:
      return absl::InternalError("Size::kNone has no value");
    case Size::kOne:
      return 1;
    case Size::kHidden:
      return RequiredInt("hidden_size");
    case Size::kVocab:
      return RequiredInt("vocab_size");
    case Size::kHeadDim:
      return HeadDim();
    case Size::kQueryOut:
    case Size::kGatedQueryOut: {
      WRING_ASSIGN_OR_RETURN(int64_t heads, RequiredInt("num_attention_heads"));
      WRING_ASSIGN_OR_RETURN(int64_t head_dim, HeadDim());
      return heads * head_dim * (size == Size::kGatedQueryOut ? 2 : 1);
    }
    case Size::kKeyValueOut: {
      WRING_ASSIGN_OR_RETURN(int64_t kv_heads, KeyValueHeads());
      WRING_ASSIGN_OR_RETURN(int64_t head_dim, HeadDim());
      return kv_heads * head_dim;
    }
    case Size::kFusedQkvOut: {
      WRING_ASSIGN_OR_RETURN(int64_t query, Get(Size::kQueryOut));
      WRING_ASSIGN_OR_RETURN(int64_t key_value, Get(Size::kKeyValueOut));
      return query + 2 * key_value;
    }
    case Size::kIntermediate:
      return RequiredInt("intermediate_size");
    case Size::kFusedGateUpOut: {
      WRING_ASSIGN_OR_RETURN(int64_t intermediate, RequiredInt("intermediate_size"));
      return 2 * intermediate;
    }
    case Size::kExpertIntermediate:
    case Size::kFusedExpertGateUp: {
      if (family_.expert_intermediate_key == nullptr) {
        return absl::InternalError("family has no experts");
      }
      WRING_ASSIGN_OR_RETURN(int64_t width, RequiredInt(family_.expert_intermediate_key));
      return width * (size == Size::kFusedExpertGateUp ? 2 : 1);
    }
    case Size::kNumExperts:
      return NumExperts();
    case Size::kSharedExpertIntermediate:
      return RequiredInt("shared_expert_intermediate_size");
    case Size::kLinearQkvzOut:
    case Size::kLinearConvDim: {
      WRING_ASSIGN_OR_RETURN(int64_t key_heads, RequiredInt("linear_num_key_heads"));
      WRING_ASSIGN_OR_RETURN(int64_t key_head_dim, RequiredInt("linear_key_head_dim"));
      WRING_ASSIGN_OR_RETURN(int64_t value_dim, Get(Size::kLinearValueDim));
      int64_t value_copies = size == Size::kLinearQkvzOut ? 2 : 1;
      return 2 * key_heads * key_head_dim + value_copies * value_dim;
    }
    case Size::kLinearBaOut: {
      WRING_ASSIGN_OR_RETURN(int64_t value_heads, RequiredInt("linear_num_value_heads"));
      return 2 * value_heads;
    }
    case Size::kLinearValueDim: {
      WRING_ASSIGN_OR_RETURN(int64_t value_heads, RequiredInt("linear_num_value_heads"));
      WRING_ASSIGN_OR_RETURN(int64_t value_head_dim, RequiredInt("linear_value_head_dim"));
      return value_heads * value_head_dim;
    }
    case Size::kLinearValueHeads:
      return RequiredInt("linear_num_value_heads");
    case Size::kLinearValueHeadDim:
      return RequiredInt("linear_value_head_dim");
    case Size::kLinearConvKernel:
      return RequiredInt("linear_conv_kernel_dim");
  }
  return absl::InternalError("unhandled Size");
}

absl::StatusOr<bool> ConfigSizes::HasBias(Bias bias) {
  switch (bias) {
    case Bias::kNever:
      return false;
    case Bias::kAlways:
      return true;
    case Bias::kAttentionBias:
      return OptionalBool("attention_bias", false);
    case Bias::kQkvBias:
      return OptionalBool("qkv_bias", true);
    case Bias::kMlpBias:
      return OptionalBool("mlp_bias", false);
  }
  return absl::InternalError("unhandled Bias");
}

absl::StatusOr<std::string> ConfigSizes::ActivationMro() {
  const char* key = family_.activation_key;
  const Json* value = JsonMember(config_, key);
  std::string activation = family_.default_activation;
  if (IsAbsent(value)) {
    NoteDefault(key, activation, absl::StrCat(family_.config_class, " default"));
  } else if (!value->is_string()) {
    return FieldError(key, absl::StrCat("must be an activation name such as \"silu\", got ",
                                        JsonTypeName(*value), ". Fix config.json."));
  } else {
    activation = value->get<std::string>();
  }
  const char* mro = archs_internal::ActivationMro(activation);
  if (mro == nullptr) {
    return FieldError(key, absl::StrCat("names activation \"", activation,
                                        "\", which wring cannot build from config.json alone "
                                        "(not in transformers' ACT2CLS, or a module with its "
                                        "own parameters). Pass a module list or safetensors "
                                        "headers instead."));
  }
  return std::string(mro);
}

absl::StatusOr<bool> ConfigSizes::TieWordEmbeddings() {
  if (JsonMember(config_, "tie_word_embeddings") == nullptr) {
    NoteDefault("tie_word_embeddings", family_.default_tie_word_embeddings ? "true" : "false",
                absl::StrCat(family_.config_class, " default"));
  }
  return OptionalBool("tie_word_embeddings", family_.default_tie_word_embeddings);
}

absl::StatusOr<int64_t> ConfigSizes::NumHiddenLayers() {
  return RequiredInt("num_hidden_layers", kMaxLayers);
}

absl::StatusOr<bool> ConfigSizes::IsSparseLayer(int64_t index) {
  switch (family_.moe) {
    case MoePlacement::kNone:
      return false;
    case MoePlacement::kEveryLayer:
      return true;
    case MoePlacement::kSparseStep:
      break;
  }
  if (!mlp_only_layers_read_) {
    const Json* value = JsonMember(config_, "mlp_only_layers");
    if (!IsAbsent(value)) {
      if (!value->is_array()) {
        return FieldError("mlp_only_layers", absl::StrCat("must be a list of layer indices, got ",
                                                          JsonTypeName(*value),
                                                          ". Fix config.json."));
      }
      for (const Json& entry : *value) {
        if (!entry.is_number_integer()) {
          return FieldError("mlp_only_layers",
                            absl::StrCat("must hold integer layer indices, found ",
                                         JsonTypeName(entry), ". Fix config.json."));
        }
        mlp_only_layers_.push_back(entry.get<int64_t>());
      }
    }
    mlp_only_layers_read_ = true;
  }
  if (std::find(mlp_only_layers_.begin(), mlp_only_layers_.end(), index) !=
      mlp_only_layers_.end()) {
    return false;
  }
  WRING_ASSIGN_OR_RETURN(int64_t experts, NumExperts());
  WRING_ASSIGN_OR_RETURN(
      int64_t step,
      OptionalInt("decoder_sparse_step", 1, absl::StrCat(family_.config_class, " default")));
  return experts > 0 && (index + 1) % step == 0;
}

absl::StatusOr<std::vector<std::string>> ConfigSizes::LayerTypes() {
  WRING_ASSIGN_OR_RETURN(int64_t layers, NumHiddenLayers());
  std::vector<std::string> types;
  const Json* value = JsonMember(config_, "layer_types");
  if (IsAbsent(value)) {
    WRING_ASSIGN_OR_RETURN(
        int64_t interval,
        OptionalInt("full_attention_interval", 4,
                    absl::StrCat(family_.config_class, " default; layer_types not set")));
    for (int64_t i = 0; i < layers; ++i) {
      types.push_back((i + 1) % interval != 0 ? "linear_attention" : "full_attention");
    }
    return types;
  }
  if (!value->is_array() || value->size() != static_cast<size_t>(layers)) {
    return FieldError("layer_types",
                      absl::StrCat("must be a list of ", layers,
                                   " layer types (one per num_hidden_layers), got ",
                                   value->is_array() ? absl::StrCat(value->size(), " entries")
                                                     : std::string(JsonTypeName(*value)),
                                   ". Fix config.json."));
  }
  for (size_t i = 0; i < value->size(); ++i) {
    const Json& entry = (*value)[i];
    std::string type = entry.is_string() ? RemapLegacyLayerType(entry.get<std::string>()) : "";
    if (type != "full_attention" && type != "linear_attention") {
      return FieldError(absl::StrCat("layer_types[", i, "]"),
                        absl::StrCat("must be \"full_attention\" or \"linear_attention\" for ",
                                     family_.architecture, ", got ", ShortDump(entry),
                                     ". Fix config.json."));
    }
    types.push_back(std::move(type));
  }
  return types;
}

}  // namespace archs_internal
}  // namespace mapping
}  // namespace wring
