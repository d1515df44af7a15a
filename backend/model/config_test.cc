#include "backend/model/config.h"

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "backend/model/submodules.h"
#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace model {
namespace {

// The shape of config.json as transformers 5 writes it for a Llama-3 model.
constexpr char kLlama3[] = R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama", "dtype": "bfloat16",
  "vocab_size": 128256, "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
  "num_attention_heads": 32, "num_key_value_heads": 8, "max_position_embeddings": 131072,
  "rms_norm_eps": 1e-05, "hidden_act": "silu", "attention_bias": false, "mlp_bias": false,
  "tie_word_embeddings": false,
  "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
                      "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}
})";

absl::StatusOr<ModelConfig> Parse(const std::string& text) { return ParseModelConfig(text, "m/config.json"); }

std::string With(const std::string& from, const std::string& to) {
  return absl::StrReplaceAll(kLlama3, {{from, to}});
}

TEST(ParseModelConfig, ReadsLlama3) {
  absl::StatusOr<ModelConfig> config = Parse(kLlama3);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->model_type, "llama");
  EXPECT_EQ(config->architectures, std::vector<std::string>{"LlamaForCausalLM"});
  EXPECT_EQ(config->head_dim, 128);  // hidden_size / num_attention_heads
  EXPECT_EQ(config->num_key_value_heads, 8);
  EXPECT_EQ(config->dtype, torch::kBFloat16);
  EXPECT_DOUBLE_EQ(config->rope_theta, 500000.0);
  EXPECT_EQ(config->rope_scaling.rope_type, "llama3");
  EXPECT_EQ(config->rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_DOUBLE_EQ(config->rms_norm_eps, 1e-5);
  EXPECT_FALSE(config->sliding_window.has_value());
  EXPECT_EQ(config->sliding_layers, std::vector<bool>(32, false));
}

TEST(ParseModelConfig, ReadsTransformers4Fields) {
  // Before transformers 5: torch_dtype, top-level rope_theta, rope_scaling
  // with "type"; original_max_position_embeddings defaults to
  // max_position_embeddings.
  const std::string legacy = R"({"model_type": "llama", "torch_dtype": "float16", "vocab_size": 10,
      "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
      "max_position_embeddings": 64, "rope_theta": 1000.0,
      "rope_scaling": {"type": "llama3", "factor": 4, "low_freq_factor": 1, "high_freq_factor": 2}})";
  absl::StatusOr<ModelConfig> config = Parse(legacy);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->dtype, torch::kHalf);
  EXPECT_DOUBLE_EQ(config->rope_theta, 1000.0);
  EXPECT_EQ(config->rope_scaling.rope_type, "llama3");
  EXPECT_DOUBLE_EQ(config->rope_scaling.factor, 4.0);
  EXPECT_EQ(config->rope_scaling.original_max_position_embeddings, 64);
  EXPECT_EQ(config->num_key_value_heads, 2);  // defaults to num_attention_heads
}

TEST(ParseModelConfig, AppliesFamilyDefaults) {
  const std::string base = R"({"vocab_size": 10, "hidden_size": 8, "intermediate_size": 16,
      "num_hidden_layers": 3, "num_attention_heads": 2, "model_type": )";
  absl::StatusOr<ModelConfig> qwen3 = Parse(base + R"("qwen3"})");
  ASSERT_TRUE(qwen3.ok()) << qwen3.status();
  EXPECT_EQ(qwen3->head_dim, 128);  // Qwen3Config's default, not hidden / heads
  EXPECT_TRUE(qwen3->qk_norm);
  EXPECT_FALSE(qwen3->attention_bias);
  EXPECT_DOUBLE_EQ(qwen3->rope_theta, 10000.0);
  EXPECT_EQ(qwen3->dtype, torch::kFloat);

  absl::StatusOr<ModelConfig> qwen2 = Parse(base + R"("qwen2", "use_sliding_window": true,
      "sliding_window": 16, "max_window_layers": 1})");
  ASSERT_TRUE(qwen2.ok()) << qwen2.status();
  EXPECT_TRUE(qwen2->attention_bias);
  EXPECT_FALSE(qwen2->o_proj_bias);
  EXPECT_EQ(qwen2->head_dim, 4);
  EXPECT_EQ(qwen2->sliding_layers, std::vector<bool>({false, true, true}));
  EXPECT_FALSE(SlidingWindowOfLayer(*qwen2, 0).has_value());
  EXPECT_EQ(SlidingWindowOfLayer(*qwen2, 2), 16);

  absl::StatusOr<ModelConfig> mistral = Parse(base + R"("mistral"})");
  ASSERT_TRUE(mistral.ok()) << mistral.status();
  EXPECT_EQ(mistral->sliding_window, 4096);  // MistralConfig's default window
  EXPECT_EQ(mistral->sliding_layers, std::vector<bool>(3, true));
  absl::StatusOr<ModelConfig> no_window = Parse(base + R"("mistral", "sliding_window": null})");
  ASSERT_TRUE(no_window.ok()) << no_window.status();
  EXPECT_FALSE(no_window->sliding_window.has_value());
  EXPECT_EQ(no_window->sliding_layers, std::vector<bool>(3, false));
}

void ExpectError(const std::string& text, absl::StatusCode code, const std::string& needle) {
  absl::StatusOr<ModelConfig> config = Parse(text);
  ASSERT_FALSE(config.ok()) << "accepted: " << text;
  EXPECT_EQ(config.status().code(), code) << config.status();
  EXPECT_NE(config.status().message().find("m/config.json"), std::string::npos) << config.status();
  EXPECT_NE(config.status().message().find(needle), std::string::npos) << config.status();
}

TEST(ParseModelConfig, RejectsWhatTheForwardPassDoesNotImplement) {
  ExpectError(With("\"llama\"", "\"gpt_oss\""), absl::StatusCode::kUnimplemented, "`model_type` is \"gpt_oss\"");
  ExpectError(With("\"llama\"", "\"gpt_oss\""), absl::StatusCode::kUnimplemented,
              "supports llama, mistral, qwen2, qwen3, qwen2_moe, qwen3_moe, mixtral, qwen3_next");
  ExpectError(With("\"llama\"", "\"gpt_oss\""), absl::StatusCode::kUnimplemented, "with llm-compressor itself");
  ExpectError(With("\"llama3\"", "\"yarn\""), absl::StatusCode::kUnimplemented, "`rope_parameters.rope_type`");
  ExpectError(With("\"silu\"", "\"relu2\""), absl::StatusCode::kUnimplemented, "`hidden_act`");
  ExpectError(With("\"rope_type\"", "\"partial_rotary_factor\": 0.5, \"rope_type\""),
              absl::StatusCode::kUnimplemented, "partial_rotary_factor");
}

TEST(ParseModelConfig, RejectsMalformedFields) {
  ExpectError("{", absl::StatusCode::kInvalidArgument, "not valid JSON");
  ExpectError(With("\"vocab_size\": 128256", "\"vocab_size\": \"big\""), absl::StatusCode::kInvalidArgument,
              "`vocab_size` must be an integer, got string");
  ExpectError(With("\"hidden_size\": 4096,", ""), absl::StatusCode::kInvalidArgument, "`hidden_size` is required");
  ExpectError(With("\"num_key_value_heads\": 8", "\"num_key_value_heads\": 5"), absl::StatusCode::kInvalidArgument,
              "`num_key_value_heads` (5) must divide num_attention_heads (32)");
  ExpectError(With("\"bfloat16\"", "\"int8\""), absl::StatusCode::kInvalidArgument, "`dtype` is \"int8\"");
  ExpectError(With("\"factor\": 8.0, ", ""), absl::StatusCode::kInvalidArgument,
              "`rope_parameters.factor` is required");
  ExpectError(With("\"num_hidden_layers\": 32", "\"num_hidden_layers\": 0"), absl::StatusCode::kInvalidArgument,
              "`num_hidden_layers` must be positive");
  ExpectError(With("\"llama\"", "\"qwen2\", \"layer_types\": [\"full_attention\"]"),
              absl::StatusCode::kInvalidArgument, "`layer_types` has 1 entries for 32 layers");
}

// A Qwen3-Next config as transformers 5 writes it (sizes shrunk).
constexpr char kQwen3Next[] = R"({
  "architectures": ["Qwen3NextForCausalLM"], "model_type": "qwen3_next", "dtype": "bfloat16",
  "vocab_size": 100, "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 4,
  "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "hidden_act": "silu",
  "layer_types": ["linear_attention", "linear_attention", "linear_attention", "full_attention"],
  "linear_conv_kernel_dim": 4, "linear_key_head_dim": 8, "linear_value_head_dim": 8,
  "linear_num_key_heads": 2, "linear_num_value_heads": 4, "decoder_sparse_step": 1,
  "mlp_only_layers": [2], "moe_intermediate_size": 16, "shared_expert_intermediate_size": 32,
  "num_experts": 3, "num_experts_per_tok": 2, "norm_topk_prob": true,
  "rope_parameters": {"rope_type": "default", "rope_theta": 10000000.0, "partial_rotary_factor": 0.25}
})";

TEST(ParseModelConfig, ReadsHybridAttentionAndExperts) {
  absl::StatusOr<ModelConfig> config = Parse(kQwen3Next);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->layers.size(), 4u);
  EXPECT_EQ(config->layers[0].mixer, TokenMixer::kLinearAttention);
  EXPECT_EQ(config->layers[3].mixer, TokenMixer::kAttention);
  EXPECT_EQ(config->layers[0].feed_forward, FeedForward::kSparseMoe);
  EXPECT_EQ(config->layers[2].feed_forward, FeedForward::kDenseMlp);  // mlp_only_layers
  EXPECT_EQ(config->rotary_dim, 4);                                    // 16 * 0.25
  EXPECT_EQ(config->norm_style, NormStyle::kOffsetWeight);
  EXPECT_TRUE(config->attention_output_gate);
  EXPECT_EQ(config->moe.num_experts, 3);
  EXPECT_TRUE(config->moe.norm_topk_prob);
  EXPECT_FALSE(config->moe.float32_routing_weights);
  EXPECT_EQ(config->moe.shared_expert_intermediate_size, 32);
  EXPECT_EQ(config->linear_attention.projections, LinearAttentionConfig::Projections::kFusedQkvzBa);
  EXPECT_EQ(config->ignored_tensor_prefixes, std::vector<std::string>({"mtp."}));
  EXPECT_TRUE(HasAttentionLayers(*config));
}

TEST(ParseModelConfig, ReadsTheLanguageModelOfAVisionLanguageCheckpoint) {
  absl::StatusOr<ModelConfig> config = Parse(R"({"architectures": ["Qwen3_5ForConditionalGeneration"],
      "model_type": "qwen3_5", "dtype": "bfloat16", "tie_word_embeddings": true,
      "text_config": {"model_type": "qwen3_5_text", "vocab_size": 100, "hidden_size": 64,
        "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "head_dim": 16, "layer_types": ["linear_attention", "full_attention"],
        "linear_num_key_heads": 2, "linear_num_value_heads": 2, "linear_key_head_dim": 8,
        "linear_value_head_dim": 8,
        "rope_parameters": {"rope_type": "default", "rope_theta": 1e7, "partial_rotary_factor": 0.25,
                            "mrope_interleaved": true, "mrope_section": [11, 11, 10]}},
      "vision_config": {"depth": 1}})");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->model_type, "qwen3_5_text");
  EXPECT_EQ(config->module_prefix, "model.language_model.");
  EXPECT_EQ(LayerPrefix(*config, 1), "model.language_model.layers.1.");
  EXPECT_EQ(config->dtype, torch::kBFloat16);  // the wrapper's, when text_config has none
  EXPECT_TRUE(config->tie_word_embeddings);     // the wrapper's
  EXPECT_EQ(config->layers[1].feed_forward, FeedForward::kDenseMlp);
  EXPECT_EQ(config->linear_attention.projections, LinearAttentionConfig::Projections::kSeparate);

  ExpectError(R"({"model_type": "qwen3_5"})", absl::StatusCode::kInvalidArgument, "`text_config` must be an object");
}

TEST(ParseModelConfig, ReadsGemma3RopePerLayerType) {
  absl::StatusOr<ModelConfig> config = Parse(R"({"model_type": "gemma3_text", "vocab_size": 10,
      "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 3, "num_attention_heads": 4,
      "num_key_value_heads": 1, "head_dim": 16, "query_pre_attn_scalar": 24, "sliding_window": 6,
      "rope_scaling": {"rope_type": "linear", "factor": 8.0}, "rope_theta": 1000000.0,
      "rope_local_base_freq": 10000.0, "sliding_window_pattern": 3})");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->sliding_layers, std::vector<bool>({true, true, false}));
  EXPECT_EQ(RopeOfLayer(*config, 0).theta, 10000.0);
  EXPECT_EQ(RopeOfLayer(*config, 0).scaling.rope_type, "default");
  EXPECT_EQ(RopeOfLayer(*config, 2).theta, 1000000.0);
  EXPECT_EQ(RopeOfLayer(*config, 2).scaling.rope_type, "linear");
  EXPECT_DOUBLE_EQ(config->attention_scaling, 1 / std::sqrt(24.0));
  EXPECT_DOUBLE_EQ(*config->embedding_scale, 8.0);
  EXPECT_TRUE(config->sandwich_norms);
  EXPECT_TRUE(config->tie_word_embeddings);  // Gemma3TextConfig's default
  EXPECT_EQ(config->hidden_act, Activation::kGeluTanh);
}

TEST(ParseModelConfig, RefusesLayerKindsItCannotRun) {
  ExpectError(absl::StrReplaceAll(kQwen3Next, {{"\"full_attention\"]", "\"sliding_attention\"]"}}),
              absl::StatusCode::kUnimplemented,
              "`layer_types` entry 3 is \"sliding_attention\"; supported here: full_attention, linear_attention");
  ExpectError(absl::StrReplaceAll(kQwen3Next, {{"\"num_experts_per_tok\": 2", "\"num_experts_per_tok\": 4"}}),
              absl::StatusCode::kInvalidArgument, "`num_experts_per_tok` (4) exceeds the 3 experts (num_experts)");
  ExpectError(absl::StrReplaceAll(kQwen3Next, {{"\"linear_num_key_heads\": 2", "\"linear_num_key_heads\": 3"}}),
              absl::StatusCode::kInvalidArgument, "`linear_num_key_heads` (3) must divide linear_num_value_heads (4)");
  ExpectError(absl::StrReplaceAll(kQwen3Next, {{"\"partial_rotary_factor\": 0.25", "\"partial_rotary_factor\": 0.1"}}),
              absl::StatusCode::kInvalidArgument, "`rope_parameters.partial_rotary_factor` is 0.1");
}

// AWQ stacks the samples of a parent that works token by token; a token
// mixer must never be stacked (its tokens attend to each other).
TEST(RunsOnTokens, FeedForwardPartsAndLinearsButNotTokenMixers) {
  absl::StatusOr<ModelConfig> config = Parse(kQwen3Next);
  ASSERT_TRUE(config.ok()) << config.status();
  const std::vector<std::pair<int, std::string>> token_wise = {
      {0, "model.layers.0.mlp"},      {0, "model.layers.0.mlp.experts.2"},      {0, "model.layers.0.mlp.shared_expert"},
      {0, "model.layers.0.mlp.gate"}, {0, "model.layers.0.linear_attn.out_proj"}, {3, "model.layers.3.self_attn.o_proj"}};
  for (const auto& [layer, module] : token_wise) EXPECT_TRUE(RunsOnTokens(*config, layer, module)) << module;
  EXPECT_FALSE(RunsOnTokens(*config, 0, "model.layers.0.linear_attn"));
  EXPECT_FALSE(RunsOnTokens(*config, 3, "model.layers.3.self_attn"));
  EXPECT_FALSE(RunsOnTokens(*config, 0, "model.layers.0.mlp.experts.9"));  // no such expert
  EXPECT_FALSE(RunsOnTokens(*config, 0, "model.layers.1.mlp"));             // another layer's
  EXPECT_FALSE(RunsOnTokens(*config, 7, "model.layers.7.mlp"));             // no such layer
}

TEST(DecoderLayerModules, ListsExpertsLinearizedAndLinearAttention) {
  absl::StatusOr<ModelConfig> config = Parse(kQwen3Next);
  ASSERT_TRUE(config.ok()) << config.status();
  std::vector<std::string> described;
  for (const LayerModule& m : DecoderLayerModules(*config, 0)) {
    for (const auto& [name, shape] : ModuleParameters(m)) {
      described.push_back(absl::StrCat(name, " [", absl::StrJoin(shape, ","), "]"));
    }
  }
  EXPECT_EQ(described, std::vector<std::string>({
                           "model.layers.0.linear_attn.dt_bias [4]",
                           "model.layers.0.linear_attn.A_log [4]",
                           "model.layers.0.linear_attn.conv1d.weight [64,1,4]",
                           "model.layers.0.linear_attn.in_proj_qkvz.weight [96,64]",
                           "model.layers.0.linear_attn.in_proj_ba.weight [8,64]",
                           "model.layers.0.linear_attn.norm.weight [8]",
                           "model.layers.0.linear_attn.out_proj.weight [64,32]",
                           "model.layers.0.mlp.gate.weight [3,64]",
                           "model.layers.0.mlp.experts.0.up_proj.weight [16,64]",
                           "model.layers.0.mlp.experts.0.gate_proj.weight [16,64]",
                           "model.layers.0.mlp.experts.0.down_proj.weight [64,16]",
                           "model.layers.0.mlp.experts.1.up_proj.weight [16,64]",
                           "model.layers.0.mlp.experts.1.gate_proj.weight [16,64]",
                           "model.layers.0.mlp.experts.1.down_proj.weight [64,16]",
                           "model.layers.0.mlp.experts.2.up_proj.weight [16,64]",
                           "model.layers.0.mlp.experts.2.gate_proj.weight [16,64]",
                           "model.layers.0.mlp.experts.2.down_proj.weight [64,16]",
                           "model.layers.0.mlp.shared_expert.gate_proj.weight [32,64]",
                           "model.layers.0.mlp.shared_expert.up_proj.weight [32,64]",
                           "model.layers.0.mlp.shared_expert.down_proj.weight [64,32]",
                           "model.layers.0.mlp.shared_expert_gate.weight [1,64]",
                           "model.layers.0.input_layernorm.weight [64]",
                           "model.layers.0.post_attention_layernorm.weight [64]",
                       }));
}

TEST(DecoderLayerModules, ListsQwen3LayerWithShapes) {
  absl::StatusOr<ModelConfig> config = Parse(R"({"model_type": "qwen3", "vocab_size": 10, "hidden_size": 64,
      "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
      "head_dim": 32, "attention_bias": true})");
  ASSERT_TRUE(config.ok()) << config.status();
  const std::vector<LayerModule> modules = DecoderLayerModules(*config, 1);
  std::vector<std::string> described;
  for (const LayerModule& m : modules) {
    described.push_back(absl::StrCat(m.name, m.kind == LayerModule::kLinear ? " linear " : " norm ", m.in_features,
                                     "->", m.out_features, m.has_bias ? " bias" : ""));
  }
  EXPECT_EQ(described, std::vector<std::string>({
                           "model.layers.1.self_attn.q_proj linear 64->128 bias",
                           "model.layers.1.self_attn.k_proj linear 64->64 bias",
                           "model.layers.1.self_attn.v_proj linear 64->64 bias",
                           "model.layers.1.self_attn.o_proj linear 128->64 bias",
                           "model.layers.1.self_attn.q_norm norm 32->32",
                           "model.layers.1.self_attn.k_norm norm 32->32",
                           "model.layers.1.mlp.gate_proj linear 64->96",
                           "model.layers.1.mlp.up_proj linear 64->96",
                           "model.layers.1.mlp.down_proj linear 96->64",
                           "model.layers.1.input_layernorm norm 64->64",
                           "model.layers.1.post_attention_layernorm norm 64->64",
                       }));
}

TEST(DecoderLayerModules, GivesBiasesPerFamily) {
  const std::string dims = R"("vocab_size": 10, "hidden_size": 8, "intermediate_size": 16,
      "num_hidden_layers": 1, "num_attention_heads": 2, "attention_bias": true, "mlp_bias": true})";
  auto biases = [&](const std::string& family) {
    absl::StatusOr<ModelConfig> config = Parse(absl::StrCat(R"({"model_type": ")", family, "\", ", dims));
    std::string flags;
    if (!config.ok()) return config.status().ToString();
    for (const LayerModule& m : DecoderLayerModules(*config, 0)) {
      if (m.kind == LayerModule::kLinear) flags += m.has_bias ? "B" : "-";
    }
    return flags;  // q k v o gate up down
  };
  EXPECT_EQ(biases("llama"), "BBBBBBB");
  EXPECT_EQ(biases("mistral"), "-------");  // MistralAttention has no biases
  EXPECT_EQ(biases("qwen2"), "BBB----");    // q/k/v biases regardless of attention_bias
  EXPECT_EQ(biases("qwen3"), "BBBB---");
}

}  // namespace
}  // namespace model
}  // namespace backend
}  // namespace wring
