#include "backend/model/config.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "mapping/base/json.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace model {
namespace {

using mapping::Json;

// Typed config.json lookups whose errors name the file and the field.
class FieldReader {
 public:
  FieldReader(const Json& object, std::string path, std::string scope)
      : object_(object), path_(std::move(path)), scope_(std::move(scope)) {}

  bool Has(absl::string_view key) const {
    const Json* value = mapping::JsonMember(object_, key);
    return value != nullptr && !value->is_null();
  }

  absl::Status Error(absl::string_view key, absl::string_view problem) const {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": field `", scope_, key, "` ", problem));
  }

  absl::StatusOr<int64_t> Int(absl::string_view key, std::optional<int64_t> fallback) const {
    const Json* value = mapping::JsonMember(object_, key);
    if (value == nullptr || value->is_null()) {
      if (fallback.has_value()) return *fallback;
      return Error(key, "is required");
    }
    if (!value->is_number_integer()) {
      return Error(key, absl::StrCat("must be an integer, got ", mapping::JsonTypeName(*value)));
    }
    return value->get<int64_t>();
  }

  absl::StatusOr<int64_t> PositiveInt(absl::string_view key, std::optional<int64_t> fallback) const {
    WRING_ASSIGN_OR_RETURN(int64_t value, Int(key, fallback));
    if (value <= 0) return Error(key, absl::StrCat("must be positive, got ", value));
    return value;
  }

  absl::StatusOr<double> Number(absl::string_view key, std::optional<double> fallback) const {
    const Json* value = mapping::JsonMember(object_, key);
    if (value == nullptr || value->is_null()) {
      if (fallback.has_value()) return *fallback;
      return Error(key, "is required");
    }
    if (!value->is_number()) return Error(key, absl::StrCat("must be a number, got ", mapping::JsonTypeName(*value)));
    return value->get<double>();
  }

  absl::StatusOr<bool> Bool(absl::string_view key, bool fallback) const {
    const Json* value = mapping::JsonMember(object_, key);
    if (value == nullptr || value->is_null()) return fallback;
    if (!value->is_boolean()) return Error(key, absl::StrCat("must be true or false, got ", mapping::JsonTypeName(*value)));
    return value->get<bool>();
  }

  absl::StatusOr<std::string> String(absl::string_view key, std::optional<std::string> fallback) const {
    const Json* value = mapping::JsonMember(object_, key);
    if (value == nullptr || value->is_null()) {
      if (fallback.has_value()) return *fallback;
      return Error(key, "is required");
    }
    if (!value->is_string()) return Error(key, absl::StrCat("must be a string, got ", mapping::JsonTypeName(*value)));
    return value->get<std::string>();
  }

  absl::StatusOr<std::vector<std::string>> Strings(absl::string_view key) const {
    std::vector<std::string> strings;
    const Json* value = mapping::JsonMember(object_, key);
    if (value == nullptr || value->is_null()) return strings;
    if (!value->is_array()) return Error(key, "must be a list of strings");
    for (const Json& item : *value) {
      if (!item.is_string()) return Error(key, "must be a list of strings");
      strings.push_back(item.get<std::string>());
    }
    return strings;
  }

 private:
  const Json& object_;
  std::string path_;
  std::string scope_;
};

absl::StatusOr<torch::Dtype> ParseDtype(const FieldReader& fields) {
  // transformers >= 5 writes "dtype", older versions "torch_dtype".
  const char* key = fields.Has("dtype") ? "dtype" : "torch_dtype";
  WRING_ASSIGN_OR_RETURN(std::string name, fields.String(key, std::string("float32")));
  if (name == "float32" || name == "float") return torch::kFloat;
  if (name == "bfloat16") return torch::kBFloat16;
  if (name == "float16" || name == "half") return torch::kHalf;
  return fields.Error(key, absl::StrCat("is \"", name, "\"; supported: float32, bfloat16, float16"));
}

absl::Status ParseRope(const Json& root, const std::string& path, const FieldReader& fields, ModelConfig& config) {
  // transformers' convert_rope_params_to_dict: a legacy rope_scaling dict
  // wins over rope_parameters; rope_theta comes from the dict, else the
  // top-level field, else 10000.
  const char* key = fields.Has("rope_scaling") ? "rope_scaling" : "rope_parameters";
  const Json empty = Json::object();
  const Json* rope = fields.Has(key) ? mapping::JsonMember(root, key) : &empty;
  if (!rope->is_object()) return fields.Error(key, "must be an object");
  for (const char* layer_type : {"full_attention", "sliding_attention"}) {
    if (mapping::JsonMember(*rope, layer_type) != nullptr) {
      return absl::UnimplementedError(absl::StrCat(
          path, ": field `", key, "` gives RoPE parameters per layer type; only one set for all layers is supported"));
    }
  }
  const FieldReader rope_fields(*rope, path, absl::StrCat(key, "."));
  WRING_ASSIGN_OR_RETURN(double top_level_theta, fields.Number("rope_theta", 10000.0));
  WRING_ASSIGN_OR_RETURN(auto theta, rope_fields.Number("rope_theta", top_level_theta));
  config.rope_theta = theta;
  if (!(config.rope_theta > 0)) return fields.Error("rope_theta", "must be positive");

  WRING_ASSIGN_OR_RETURN(double top_level_partial, fields.Number("partial_rotary_factor", 1.0));
  WRING_ASSIGN_OR_RETURN(auto partial, rope_fields.Number("partial_rotary_factor", top_level_partial));
  if (partial != 1.0) {
    return absl::UnimplementedError(absl::StrCat(path, ": partial_rotary_factor ", partial,
                                                 " is not supported (only 1.0: RoPE over the whole head)"));
  }

  RopeScaling& scaling = config.rope_scaling;
  WRING_ASSIGN_OR_RETURN(auto legacy_type, rope_fields.String("type", std::string("default")));
  WRING_ASSIGN_OR_RETURN(auto type, rope_fields.String("rope_type", legacy_type));
  scaling.rope_type = type;
  if (scaling.rope_type == "default") return absl::OkStatus();
  if (scaling.rope_type != "linear" && scaling.rope_type != "llama3") {
    return absl::UnimplementedError(absl::StrCat(path, ": field `", key, ".rope_type` is \"", scaling.rope_type,
                                                 "\"; supported: default, linear, llama3"));
  }
  WRING_ASSIGN_OR_RETURN(auto factor, rope_fields.Number("factor", std::nullopt));
  scaling.factor = factor;
  if (!(scaling.factor > 0)) return rope_fields.Error("factor", "must be positive");
  if (scaling.rope_type == "linear") return absl::OkStatus();

  WRING_ASSIGN_OR_RETURN(auto low, rope_fields.Number("low_freq_factor", std::nullopt));
  WRING_ASSIGN_OR_RETURN(auto high, rope_fields.Number("high_freq_factor", std::nullopt));
  WRING_ASSIGN_OR_RETURN(auto original, rope_fields.PositiveInt("original_max_position_embeddings",
                                                                 config.max_position_embeddings));
  scaling.low_freq_factor = low;
  scaling.high_freq_factor = high;
  scaling.original_max_position_embeddings = original;
  if (!(scaling.low_freq_factor > 0) || !(scaling.high_freq_factor > scaling.low_freq_factor)) {
    return rope_fields.Error("high_freq_factor", "must exceed low_freq_factor, which must be positive");
  }
  return absl::OkStatus();
}

}  // namespace

std::string LayerPrefix(int layer) { return absl::StrCat("model.layers.", layer, "."); }

absl::StatusOr<ModelConfig> ParseModelConfig(absl::string_view json_text, absl::string_view path_for_errors) {
  const std::string path(path_for_errors);
  WRING_ASSIGN_OR_RETURN(Json root, mapping::ParseJson(json_text, path));
  if (!root.is_object()) return absl::InvalidArgumentError(absl::StrCat(path, ": expected a JSON object"));
  const FieldReader fields(root, path, "");
  ModelConfig config;

  WRING_ASSIGN_OR_RETURN(config.model_type, fields.String("model_type", std::nullopt));
  const std::string& family = config.model_type;
  if (family != "llama" && family != "mistral" && family != "qwen2" && family != "qwen3") {
    return absl::UnimplementedError(absl::StrCat(path, ": field `model_type` is \"", family,
                                                 "\"; supported: llama, mistral, qwen2, qwen3"));
  }
  WRING_ASSIGN_OR_RETURN(config.architectures, fields.Strings("architectures"));
  WRING_ASSIGN_OR_RETURN(config.vocab_size, fields.PositiveInt("vocab_size", std::nullopt));
  WRING_ASSIGN_OR_RETURN(config.hidden_size, fields.PositiveInt("hidden_size", std::nullopt));
  WRING_ASSIGN_OR_RETURN(config.intermediate_size, fields.PositiveInt("intermediate_size", std::nullopt));
  WRING_ASSIGN_OR_RETURN(config.num_hidden_layers, fields.PositiveInt("num_hidden_layers", std::nullopt));
  WRING_ASSIGN_OR_RETURN(config.num_attention_heads, fields.PositiveInt("num_attention_heads", std::nullopt));
  WRING_ASSIGN_OR_RETURN(config.num_key_value_heads,
                         fields.PositiveInt("num_key_value_heads", config.num_attention_heads));
  if (config.num_attention_heads % config.num_key_value_heads != 0) {
    return fields.Error("num_key_value_heads", absl::StrCat("(", config.num_key_value_heads,
                                                            ") must divide num_attention_heads (",
                                                            config.num_attention_heads, ")"));
  }
  // Qwen3Config defaults head_dim to 128; the others derive it.
  const int64_t derived_head_dim =
      family == "qwen3" ? 128 : config.hidden_size / config.num_attention_heads;
  WRING_ASSIGN_OR_RETURN(config.head_dim, fields.PositiveInt("head_dim", derived_head_dim));
  if (config.head_dim % 2 != 0) {
    return fields.Error("head_dim", absl::StrCat("must be even for RoPE, got ", config.head_dim));
  }
  const int64_t default_max_positions = family == "llama" ? 2048 : family == "mistral" ? 131072 : 32768;
  WRING_ASSIGN_OR_RETURN(config.max_position_embeddings,
                         fields.PositiveInt("max_position_embeddings", default_max_positions));
  WRING_ASSIGN_OR_RETURN(config.rms_norm_eps, fields.Number("rms_norm_eps", 1e-6));
  if (!(config.rms_norm_eps >= 0)) return fields.Error("rms_norm_eps", "must be non-negative");
  WRING_ASSIGN_OR_RETURN(std::string activation, fields.String("hidden_act", std::string("silu")));
  if (activation != "silu") {
    return absl::UnimplementedError(
        absl::StrCat(path, ": field `hidden_act` is \"", activation, "\"; only \"silu\" (SwiGLU) is supported"));
  }
  WRING_ASSIGN_OR_RETURN(config.tie_word_embeddings, fields.Bool("tie_word_embeddings", false));
  WRING_ASSIGN_OR_RETURN(config.dtype, ParseDtype(fields));

  WRING_RETURN_IF_ERROR(ParseRope(root, path, fields, config));

  WRING_ASSIGN_OR_RETURN(const bool attention_bias, fields.Bool("attention_bias", false));
  if (family == "llama") {
    config.attention_bias = config.o_proj_bias = attention_bias;
    WRING_ASSIGN_OR_RETURN(config.mlp_bias, fields.Bool("mlp_bias", false));
  } else if (family == "qwen2") {
    config.attention_bias = true;  // Qwen2Attention hard-codes q/k/v biases
  } else if (family == "qwen3") {
    config.attention_bias = config.o_proj_bias = attention_bias;
    config.qk_norm = true;
  }

  config.sliding_layers.assign(config.num_hidden_layers, false);
  if (family == "mistral") {
    // MistralModel masks every layer with sliding_window (default 4096) and
    // ignores layer_types; an explicit null turns the window off.
    const Json* window = mapping::JsonMember(root, "sliding_window");
    if (window == nullptr || !window->is_null()) {
      WRING_ASSIGN_OR_RETURN(int64_t value, fields.PositiveInt("sliding_window", 4096));
      config.sliding_window = value;
      config.sliding_layers.assign(config.num_hidden_layers, true);
    }
  } else if (family == "qwen2" || family == "qwen3") {
    WRING_ASSIGN_OR_RETURN(const bool use_window, fields.Bool("use_sliding_window", false));
    if (use_window) {
      WRING_ASSIGN_OR_RETURN(int64_t value, fields.PositiveInt("sliding_window", 4096));
      config.sliding_window = value;
    }
    WRING_ASSIGN_OR_RETURN(std::vector<std::string> layer_types, fields.Strings("layer_types"));
    if (layer_types.empty()) {
      WRING_ASSIGN_OR_RETURN(int64_t max_window_layers, fields.Int("max_window_layers", 28));
      for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
        config.sliding_layers[i] = config.sliding_window.has_value() && i >= max_window_layers;
      }
    } else {
      if (static_cast<int64_t>(layer_types.size()) != config.num_hidden_layers) {
        return fields.Error("layer_types", absl::StrCat("has ", layer_types.size(), " entries for ",
                                                        config.num_hidden_layers, " layers"));
      }
      for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
        if (layer_types[i] == "sliding_attention") {
          if (!config.sliding_window.has_value()) {
            return fields.Error("layer_types", absl::StrCat("marks layer ", i,
                                                            " sliding_attention but no window is in effect "
                                                            "(use_sliding_window false or sliding_window null)"));
          }
          config.sliding_layers[i] = true;
        } else if (layer_types[i] != "full_attention") {
          return fields.Error("layer_types", absl::StrCat("entry ", i, " is \"", layer_types[i],
                                                          "\"; supported: full_attention, sliding_attention"));
        }
      }
    }
  }
  return config;
}

std::optional<int64_t> SlidingWindowOfLayer(const ModelConfig& config, int layer) {
  if (layer < 0 || layer >= static_cast<int>(config.sliding_layers.size()) || !config.sliding_layers[layer]) {
    return std::nullopt;
  }
  return config.sliding_window;
}

std::vector<LayerModule> DecoderLayerModules(const ModelConfig& config, int layer) {
  const std::string prefix = LayerPrefix(layer);
  const int64_t hidden = config.hidden_size;
  const int64_t q_size = config.num_attention_heads * config.head_dim;
  const int64_t kv_size = config.num_key_value_heads * config.head_dim;
  auto linear = [&](const std::string& name, int64_t in, int64_t out, bool bias) {
    return LayerModule{prefix + name, LayerModule::kLinear, in, out, bias};
  };
  auto norm = [&](const std::string& name, int64_t size) {
    return LayerModule{prefix + name, LayerModule::kRmsNorm, size, size, false};
  };
  std::vector<LayerModule> modules = {
      linear("self_attn.q_proj", hidden, q_size, config.attention_bias),
      linear("self_attn.k_proj", hidden, kv_size, config.attention_bias),
      linear("self_attn.v_proj", hidden, kv_size, config.attention_bias),
      linear("self_attn.o_proj", q_size, hidden, config.o_proj_bias),
  };
  if (config.qk_norm) {
    modules.push_back(norm("self_attn.q_norm", config.head_dim));
    modules.push_back(norm("self_attn.k_norm", config.head_dim));
  }
  modules.push_back(linear("mlp.gate_proj", hidden, config.intermediate_size, config.mlp_bias));
  modules.push_back(linear("mlp.up_proj", hidden, config.intermediate_size, config.mlp_bias));
  modules.push_back(linear("mlp.down_proj", config.intermediate_size, hidden, config.mlp_bias));
  modules.push_back(norm("input_layernorm", hidden));
  modules.push_back(norm("post_attention_layernorm", hidden));
  return modules;
}

}  // namespace model
}  // namespace backend
}  // namespace wring
