#include "mapping/archs/internal/family_table.h"

#include <cstring>

namespace wring {
namespace mapping {
namespace archs_internal {
namespace {

using B = Bias;
using K = Kind;
using S = Size;

// Shared rows. Each block mirrors the registration order of the __init__ it
// describes in transformers 5.17's modeling_<family>.py.

#define WRING_QKVO(q_out, qkv_bias, o_bias)                                      \
  {"self_attn", "{P}Attention"},                                                 \
      {"self_attn.q_proj", "Linear", K::kLinear, S::kHidden, q_out, qkv_bias},   \
      {"self_attn.k_proj", "Linear", K::kLinear, S::kHidden, S::kKeyValueOut,    \
       qkv_bias},                                                                \
      {"self_attn.v_proj", "Linear", K::kLinear, S::kHidden, S::kKeyValueOut,    \
       qkv_bias},                                                                \
      {"self_attn.o_proj", "Linear", K::kLinear, S::kQueryOut, S::kHidden, o_bias}

#define WRING_QK_NORMS                                                               \
  {"self_attn.q_norm", "{P}RMSNorm", K::kModule, S::kNone, S::kNone, B::kNever,      \
   {{"weight", {S::kHeadDim}}}},                                                     \
      {"self_attn.k_norm", "{P}RMSNorm", K::kModule, S::kNone, S::kNone, B::kNever,  \
       {{"weight", {S::kHeadDim}}}}

// --- token mixers ---

constexpr ModuleSpec kLlamaAttention[] = {
    WRING_QKVO(S::kQueryOut, B::kAttentionBias, B::kAttentionBias)};
constexpr ModuleSpec kBiasFreeAttention[] = {WRING_QKVO(S::kQueryOut, B::kNever, B::kNever)};
constexpr ModuleSpec kQwen2Attention[] = {WRING_QKVO(S::kQueryOut, B::kAlways, B::kNever)};
constexpr ModuleSpec kQwen2MoeAttention[] = {WRING_QKVO(S::kQueryOut, B::kQkvBias, B::kNever)};
constexpr ModuleSpec kQkNormAttention[] = {
    WRING_QKVO(S::kQueryOut, B::kAttentionBias, B::kAttentionBias), WRING_QK_NORMS};
// Qwen3-Next's q_proj also produces the output gate.
constexpr ModuleSpec kGatedQkNormAttention[] = {
    WRING_QKVO(S::kGatedQueryOut, B::kAttentionBias, B::kAttentionBias), WRING_QK_NORMS};

constexpr ModuleSpec kPhi3Attention[] = {
    {"self_attn", "{P}Attention"},
    {"self_attn.o_proj", "Linear", K::kLinear, S::kQueryOut, S::kHidden},
    {"self_attn.qkv_proj", "Linear", K::kLinear, S::kHidden, S::kFusedQkvOut},
};

constexpr ModuleSpec kGatedDeltaNet[] = {
    {"linear_attn", "{P}GatedDeltaNet", K::kModule, S::kNone, S::kNone, B::kNever,
     {{"dt_bias", {S::kLinearValueHeads}}, {"A_log", {S::kLinearValueHeads}}}},
    {"linear_attn.conv1d", "Conv1d,_ConvNd", K::kModule, S::kNone, S::kNone, B::kNever,
     {{"weight", {S::kLinearConvDim, S::kOne, S::kLinearConvKernel}}}},
    {"linear_attn.in_proj_qkvz", "Linear", K::kLinear, S::kHidden, S::kLinearQkvzOut},
    {"linear_attn.in_proj_ba", "Linear", K::kLinear, S::kHidden, S::kLinearBaOut},
    {"linear_attn.norm", "{P}RMSNormGated", K::kModule, S::kNone, S::kNone, B::kNever,
     {{"weight", {S::kLinearValueHeadDim}}}},
    {"linear_attn.out_proj", "Linear", K::kLinear, S::kLinearValueDim, S::kHidden},
};

// Qwen3.5 names the projections apart and registers them last.
constexpr ModuleSpec kSeparateGatedDeltaNet[] = {
    {"linear_attn", "{P}GatedDeltaNet", K::kModule, S::kNone, S::kNone, B::kNever,
     {{"dt_bias", {S::kLinearValueHeads}}, {"A_log", {S::kLinearValueHeads}}}},
    {"linear_attn.conv1d", "Conv1d,_ConvNd", K::kModule, S::kNone, S::kNone, B::kNever,
     {{"weight", {S::kLinearConvDim, S::kOne, S::kLinearConvKernel}}}},
    {"linear_attn.norm", "{P}RMSNormGated", K::kModule, S::kNone, S::kNone, B::kNever,
     {{"weight", {S::kLinearValueHeadDim}}}},
    {"linear_attn.out_proj", "Linear", K::kLinear, S::kLinearValueDim, S::kHidden},
    {"linear_attn.in_proj_qkv", "Linear", K::kLinear, S::kHidden, S::kLinearConvDim},
    {"linear_attn.in_proj_z", "Linear", K::kLinear, S::kHidden, S::kLinearValueDim},
    {"linear_attn.in_proj_b", "Linear", K::kLinear, S::kHidden, S::kLinearValueHeads},
    {"linear_attn.in_proj_a", "Linear", K::kLinear, S::kHidden, S::kLinearValueHeads},
};

// --- MLPs ---

#define WRING_GATED_MLP(path, width, bias)                                        \
  {path, "{P}MLP"}, {path ".gate_proj", "Linear", K::kLinear, S::kHidden, width, bias}, \
      {path ".up_proj", "Linear", K::kLinear, S::kHidden, width, bias},           \
      {path ".down_proj", "Linear", K::kLinear, width, S::kHidden, bias},         \
      {path ".act_fn", "", K::kActivation}

constexpr ModuleSpec kLlamaMlp[] = {WRING_GATED_MLP("mlp", S::kIntermediate, B::kMlpBias)};
constexpr ModuleSpec kGatedMlp[] = {WRING_GATED_MLP("mlp", S::kIntermediate, B::kNever)};

constexpr ModuleSpec kPhi3Mlp[] = {
    {"mlp", "{P}MLP"},
    {"mlp.gate_up_proj", "Linear", K::kLinear, S::kHidden, S::kFusedGateUpOut},
    {"mlp.down_proj", "Linear", K::kLinear, S::kIntermediate, S::kHidden},
    {"mlp.activation_fn", "", K::kActivation},
};

// transformers 5 keeps experts fused: one module with 3-D parameters.
#define WRING_FUSED_EXPERTS                                                           \
  {"mlp.experts", "{P}Experts", K::kModule, S::kNone, S::kNone, B::kNever,            \
   {{"gate_up_proj", {S::kNumExperts, S::kFusedExpertGateUp, S::kHidden}},            \
    {"down_proj", {S::kNumExperts, S::kHidden, S::kExpertIntermediate}}}},            \
      {"mlp.experts.act_fn", "", K::kActivation}

#define WRING_ROUTER                                                          \
  {"mlp.gate", "{P}TopKRouter", K::kModule, S::kNone, S::kNone, B::kNever,    \
   {{"weight", {S::kNumExperts, S::kHidden}}}}

constexpr ModuleSpec kQwen3MoeSparseMlp[] = {
    {"mlp", "{P}SparseMoeBlock"}, WRING_FUSED_EXPERTS, WRING_ROUTER};

constexpr ModuleSpec kMixtralSparseMlp[] = {
    {"mlp", "{P}SparseMoeBlock"}, WRING_ROUTER, WRING_FUSED_EXPERTS};

constexpr ModuleSpec kSharedExpertSparseMlp[] = {
    {"mlp", "{P}SparseMoeBlock"},
    WRING_ROUTER,
    WRING_FUSED_EXPERTS,
    WRING_GATED_MLP("mlp.shared_expert", S::kSharedExpertIntermediate, B::kNever),
    {"mlp.shared_expert_gate", "Linear", K::kLinear, S::kHidden, S::kOne},
};

// --- what follows the MLP ---

#define WRING_NORM(path) \
  { path, "{P}RMSNorm", K::kModule, S::kNone, S::kNone, B::kNever, {{"weight", {S::kHidden}}} }

constexpr ModuleSpec kStandardTail[] = {
    WRING_NORM("input_layernorm"), WRING_NORM("post_attention_layernorm")};

constexpr ModuleSpec kPhi3Tail[] = {
    WRING_NORM("input_layernorm"),
    WRING_NORM("post_attention_layernorm"),
    {"resid_attn_dropout", "Dropout,_DropoutNd"},
    {"resid_mlp_dropout", "Dropout,_DropoutNd"},
};

constexpr ModuleSpec kGemma3Tail[] = {
    WRING_NORM("input_layernorm"), WRING_NORM("post_attention_layernorm"),
    WRING_NORM("pre_feedforward_layernorm"), WRING_NORM("post_feedforward_layernorm")};

#undef WRING_QKVO
#undef WRING_QK_NORMS
#undef WRING_GATED_MLP
#undef WRING_FUSED_EXPERTS
#undef WRING_ROUTER
#undef WRING_NORM

constexpr char kModel[] = "{P}Model,{P}PreTrainedModel,PreTrainedModel";
constexpr char kTextModel[] = "{P}TextModel,{P}PreTrainedModel,PreTrainedModel";
constexpr char kTextRotary[] = "{P}TextRotaryEmbedding";
constexpr Block kNoBlock;

// Defaults are the transformers 5.17 config-class defaults for fields a
// config.json may leave out (see configuration_<family>.py).
const FamilySpec kFamilies[] = {
    {"LlamaForCausalLM", "Llama", "LlamaConfig", kModel, "Embedding", "hidden_act", "silu",
     0, 0, false, nullptr, nullptr, nullptr, MoePlacement::kNone, kLlamaAttention, kNoBlock,
     kLlamaMlp, kNoBlock, kStandardTail},
    {"MistralForCausalLM", "Mistral", "MistralConfig", kModel, "Embedding", "hidden_act",
     "silu", 0, 8, false, nullptr, nullptr, nullptr, MoePlacement::kNone, kBiasFreeAttention,
     kNoBlock, kGatedMlp, kNoBlock, kStandardTail},
    {"MixtralForCausalLM", "Mixtral", "MixtralConfig", kModel, "Embedding", "hidden_act",
     "silu", 0, 8, false, "num_local_experts", "num_experts", "intermediate_size",
     MoePlacement::kEveryLayer, kBiasFreeAttention, kNoBlock, kNoBlock, kMixtralSparseMlp,
     kStandardTail},
    {"Qwen2ForCausalLM", "Qwen2", "Qwen2Config", kModel, "Embedding", "hidden_act", "silu", 0,
     32, false, nullptr, nullptr, nullptr, MoePlacement::kNone, kQwen2Attention, kNoBlock,
     kGatedMlp, kNoBlock, kStandardTail},
    {"Qwen2MoeForCausalLM", "Qwen2Moe", "Qwen2MoeConfig", kModel, "Embedding", "hidden_act",
     "silu", 0, 16, false, "num_experts", nullptr, "moe_intermediate_size",
     MoePlacement::kSparseStep, kQwen2MoeAttention, kNoBlock, kGatedMlp,
     kSharedExpertSparseMlp, kStandardTail},
    {"Qwen3ForCausalLM", "Qwen3", "Qwen3Config", kModel, "Embedding", "hidden_act", "silu",
     128, 32, false, nullptr, nullptr, nullptr, MoePlacement::kNone, kQkNormAttention,
     kNoBlock, kGatedMlp, kNoBlock, kStandardTail},
    {"Qwen3MoeForCausalLM", "Qwen3Moe", "Qwen3MoeConfig", kModel, "Embedding", "hidden_act",
     "silu", 0, 4, false, "num_local_experts", "num_experts", "moe_intermediate_size",
     MoePlacement::kSparseStep, kQkNormAttention, kNoBlock, kGatedMlp, kQwen3MoeSparseMlp,
     kStandardTail},
    {"Qwen3NextForCausalLM", "Qwen3Next", "Qwen3NextConfig", kModel, "Embedding",
     "hidden_act", "silu", 256, 2, false, "num_experts", nullptr, "moe_intermediate_size",
     MoePlacement::kSparseStep, kGatedQkNormAttention, kGatedDeltaNet, kGatedMlp,
     kSharedExpertSparseMlp, kStandardTail},
    // Qwen3.5: the text model alone, or inside the vision-language wrapper.
    {"Qwen3_5ForCausalLM", "Qwen3_5", "Qwen3_5TextConfig", kTextModel, "Embedding", "hidden_act",
     "silu", 256, 4, false, nullptr, nullptr, nullptr, MoePlacement::kNone, kGatedQkNormAttention,
     kSeparateGatedDeltaNet, kGatedMlp, kNoBlock, kStandardTail, kTextRotary},
    {"Qwen3_5ForConditionalGeneration", "Qwen3_5", "Qwen3_5TextConfig", kTextModel, "Embedding",
     "hidden_act", "silu", 256, 4, false, nullptr, nullptr, nullptr, MoePlacement::kNone,
     kGatedQkNormAttention, kSeparateGatedDeltaNet, kGatedMlp, kNoBlock, kStandardTail, kTextRotary,
     VisionTower::kQwen3_5},
    {"Qwen3_5MoeForCausalLM", "Qwen3_5Moe", "Qwen3_5MoeTextConfig", kTextModel, "Embedding",
     "hidden_act", "silu", 256, 2, false, "num_experts", nullptr, "moe_intermediate_size",
     MoePlacement::kEveryLayer, kGatedQkNormAttention, kSeparateGatedDeltaNet, kNoBlock,
     kSharedExpertSparseMlp, kStandardTail, kTextRotary},
    {"Qwen3_5MoeForConditionalGeneration", "Qwen3_5Moe", "Qwen3_5MoeTextConfig", kTextModel,
     "Embedding", "hidden_act", "silu", 256, 2, false, "num_experts", nullptr,
     "moe_intermediate_size", MoePlacement::kEveryLayer, kGatedQkNormAttention,
     kSeparateGatedDeltaNet, kNoBlock, kSharedExpertSparseMlp, kStandardTail, kTextRotary,
     VisionTower::kQwen3_5},
    {"Phi3ForCausalLM", "Phi3", "Phi3Config", kModel, "Embedding", "hidden_act", "silu", 0, 0,
     false, nullptr, nullptr, nullptr, MoePlacement::kNone, kPhi3Attention, kNoBlock,
     kPhi3Mlp, kNoBlock, kPhi3Tail},
    {"Gemma3ForCausalLM", "Gemma3", "Gemma3TextConfig",
     "{P}TextModel,{P}PreTrainedModel,PreTrainedModel", "{P}TextScaledWordEmbedding,Embedding",
     "hidden_activation", "gelu_pytorch_tanh", 256, 4, true, nullptr, nullptr, nullptr,
     MoePlacement::kNone, kQkNormAttention, kNoBlock, kGatedMlp, kNoBlock, kGemma3Tail},
};

struct ActivationRow {
  const char* name;
  const char* mro;
};

// ACT2CLS without "prelu" and "xielu", whose modules carry parameters and
// buffers that config.json does not describe.
constexpr ActivationRow kActivations[] = {
    {"gelu", "GELUActivation"},
    {"gelu_10", "ClippedGELUActivation"},
    {"gelu_fast", "FastGELUActivation"},
    {"gelu_new", "NewGELUActivation"},
    {"gelu_python", "GELUActivation"},
    {"gelu_pytorch_tanh", "GELUTanh"},
    {"gelu_python_tanh", "GELUTanh"},
    {"gelu_accurate", "AccurateGELUActivation"},
    {"hardswish", "Hardswish"},
    {"laplace", "LaplaceActivation"},
    {"leaky_relu", "LeakyReLU"},
    {"linear", "LinearActivation"},
    {"mish", "MishActivation"},
    {"quick_gelu", "QuickGELUActivation"},
    {"relu", "ReLU"},
    {"relu2", "ReLUSquaredActivation"},
    {"relu6", "ReLU6,Hardtanh"},
    {"sigmoid", "Sigmoid"},
    {"silu", "SiLUActivation"},
    {"sqrtsoftplus", "SqrtSoftplusActivation"},
    {"swish", "SiLU"},
    {"tanh", "Tanh"},
};

}  // namespace

absl::Span<const FamilySpec> Families() { return kFamilies; }

const FamilySpec* FindFamily(absl::string_view architecture) {
  for (const FamilySpec& family : kFamilies) {
    if (architecture == family.architecture) return &family;
  }
  return nullptr;
}

const char* ActivationMro(absl::string_view activation) {
  for (const ActivationRow& row : kActivations) {
    if (activation == row.name) return row.mro;
  }
  return nullptr;
}

}  // namespace archs_internal
}  // namespace mapping
}  // namespace wring
