#include "backend/model/config.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
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
  ExpectError(With("\"llama\"", "\"gemma3\""), absl::StatusCode::kUnimplemented, "`model_type` is \"gemma3\"");
  ExpectError(With("\"llama3\"", "\"yarn\""), absl::StatusCode::kUnimplemented, "`rope_parameters.rope_type`");
  ExpectError(With("\"silu\"", "\"gelu\""), absl::StatusCode::kUnimplemented, "`hidden_act`");
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
