// A Hugging Face decoder-only causal LM's config.json as data: a family is a
// config reader that fills these fields, and every decoder layer is a list of
// blocks of a few kinds.
//
// Block kinds (each with its transformers 5.17 math in internal/):
// - token mixer: softmax attention (GQA, RoPE incl. partial rotary, optional
//   q/k RMSNorm, optional sigmoid output gate, sliding window, logit
//   softcapping, fused qkv_proj) or Gated DeltaNet linear attention (causal
//   conv1d, gated delta rule, gated RMSNorm);
// - feed-forward: a dense gated MLP (SwiGLU / GeGLU, optionally one fused
//   gate_up_proj) or a sparse mixture of experts (softmax router, top-k,
//   optional renormalization, optional shared expert with a sigmoid gate);
// - norms: RMSNorm `w * x` or the zero-centred `x * (1 + w)`, around the
//   mixer and MLP (pre-norm) or also after them (Gemma's sandwich).
// The forward pass, weight loading, AWQ, SpinQuant and the writer read these
// fields; none of them branches on the family name. Anything the forward pass
// does not implement is rejected here, naming the field, before any weight
// is read.
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
  std::string rope_type = "default";  // "default" | "linear" | "llama3" | "longrope"
  double factor = 1;
  double low_freq_factor = 1;
  double high_freq_factor = 4;
  int64_t original_max_position_embeddings = 0;
  // longrope: per-frequency divisors for sequences up to / beyond
  // original_max_position_embeddings, and the factor cos and sin are
  // multiplied by.
  std::vector<double> short_factor;
  std::vector<double> long_factor;
  double attention_factor = 1;
};

// One set of rotary parameters (Gemma3 has one for sliding layers too).
struct Rope {
  double theta = 10000.0;
  RopeScaling scaling;
  int64_t rotary_dim = 0;  // head_dim * partial_rotary_factor: the rotated leading dims
};

enum class NormStyle {
  kWeight,        // Llama: weight * x_normed.to(dtype)
  kOffsetWeight,  // Gemma, Qwen3-Next, Qwen3.5: (x_normed * (1 + weight)) in float32, then .to(dtype)
  // llm-compressor's calibration stand-in for kOffsetWeight norms
  // (CalibrationOffsetNorm): (x_normed * weight) in float32, then .to(dtype),
  // with weight = (1 + w) rounded to the dtype.
  kFloat32Weight,
};

enum class Activation { kSilu, kGelu, kGeluTanh };

enum class TokenMixer { kAttention, kLinearAttention };
enum class FeedForward { kDenseMlp, kSparseMoe };

// The blocks of one decoder layer.
struct LayerBlocks {
  TokenMixer mixer = TokenMixer::kAttention;
  FeedForward feed_forward = FeedForward::kDenseMlp;
  bool sliding = false;  // attention through sliding_window, with sliding_rope when set
};

// Gated DeltaNet (Qwen3-Next, Qwen3.5). Qwen3-Next projects q, k, v, z in one
// Linear (in_proj_qkvz, grouped per key head) and b, a in another
// (in_proj_ba); Qwen3.5 has in_proj_qkv, in_proj_z, in_proj_b, in_proj_a.
struct LinearAttentionConfig {
  enum class Projections { kFusedQkvzBa, kSeparate };
  Projections projections = Projections::kFusedQkvzBa;
  int64_t num_key_heads = 0;
  int64_t num_value_heads = 0;
  int64_t key_head_dim = 0;
  int64_t value_head_dim = 0;
  int64_t conv_kernel = 0;
};

struct MoeConfig {
  int64_t num_experts = 0;
  int64_t top_k = 0;
  int64_t expert_intermediate_size = 0;
  bool norm_topk_prob = false;  // renormalize the top-k probabilities to sum 1
  // Mixtral keeps the routing weights in float32 (the weighted expert output
  // is then rounded once); the Qwen families cast them to the model dtype.
  bool float32_routing_weights = false;
  int64_t shared_expert_intermediate_size = 0;  // 0: no shared expert
};

struct ModelConfig {
  // Of the language model: "qwen3_5_text" for a Qwen3_5ForConditionalGeneration.
  std::string model_type;
  std::vector<std::string> architectures;
  // Where the language model's modules live: "model." for *ForCausalLM,
  // "model.language_model." inside a vision-language checkpoint. Decoder
  // layer i is "<module_prefix>layers.<i>.".
  std::string module_prefix = "model.";
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;  // the dense MLP's
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;  // of full-attention layers (== rope.theta)
  RopeScaling rope_scaling;     // of full-attention layers (== rope.scaling)
  int64_t rotary_dim = 0;       // == head_dim unless partial_rotary_factor < 1
  // Sliding-attention layers' RoPE where it differs (Gemma3's local base).
  std::optional<Rope> sliding_rope;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q_proj, k_proj, v_proj carry biases
  bool o_proj_bias = false;     // llama and qwen3 tie it to attention_bias
  bool mlp_bias = false;        // llama only
  bool qk_norm = false;         // RMSNorm over head_dim on q and k
  bool fused_qkv = false;       // Phi3: one qkv_proj
  bool attention_output_gate = false;  // q_proj also gives a per-head gate: o_proj(attn * sigmoid(gate))
  double attention_scaling = 0;        // query scale; head_dim^-0.5 unless the family says otherwise
  std::optional<double> attention_logit_softcapping;
  std::optional<double> final_logit_softcapping;
  // Embedding output multiplied by this (rounded to the model dtype), as
  // Gemma's scaled embedding does; nullopt for none.
  std::optional<double> embedding_scale;
  NormStyle norm_style = NormStyle::kWeight;
  // Gemma3: post_attention_layernorm normalizes the attention output and
  // pre_/post_feedforward_layernorm wrap the MLP.
  bool sandwich_norms = false;
  Activation hidden_act = Activation::kSilu;
  bool fused_gate_up = false;  // Phi3: one gate_up_proj, gate first
  // The window in effect for sliding layers, nullopt when none is.
  std::optional<int64_t> sliding_window;
  // Per layer: whether it attends through `sliding_window` (transformers'
  // layer_types == "sliding_attention").
  std::vector<bool> sliding_layers;
  std::vector<LayerBlocks> layers;  // num_hidden_layers entries
  LinearAttentionConfig linear_attention;
  MoeConfig moe;
  // Substring renames transformers' save_pretrained applies to this family's
  // module names (the reverse of its load conversion): Mixtral's ".mlp." ->
  // ".block_sparse_moe.". llm-compressor's compressed checkpoints and
  // quantization_config use the renamed names.
  std::vector<std::pair<std::string, std::string>> saved_name_renames;
  // Checkpoint tensors transformers ignores when loading this family
  // (Qwen3-Next's and Qwen3.5's multi-token-prediction head "mtp."): not
  // checked, not written.
  std::vector<std::string> ignored_tensor_prefixes;
  torch::Dtype dtype = torch::kFloat;  // "dtype" / "torch_dtype"; float32 when absent
};

// Parses config.json text. Errors name `path_for_errors` and the field; an
// unsupported model_type or layer kind is Unimplemented and lists what is
// supported.
absl::StatusOr<ModelConfig> ParseModelConfig(absl::string_view json_text, absl::string_view path_for_errors);

// The model types ParseModelConfig reads, in a stable order.
std::vector<std::string> SupportedModelTypes();

// The attention window of `layer` (keys older than `window` positions are
// masked), or nullopt for full causal attention.
std::optional<int64_t> SlidingWindowOfLayer(const ModelConfig& config, int layer);

// The RoPE parameters attention layer `layer` uses.
Rope RopeOfLayer(const ModelConfig& config, int layer);

// Whether any layer has a key/value cache (softmax attention).
bool HasAttentionLayers(const ModelConfig& config);

// One module of a decoder layer with its own parameters.
struct LayerModule {
  enum Kind {
    kLinear,    // weight [out, in] (+ bias [out])
    kRmsNorm,   // weight [out]; in_features == out_features; zero_centered as the config's norm style says
    // A mixture-of-experts router (transformers' *TopKRouter): weight
    // [out = experts, in = hidden], no bias. Not an nn.Linear (never
    // quantized), but hooked like one: AWQ balances it.
    kRouter,
    kOther,     // the parameters in `parameters` (conv1d, the A_log / dt_bias holder)
  };
  struct Parameter {
    std::string name;  // "weight", "A_log", ...
    std::vector<int64_t> shape;
  };
  std::string name;  // full transformers name, "model.layers.3.self_attn.q_proj"
  Kind kind = kLinear;
  int64_t in_features = 0;
  int64_t out_features = 0;
  bool has_bias = false;
  std::vector<Parameter> parameters;  // kOther only
  // kRmsNorm: stores w of an (x * (1 + w)) norm (Gated DeltaNet's gated norm
  // never does).
  bool zero_centered = false;
};

// The modules of decoder layer `layer`, in transformers' registration order
// (named_modules order), mixture-of-experts experts linearized as
// llm-compressor's oneshot does (mlp.experts.<e>.gate_proj / up_proj /
// down_proj). Parameters are "<name>.weight" ([out, in] for linears, [out]
// for norms), "<name>.bias" ([out]) where has_bias, and those listed for kOther.
std::vector<LayerModule> DecoderLayerModules(const ModelConfig& config, int layer);

// Every parameter of `module`: full name -> shape.
std::vector<std::pair<std::string, std::vector<int64_t>>> ModuleParameters(const LayerModule& module);

// `module_name` (or a tensor name) as save_pretrained writes it for this
// family (ModelConfig::saved_name_renames applied).
std::string SavedName(const ModelConfig& config, const std::string& module_name);

// "<module_prefix>layers.<layer>."
std::string LayerPrefix(const ModelConfig& config, int layer);
// "model.layers.<layer>." (the *ForCausalLM layout).
std::string LayerPrefix(int layer);

}  // namespace model
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_MODEL_CONFIG_H_
