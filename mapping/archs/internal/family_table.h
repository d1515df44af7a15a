// The data that describes each known architecture's module tree, as
// transformers 5.17 builds it.
//
// A family is a few names (class prefix, model/embedding classes), the
// transformers config defaults that change shapes, and blocks: lists of
// modules, relative to a decoder layer, with their classes and shapes written
// in symbolic sizes (Size) that the builder resolves from config.json. The
// builder (architectures.cc) walks these tables; adding an architecture means
// adding rows here, not code.
#ifndef WRING_MAPPING_ARCHS_INTERNAL_FAMILY_TABLE_H_
#define WRING_MAPPING_ARCHS_INTERNAL_FAMILY_TABLE_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace wring {
namespace mapping {
namespace archs_internal {

// Sizes module shapes are written in; each is derived from config.json by
// ConfigSizes (config_sizes.h).
enum class Size : uint8_t {
  kNone,  // ends a shape / no feature count
  kOne,
  kHidden,
  kVocab,
  kHeadDim,
  kQueryOut,             // num_attention_heads * head_dim
  kGatedQueryOut,        // 2 * num_attention_heads * head_dim (query + gate)
  kKeyValueOut,          // num_key_value_heads * head_dim
  kFusedQkvOut,          // kQueryOut + 2 * kKeyValueOut
  kIntermediate,         // intermediate_size
  kFusedGateUpOut,       // 2 * intermediate_size
  kExpertIntermediate,   // the family's per-expert intermediate size
  kFusedExpertGateUp,    // 2 * kExpertIntermediate
  kNumExperts,
  kSharedExpertIntermediate,
  kLinearQkvzOut,        // 2 * key_dim + 2 * value_dim (gated delta net)
  kLinearBaOut,          // 2 * linear_num_value_heads
  kLinearValueDim,       // linear_num_value_heads * linear_value_head_dim
  kLinearConvDim,        // 2 * key_dim + value_dim
  kLinearValueHeads,
  kLinearValueHeadDim,
  kLinearConvKernel,
};

// Where a Linear's bias flag comes from.
enum class Bias : uint8_t {
  kNever,
  kAlways,
  kAttentionBias,  // config.attention_bias, default false
  kQkvBias,        // config.qkv_bias, default true (Qwen2-MoE)
  kMlpBias,        // config.mlp_bias, default false
};

enum class Kind : uint8_t {
  kModule,      // parameters listed in `params`
  kLinear,      // weight [out, in] (+ bias [out]); in/out recorded
  kActivation,  // class chosen by the family's activation config key
};

struct ParamSpec {
  const char* name = nullptr;  // nullptr ends the list
  Size shape[3] = {Size::kNone, Size::kNone, Size::kNone};
};

struct ModuleSpec {
  // Dotted path below the decoder layer, e.g. "self_attn.q_proj".
  const char* path;
  // Comma-separated MRO, most derived first; "{P}" is the family prefix.
  // Unused for activations.
  const char* mro;
  Kind kind = Kind::kModule;
  Size in = Size::kNone;  // Linear only
  Size out = Size::kNone;
  Bias bias = Bias::kNever;
  // The module's own parameters, in registration order (not Linear's).
  ParamSpec params[2] = {};
};

using Block = absl::Span<const ModuleSpec>;

// Which layers get the sparse mixture-of-experts MLP.
enum class MoePlacement : uint8_t {
  kNone,
  kEveryLayer,
  // Qwen-style: layer i unless i is in mlp_only_layers, when num_experts > 0
  // and (i + 1) % decoder_sparse_step == 0.
  kSparseStep,
};

// The vision tower of a vision-language wrapper (*ForConditionalGeneration).
enum class VisionTower : uint8_t {
  kNone,    // a *ForCausalLM: the text model is `model`
  kQwen3_5, // model.visual as Qwen3_5VisionModel builds it from vision_config,
            // the text model at model.language_model, sizes from text_config
};

struct FamilySpec {
  const char* architecture;  // config.architectures[0]
  const char* prefix;        // class-name prefix, "{P}" in MROs
  const char* config_class;  // named in notes about defaults
  const char* model_mro;     // the `model` submodule
  const char* embedding_mro;
  // Config key of the MLP activation and its default.
  const char* activation_key;
  const char* default_activation;
  // 0: hidden_size / num_attention_heads.
  int64_t default_head_dim;
  // 0: num_attention_heads.
  int64_t default_key_value_heads;
  bool default_tie_word_embeddings;
  // Config keys for the expert count (the second is an alias transformers
  // maps onto the first; nullptr when none) and the per-expert width.
  const char* num_experts_key;
  const char* num_experts_alias;
  const char* expert_intermediate_key;
  MoePlacement moe;
  // Decoder layer: token mixer, MLP, then the remaining modules.
  Block attention;
  Block linear_attention;  // non-empty: layer_types picks the mixer per layer
  Block dense_mlp;
  Block sparse_mlp;
  Block layer_tail;
  // The text model's rotary embedding; nullptr: "{P}RotaryEmbedding".
  const char* rotary_mro = nullptr;
  VisionTower vision = VisionTower::kNone;
};

absl::Span<const FamilySpec> Families();
// nullptr when unknown.
const FamilySpec* FindFamily(absl::string_view architecture);

// transformers' ACT2CLS: activation name -> the class's comma-separated MRO;
// nullptr when unknown or not buildable from config alone.
const char* ActivationMro(absl::string_view activation);

}  // namespace archs_internal
}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_ARCHS_INTERNAL_FAMILY_TABLE_H_
