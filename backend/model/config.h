// A Hugging Face decoder-only causal LM's config.json, and the modules of its
// decoder layers, as data.
//
// Llama, Mistral, Qwen2 and Qwen3 share one decoder layer (RMSNorm ->
// attention with RoPE and GQA -> residual -> RMSNorm -> SwiGLU MLP ->
// residual); they differ only in which linears carry biases, whether
// queries/keys are RMS-normalised per head (Qwen3) and which layers use a
// sliding attention window. ParseModelConfig reads those differences, with
// transformers' defaults for absent fields, so the forward pass is written
// once. Anything the forward pass does not implement (other rope types,
// partial rotary, other activations) is rejected here, naming the field.
#ifndef WRING_BACKEND_MODEL_CONFIG_H_
#define WRING_BACKEND_MODEL_CONFIG_H_

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace wring {
namespace backend {
namespace model {

// rope_parameters (transformers >= 5) or rope_scaling (older config.json).
struct RopeScaling {
  std::string rope_type = "default";  // "default" | "linear" | "llama3"
  double factor = 1;
  double low_freq_factor = 1;
  double high_freq_factor = 4;
  int64_t original_max_position_embeddings = 0;
};

struct ModelConfig {
  std::string model_type;  // "llama" | "mistral" | "qwen2" | "qwen3"
  std::vector<std::string> architectures;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q_proj, k_proj, v_proj carry biases
  bool o_proj_bias = false;     // llama and qwen3 tie it to attention_bias
  bool mlp_bias = false;        // llama only
  bool qk_norm = false;         // qwen3: RMSNorm over head_dim on q and k
  // The window in effect (mistral: sliding_window; qwen2/3: sliding_window
  // when use_sliding_window), nullopt when attention is fully causal.
  std::optional<int64_t> sliding_window;
  // Per layer: whether it attends through `sliding_window` (transformers'
  // layer_types == "sliding_attention").
  std::vector<bool> sliding_layers;
  torch::Dtype dtype = torch::kFloat;  // "dtype" / "torch_dtype"; float32 when absent
};

// Parses config.json text. Errors name `path_for_errors` and the field.
absl::StatusOr<ModelConfig> ParseModelConfig(absl::string_view json_text, absl::string_view path_for_errors);

// The attention window of `layer` (keys older than `window` positions are
// masked), or nullopt for full causal attention.
std::optional<int64_t> SlidingWindowOfLayer(const ModelConfig& config, int layer);

// One module of a decoder layer. For kRmsNorm, in_features == out_features
// is the normalised size and there is no bias.
struct LayerModule {
  enum Kind { kLinear, kRmsNorm };
  std::string name;  // full transformers name, "model.layers.3.self_attn.q_proj"
  Kind kind = kLinear;
  int64_t in_features = 0;
  int64_t out_features = 0;
  bool has_bias = false;
};

// The modules of decoder layer `layer`, in transformers' registration order
// (named_modules order). Parameters are "<name>.weight" ([out, in] for
// linears, [out] for norms) and "<name>.bias" ([out]) where has_bias.
std::vector<LayerModule> DecoderLayerModules(const ModelConfig& config, int layer);

// "model.layers.<layer>."
std::string LayerPrefix(int layer);

}  // namespace model
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_MODEL_CONFIG_H_
