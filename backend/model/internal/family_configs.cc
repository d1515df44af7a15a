#include "backend/model/internal/family_configs.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "backend/model/internal/rope_config.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace model {
namespace internal {
namespace {

// Shape fields every family has, with the config class's defaults.
struct CoreDefaults {
  int64_t head_dim = 0;  // 0: hidden_size / num_attention_heads
  int64_t max_position_embeddings = 32768;
  const char* activation_key = "hidden_act";
  const char* default_activation = "silu";
  bool needs_intermediate_size = true;  // false when no layer has a dense MLP of that width
};

absl::StatusOr<Activation> ParseActivation(const FieldReader& f, const char* key, const char* fallback) {
  WRING_ASSIGN_OR_RETURN(std::string name, f.String(key, std::string(fallback)));
  if (name == "silu" || name == "swish") return Activation::kSilu;
  if (name == "gelu") return Activation::kGelu;
  if (name == "gelu_pytorch_tanh") return Activation::kGeluTanh;
  return f.Unsupported(key, absl::StrCat("is \"", name, "\"; supported: silu, gelu, gelu_pytorch_tanh"));
}

absl::Status ReadCore(const FieldReader& f, ModelConfig& c, const CoreDefaults& defaults) {
  WRING_ASSIGN_OR_RETURN(c.vocab_size, f.PositiveInt("vocab_size", std::nullopt));
  WRING_ASSIGN_OR_RETURN(c.hidden_size, f.PositiveInt("hidden_size", std::nullopt));
  if (defaults.needs_intermediate_size) {
    WRING_ASSIGN_OR_RETURN(c.intermediate_size, f.PositiveInt("intermediate_size", std::nullopt));
  }
  WRING_ASSIGN_OR_RETURN(c.num_hidden_layers, f.PositiveInt("num_hidden_layers", std::nullopt));
  WRING_ASSIGN_OR_RETURN(c.num_attention_heads, f.PositiveInt("num_attention_heads", std::nullopt));
  WRING_ASSIGN_OR_RETURN(c.num_key_value_heads, f.PositiveInt("num_key_value_heads", c.num_attention_heads));
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    return f.Error("num_key_value_heads", absl::StrCat("(", c.num_key_value_heads,
                                                       ") must divide num_attention_heads (",
                                                       c.num_attention_heads, ")"));
  }
  const int64_t derived = defaults.head_dim > 0 ? defaults.head_dim : c.hidden_size / c.num_attention_heads;
  WRING_ASSIGN_OR_RETURN(c.head_dim, f.PositiveInt("head_dim", derived));
  if (c.head_dim % 2 != 0) return f.Error("head_dim", absl::StrCat("must be even for RoPE, got ", c.head_dim));
  WRING_ASSIGN_OR_RETURN(c.max_position_embeddings,
                         f.PositiveInt("max_position_embeddings", defaults.max_position_embeddings));
  WRING_ASSIGN_OR_RETURN(c.rms_norm_eps, f.Number("rms_norm_eps", 1e-6));
  if (!(c.rms_norm_eps >= 0)) return f.Error("rms_norm_eps", "must be non-negative");
  WRING_ASSIGN_OR_RETURN(c.hidden_act, ParseActivation(f, defaults.activation_key, defaults.default_activation));
  c.attention_scaling = std::pow(static_cast<double>(c.head_dim), -0.5);
  c.layers.assign(c.num_hidden_layers, LayerBlocks{});
  return absl::OkStatus();
}

// `layer_types` (with transformers' legacy names) as full/sliding/linear.
absl::StatusOr<std::vector<std::string>> LayerTypes(const FieldReader& f, int64_t num_layers) {
  WRING_ASSIGN_OR_RETURN(std::vector<std::string> types, f.Strings("layer_types"));
  if (types.empty()) return types;
  if (static_cast<int64_t>(types.size()) != num_layers) {
    return f.Error("layer_types", absl::StrCat("has ", types.size(), " entries for ", num_layers, " layers"));
  }
  for (std::string& type : types) {
    if (type == "attention") type = "full_attention";
    if (type == "mamba") type = "linear_attention";
  }
  return types;
}

absl::Status CheckLayerTypes(const FieldReader& f, const std::vector<std::string>& types,
                             const std::set<std::string>& allowed) {
  for (size_t i = 0; i < types.size(); ++i) {
    if (allowed.count(types[i]) == 0) {
      return f.Unsupported("layer_types", absl::StrCat("entry ", i, " is \"", types[i], "\"; supported here: ",
                                                      absl::StrJoin(allowed, ", ")));
    }
  }
  return absl::OkStatus();
}

// Sliding layers from layer_types; a sliding entry needs a window.
absl::Status MarkSlidingLayers(const FieldReader& f, const std::vector<std::string>& types, ModelConfig& c) {
  for (size_t i = 0; i < types.size(); ++i) {
    if (types[i] != "sliding_attention") continue;
    if (!c.sliding_window.has_value()) {
      return f.Error("layer_types", absl::StrCat("marks layer ", i,
                                                 " sliding_attention but no window is in effect "
                                                 "(use_sliding_window false or sliding_window null)"));
    }
    c.layers[i].sliding = true;
  }
  return absl::OkStatus();
}

void SlideEveryLayer(ModelConfig& c) {
  if (!c.sliding_window.has_value()) return;
  for (LayerBlocks& blocks : c.layers) blocks.sliding = true;
}

// A window that applies when present (Mixtral, Phi3: sliding_window, null = none).
absl::Status ReadOptionalWindow(const FieldReader& f, ModelConfig& c) {
  if (!f.Has("sliding_window")) return absl::OkStatus();
  WRING_ASSIGN_OR_RETURN(int64_t window, f.PositiveInt("sliding_window", std::nullopt));
  c.sliding_window = window;
  return absl::OkStatus();
}

// Qwen2 / Qwen2-MoE / Qwen3(-MoE): sliding_window counts only with use_sliding_window.
absl::Status ReadUseSlidingWindow(const FieldReader& f, ModelConfig& c) {
  WRING_ASSIGN_OR_RETURN(const bool use_window, f.Bool("use_sliding_window", false));
  if (!use_window) return absl::OkStatus();
  WRING_ASSIGN_OR_RETURN(int64_t window, f.PositiveInt("sliding_window", 4096));
  c.sliding_window = window;
  return absl::OkStatus();
}

// Qwen2 and Qwen2-MoE: layer_types, else a formula of max_window_layers.
absl::Status ReadQwen2Windows(const FieldReader& f, ModelConfig& c, bool moe_formula) {
  WRING_RETURN_IF_ERROR(ReadUseSlidingWindow(f, c));
  WRING_ASSIGN_OR_RETURN(std::vector<std::string> types, LayerTypes(f, c.num_hidden_layers));
  if (!types.empty()) {
    WRING_RETURN_IF_ERROR(CheckLayerTypes(f, types, {"full_attention", "sliding_attention"}));
    return MarkSlidingLayers(f, types, c);
  }
  WRING_ASSIGN_OR_RETURN(int64_t max_window_layers, f.Int("max_window_layers", 28));
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    // Qwen2Config: layers from max_window_layers on; Qwen2MoeConfig: even
    // layers (1-based odd) below it.
    const bool slides = moe_formula ? ((i + 1) % 2 != 0 && i < max_window_layers) : i >= max_window_layers;
    c.layers[i].sliding = c.sliding_window.has_value() && slides;
  }
  return absl::OkStatus();
}

// Qwen3-Next / Qwen3.5: linear_attention or full_attention per layer,
// default every `interval`-th layer full.
absl::Status ReadHybridMixers(const FieldReader& f, ModelConfig& c) {
  WRING_ASSIGN_OR_RETURN(std::vector<std::string> types, LayerTypes(f, c.num_hidden_layers));
  if (types.empty()) {
    WRING_ASSIGN_OR_RETURN(int64_t interval, f.PositiveInt("full_attention_interval", 4));
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
      types.push_back((i + 1) % interval != 0 ? "linear_attention" : "full_attention");
    }
  }
  WRING_RETURN_IF_ERROR(CheckLayerTypes(f, types, {"full_attention", "linear_attention"}));
  for (size_t i = 0; i < types.size(); ++i) {
    c.layers[i].mixer = types[i] == "linear_attention" ? TokenMixer::kLinearAttention : TokenMixer::kAttention;
  }
  LinearAttentionConfig& la = c.linear_attention;
  WRING_ASSIGN_OR_RETURN(la.num_key_heads, f.PositiveInt("linear_num_key_heads", 16));
  WRING_ASSIGN_OR_RETURN(la.num_value_heads, f.PositiveInt("linear_num_value_heads", 32));
  WRING_ASSIGN_OR_RETURN(la.key_head_dim, f.PositiveInt("linear_key_head_dim", 128));
  WRING_ASSIGN_OR_RETURN(la.value_head_dim, f.PositiveInt("linear_value_head_dim", 128));
  WRING_ASSIGN_OR_RETURN(la.conv_kernel, f.PositiveInt("linear_conv_kernel_dim", 4));
  if (la.num_value_heads % la.num_key_heads != 0) {
    return f.Error("linear_num_key_heads", absl::StrCat("(", la.num_key_heads,
                                                        ") must divide linear_num_value_heads (",
                                                        la.num_value_heads, ")"));
  }
  if (c.hidden_act != Activation::kSilu) {
    return f.Unsupported("hidden_act", "must be \"silu\" for Gated DeltaNet (its conv1d activation)");
  }
  return absl::OkStatus();
}

struct MoeKeys {
  const char* num_experts_key;
  int64_t default_num_experts;
  int64_t default_top_k;
  const char* expert_intermediate_key;
  int64_t default_expert_intermediate;
  // nullptr: always renormalized.
  const char* norm_topk_key;
  bool default_norm_topk;
  bool float32_routing_weights;
  // nullptr: no shared expert.
  const char* shared_expert_key;
  int64_t default_shared_expert;
};

absl::Status ReadMoe(const FieldReader& f, ModelConfig& c, const MoeKeys& keys) {
  MoeConfig& moe = c.moe;
  WRING_ASSIGN_OR_RETURN(moe.num_experts, f.Int(keys.num_experts_key, keys.default_num_experts));
  if (moe.num_experts < 0) return f.Error(keys.num_experts_key, "must not be negative");
  WRING_ASSIGN_OR_RETURN(moe.top_k, f.PositiveInt("num_experts_per_tok", keys.default_top_k));
  WRING_ASSIGN_OR_RETURN(moe.expert_intermediate_size,
                         f.PositiveInt(keys.expert_intermediate_key, keys.default_expert_intermediate));
  if (keys.norm_topk_key == nullptr) {
    moe.norm_topk_prob = true;
  } else {
    WRING_ASSIGN_OR_RETURN(moe.norm_topk_prob, f.Bool(keys.norm_topk_key, keys.default_norm_topk));
  }
  moe.float32_routing_weights = keys.float32_routing_weights;
  if (keys.shared_expert_key != nullptr) {
    WRING_ASSIGN_OR_RETURN(moe.shared_expert_intermediate_size,
                           f.PositiveInt(keys.shared_expert_key, keys.default_shared_expert));
  }
  if (moe.num_experts > 0 && moe.top_k > moe.num_experts) {
    return f.Error("num_experts_per_tok", absl::StrCat("(", moe.top_k, ") exceeds the ", moe.num_experts,
                                                       " experts (", keys.num_experts_key, ")"));
  }
  return absl::OkStatus();
}

// Mixtral and Qwen3-MoE configs map num_experts onto num_local_experts
// (attribute_map): transformers 5 writes the latter, older configs the former.
const char* LocalExpertsKey(const FieldReader& f) {
  return f.Has("num_local_experts") || !f.Has("num_experts") ? "num_local_experts" : "num_experts";
}

void SparseEveryLayer(ModelConfig& c) {
  for (LayerBlocks& blocks : c.layers) blocks.feed_forward = FeedForward::kSparseMoe;
}

// Qwen MoE families: layer i is sparse unless listed in mlp_only_layers,
// when num_experts > 0 and (i + 1) % decoder_sparse_step == 0.
absl::Status ReadSparseStep(const FieldReader& f, ModelConfig& c) {
  WRING_ASSIGN_OR_RETURN(int64_t step, f.PositiveInt("decoder_sparse_step", 1));
  WRING_ASSIGN_OR_RETURN(std::vector<int64_t> dense_only, f.Ints("mlp_only_layers"));
  const std::set<int64_t> dense(dense_only.begin(), dense_only.end());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    if (dense.count(i) == 0 && c.moe.num_experts > 0 && (i + 1) % step == 0) {
      c.layers[i].feed_forward = FeedForward::kSparseMoe;
    }
  }
  return absl::OkStatus();
}

absl::Status ReadLlama(const FieldReader& f, ModelConfig& c) {
  WRING_RETURN_IF_ERROR(ReadCore(f, c, {0, 2048}));
  WRING_RETURN_IF_ERROR(ReadRope(f, c, RopeDefaults{10000.0, 1.0, false}));
  WRING_ASSIGN_OR_RETURN(const bool bias, f.Bool("attention_bias", false));
  c.attention_bias = c.o_proj_bias = bias;
  WRING_ASSIGN_OR_RETURN(c.mlp_bias, f.Bool("mlp_bias", false));
  return absl::OkStatus();
}

absl::Status ReadMistral(const FieldReader& f, ModelConfig& c) {
  WRING_RETURN_IF_ERROR(ReadCore(f, c, {0, 131072}));
  WRING_RETURN_IF_ERROR(ReadRope(f, c, RopeDefaults{10000.0, 1.0, false}));
  // MistralModel masks every layer with sliding_window (default 4096) and
  // ignores layer_types; an explicit null turns the window off.
  const mapping::Json* window = mapping::JsonMember(f.object(), "sliding_window");
  if (window == nullptr || !window->is_null()) {
    WRING_ASSIGN_OR_RETURN(int64_t value, f.PositiveInt("sliding_window", 4096));
    c.sliding_window = value;
    SlideEveryLayer(c);
  }
  return absl::OkStatus();
}

absl::Status ReadQwen2(const FieldReader& f, ModelConfig& c) {
  WRING_RETURN_IF_ERROR(ReadCore(f, c, {0, 32768}));
  WRING_RETURN_IF_ERROR(ReadRope(f, c, RopeDefaults{10000.0, 1.0, false}));
  c.attention_bias = true;  // Qwen2Attention hard-codes q/k/v biases
  return ReadQwen2Windows(f, c, /*moe_formula=*/false);
}

absl::Status ReadQwen3(const FieldReader& f, ModelConfig& c) {
  WRING_RETURN_IF_ERROR(ReadCore(f, c, {128, 32768}));
  WRING_RETURN_IF_ERROR(ReadRope(f, c, RopeDefaults{10000.0, 1.0, false}));
  WRING_ASSIGN_OR_RETURN(const bool bias, f.Bool("attention_bias", false));
  c.attention_bias = c.o_proj_bias = bias;
  c.qk_norm = true;
  return ReadQwen2Windows(f, c, /*moe_formula=*/false);
}

absl::Status ReadQwen2Moe(const FieldReader& f, ModelConfig& c) {
  WRING_RETURN_IF_ERROR(ReadCore(f, c, {0, 32768}));
  WRING_RETURN_IF_ERROR(ReadRope(f, c, RopeDefaults{10000.0, 1.0, false}));
  WRING_ASSIGN_OR_RETURN(c.attention_bias, f.Bool("qkv_bias", true));
  WRING_RETURN_IF_ERROR(ReadQwen2Windows(f, c, /*moe_formula=*/true));
  WRING_RETURN_IF_ERROR(ReadMoe(f, c, {"num_experts", 60, 4, "moe_intermediate_size", 1408, "norm_topk_prob", false,
                                       false, "shared_expert_intermediate_size", 5632}));
  return ReadSparseStep(f, c);
}

absl::Status ReadQwen3Moe(const FieldReader& f, ModelConfig& c) {
  WRING_RETURN_IF_ERROR(ReadCore(f, c, {0, 32768}));
  WRING_RETURN_IF_ERROR(ReadRope(f, c, RopeDefaults{10000.0, 1.0, false}));
  WRING_ASSIGN_OR_RETURN(const bool bias, f.Bool("attention_bias", false));
  c.attention_bias = c.o_proj_bias = bias;
  c.qk_norm = true;
  // Qwen3MoeModel masks every layer with the window when use_sliding_window.
  WRING_RETURN_IF_ERROR(ReadUseSlidingWindow(f, c));
  SlideEveryLayer(c);
  WRING_RETURN_IF_ERROR(ReadMoe(f, c, {LocalExpertsKey(f), 128, 8, "moe_intermediate_size", 768, "norm_topk_prob",
                                       false, false, nullptr, 0}));
  return ReadSparseStep(f, c);
}

absl::Status ReadMixtral(const FieldReader& f, ModelConfig& c) {
  WRING_RETURN_IF_ERROR(ReadCore(f, c, {0, 4096 * 32}));
  WRING_RETURN_IF_ERROR(ReadRope(f, c, RopeDefaults{1000000.0, 1.0, false}));
  WRING_RETURN_IF_ERROR(ReadOptionalWindow(f, c));
  SlideEveryLayer(c);
  const char* experts_key = LocalExpertsKey(f);
  WRING_RETURN_IF_ERROR(ReadMoe(f, c, {experts_key, 8, 2, "intermediate_size", 14336, nullptr, true, true, nullptr, 0}));
  if (c.moe.num_experts == 0) return f.Error(experts_key, "must be positive");
  SparseEveryLayer(c);
  c.saved_name_renames = {{".mlp.", ".block_sparse_moe."}};
  return absl::OkStatus();
}

absl::Status ReadQwen3Next(const FieldReader& f, ModelConfig& c) {
  WRING_RETURN_IF_ERROR(ReadCore(f, c, {256, 32768}));
  WRING_RETURN_IF_ERROR(ReadRope(f, c, RopeDefaults{10000.0, 0.25, true}));
  WRING_ASSIGN_OR_RETURN(const bool bias, f.Bool("attention_bias", false));
  c.attention_bias = c.o_proj_bias = bias;
  c.qk_norm = true;
  c.attention_output_gate = true;
  c.norm_style = NormStyle::kOffsetWeight;
  WRING_RETURN_IF_ERROR(ReadHybridMixers(f, c));
  c.linear_attention.projections = LinearAttentionConfig::Projections::kFusedQkvzBa;
  WRING_RETURN_IF_ERROR(ReadMoe(f, c, {"num_experts", 512, 10, "moe_intermediate_size", 512, "norm_topk_prob", true,
                                       false, "shared_expert_intermediate_size", 512}));
  WRING_RETURN_IF_ERROR(ReadSparseStep(f, c));
  c.ignored_tensor_prefixes = {"mtp."};
  return absl::OkStatus();
}

absl::Status ReadQwen35Common(const FieldReader& f, ModelConfig& c, bool needs_intermediate) {
  WRING_RETURN_IF_ERROR(ReadCore(f, c, {256, 32768, "hidden_act", "silu", needs_intermediate}));
  WRING_RETURN_IF_ERROR(ReadRope(f, c, RopeDefaults{10000.0, 0.25, true}));
  WRING_ASSIGN_OR_RETURN(const bool bias, f.Bool("attention_bias", false));
  c.attention_bias = c.o_proj_bias = bias;
  c.qk_norm = true;
  c.attention_output_gate = true;
  c.norm_style = NormStyle::kOffsetWeight;
  WRING_RETURN_IF_ERROR(ReadHybridMixers(f, c));
  c.linear_attention.projections = LinearAttentionConfig::Projections::kSeparate;
  c.ignored_tensor_prefixes = {"mtp."};
  return absl::OkStatus();
}

absl::Status ReadQwen35Text(const FieldReader& f, ModelConfig& c) {
  return ReadQwen35Common(f, c, /*needs_intermediate=*/true);
}

absl::Status ReadQwen35MoeText(const FieldReader& f, ModelConfig& c) {
  WRING_RETURN_IF_ERROR(ReadQwen35Common(f, c, /*needs_intermediate=*/false));
  WRING_RETURN_IF_ERROR(ReadMoe(f, c, {"num_experts", 256, 8, "moe_intermediate_size", 512, nullptr, true, false,
                                       "shared_expert_intermediate_size", 512}));
  if (c.moe.num_experts == 0) return f.Error("num_experts", "must be positive");
  SparseEveryLayer(c);
  return absl::OkStatus();
}

absl::Status ReadGemma3Text(const FieldReader& f, ModelConfig& c) {
  WRING_RETURN_IF_ERROR(ReadCore(f, c, {256, 131072, "hidden_activation", "gelu_pytorch_tanh"}));
  WRING_ASSIGN_OR_RETURN(const bool bias, f.Bool("attention_bias", false));
  c.attention_bias = c.o_proj_bias = bias;
  c.qk_norm = true;
  c.norm_style = NormStyle::kOffsetWeight;
  c.sandwich_norms = true;
  c.embedding_scale = std::sqrt(static_cast<double>(c.hidden_size));
  WRING_ASSIGN_OR_RETURN(const double query_scalar, f.Number("query_pre_attn_scalar", 256));
  if (!(query_scalar > 0)) return f.Error("query_pre_attn_scalar", "must be positive");
  c.attention_scaling = std::pow(query_scalar, -0.5);
  WRING_ASSIGN_OR_RETURN(c.attention_logit_softcapping, f.OptionalNumber("attn_logit_softcapping"));
  WRING_ASSIGN_OR_RETURN(c.final_logit_softcapping, f.OptionalNumber("final_logit_softcapping"));
  WRING_ASSIGN_OR_RETURN(const bool bidirectional, f.Bool("use_bidirectional_attention", false));
  if (bidirectional) {
    return f.Unsupported("use_bidirectional_attention", "is true; wring runs causal language models only");
  }
  const mapping::Json* window = mapping::JsonMember(f.object(), "sliding_window");
  if (window == nullptr || !window->is_null()) {
    WRING_ASSIGN_OR_RETURN(int64_t value, f.PositiveInt("sliding_window", 4096));
    c.sliding_window = value;
  }
  WRING_ASSIGN_OR_RETURN(std::vector<std::string> types, LayerTypes(f, c.num_hidden_layers));
  if (types.empty()) {
    WRING_ASSIGN_OR_RETURN(int64_t pattern, f.PositiveInt("sliding_window_pattern", 6));
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
      types.push_back((i + 1) % pattern != 0 ? "sliding_attention" : "full_attention");
    }
  }
  WRING_RETURN_IF_ERROR(CheckLayerTypes(f, types, {"full_attention", "sliding_attention"}));
  WRING_RETURN_IF_ERROR(MarkSlidingLayers(f, types, c));
  return ReadGemma3Rope(f, c);
}

absl::Status ReadPhi3(const FieldReader& f, ModelConfig& c) {
  WRING_RETURN_IF_ERROR(ReadCore(f, c, {0, 4096}));
  WRING_RETURN_IF_ERROR(ReadRope(f, c, RopeDefaults{10000.0, 1.0, true}));
  c.fused_qkv = true;
  c.fused_gate_up = true;
  WRING_RETURN_IF_ERROR(ReadOptionalWindow(f, c));
  SlideEveryLayer(c);
  return absl::OkStatus();
}

const FamilyReader kFamilies[] = {
    {"llama", false, ReadLlama},
    {"mistral", false, ReadMistral},
    {"qwen2", false, ReadQwen2},
    {"qwen3", false, ReadQwen3},
    {"qwen2_moe", false, ReadQwen2Moe},
    {"qwen3_moe", false, ReadQwen3Moe},
    {"mixtral", false, ReadMixtral},
    {"qwen3_next", false, ReadQwen3Next},
    {"qwen3_5_text", false, ReadQwen35Text},
    {"qwen3_5_moe_text", false, ReadQwen35MoeText},
    {"gemma3_text", true, ReadGemma3Text},
    {"phi3", false, ReadPhi3},
};

}  // namespace

const FamilyReader* FindFamily(absl::string_view model_type) {
  for (const FamilyReader& family : kFamilies) {
    if (model_type == family.model_type) return &family;
  }
  return nullptr;
}

std::vector<std::string> FamilyModelTypes() {
  std::vector<std::string> types;
  for (const FamilyReader& family : kFamilies) types.push_back(family.model_type);
  return types;
}

}  // namespace internal
}  // namespace model
}  // namespace backend
}  // namespace wring
