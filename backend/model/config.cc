#include "backend/model/config.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "backend/model/internal/config_fields.h"
#include "backend/model/internal/family_configs.h"
#include "mapping/base/json.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace model {
namespace {

using internal::FieldReader;
using mapping::Json;

absl::StatusOr<torch::Dtype> ParseDtype(const FieldReader& fields, const FieldReader* fallback) {
  // transformers >= 5 writes "dtype", older versions "torch_dtype".
  const FieldReader* source = &fields;
  if (!fields.Has("dtype") && !fields.Has("torch_dtype") && fallback != nullptr) source = fallback;
  const char* key = source->Has("dtype") ? "dtype" : "torch_dtype";
  WRING_ASSIGN_OR_RETURN(std::string name, source->String(key, std::string("float32")));
  if (name == "float32" || name == "float") return torch::kFloat;
  if (name == "bfloat16") return torch::kBFloat16;
  if (name == "float16" || name == "half") return torch::kHalf;
  return source->Error(key, absl::StrCat("is \"", name, "\"; supported: float32, bfloat16, float16"));
}

// Vision-language checkpoints whose language model wring compresses: the
// text model's fields are in `text_config`, its modules under
// model.language_model., and the rest (the vision tower) is copied as is.
bool IsVisionLanguageWrapper(absl::string_view model_type) {
  return model_type == "qwen3_5" || model_type == "qwen3_5_moe" || model_type == "gemma3";
}

}  // namespace

std::string LayerPrefix(const ModelConfig& config, int layer) {
  return absl::StrCat(config.module_prefix, "layers.", layer, ".");
}

std::string LayerPrefix(int layer) { return absl::StrCat("model.layers.", layer, "."); }

std::vector<std::string> SupportedModelTypes() {
  std::vector<std::string> types = internal::FamilyModelTypes();
  for (const char* wrapper : {"qwen3_5", "qwen3_5_moe", "gemma3"}) types.push_back(wrapper);
  return types;
}

absl::StatusOr<ModelConfig> ParseModelConfig(absl::string_view json_text, absl::string_view path_for_errors) {
  const std::string path(path_for_errors);
  WRING_ASSIGN_OR_RETURN(Json root, mapping::ParseJson(json_text, path));
  if (!root.is_object()) return absl::InvalidArgumentError(absl::StrCat(path, ": expected a JSON object"));
  const FieldReader top(root, path, "");
  ModelConfig config;
  WRING_ASSIGN_OR_RETURN(const std::string top_type, top.String("model_type", std::nullopt));
  WRING_ASSIGN_OR_RETURN(config.architectures, top.Strings("architectures"));

  const Json* text = &root;
  std::string scope;
  if (IsVisionLanguageWrapper(top_type)) {
    text = mapping::JsonMember(root, "text_config");
    if (text == nullptr || !text->is_object()) {
      return top.Error("text_config", absl::StrCat("must be an object: a \"", top_type,
                                                   "\" config describes its language model there"));
    }
    scope = "text_config.";
    config.module_prefix = "model.language_model.";
  }
  const FieldReader fields(*text, path, scope);
  if (text != &root) {
    // The text config's own model_type, defaulted as the wrapper's
    // sub-config class does.
    const std::string default_text_type = top_type == "gemma3" ? "gemma3_text" : top_type + "_text";
    WRING_ASSIGN_OR_RETURN(config.model_type, fields.String("model_type", default_text_type));
  } else {
    config.model_type = top_type;
  }
  const internal::FamilyReader* family = internal::FindFamily(config.model_type);
  if (family == nullptr) {
    return absl::UnimplementedError(absl::StrCat(
        path, ": field `", scope, "model_type` is \"", config.model_type, "\"; wring compress supports ",
        absl::StrJoin(SupportedModelTypes(), ", "),
        ". Compress this model with llm-compressor itself (`wring check` still checks the recipe against it)"));
  }
  WRING_ASSIGN_OR_RETURN(config.dtype, ParseDtype(fields, text != &root ? &top : nullptr));
  // transformers ties the embeddings from the top-level config (the
  // wrapper's, for a vision-language model).
  WRING_ASSIGN_OR_RETURN(config.tie_word_embeddings,
                         top.Bool("tie_word_embeddings", family->default_tie_word_embeddings));
  WRING_RETURN_IF_ERROR(family->read(fields, config));
  config.rope_scaling = config.rope_scaling;
  config.sliding_layers.assign(config.num_hidden_layers, false);
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) config.sliding_layers[i] = config.layers[i].sliding;
  return config;
}

std::optional<int64_t> SlidingWindowOfLayer(const ModelConfig& config, int layer) {
  if (layer < 0 || layer >= static_cast<int>(config.sliding_layers.size()) || !config.sliding_layers[layer]) {
    return std::nullopt;
  }
  return config.sliding_window;
}

Rope RopeOfLayer(const ModelConfig& config, int layer) {
  if (config.sliding_rope.has_value() && SlidingWindowOfLayer(config, layer).has_value()) {
    return *config.sliding_rope;
  }
  return Rope{config.rope_theta, config.rope_scaling, config.rotary_dim};
}

bool HasAttentionLayers(const ModelConfig& config) {
  for (const LayerBlocks& blocks : config.layers) {
    if (blocks.mixer == TokenMixer::kAttention) return true;
  }
  return false;
}

}  // namespace model
}  // namespace backend
}  // namespace wring
