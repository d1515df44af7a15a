// Malformed model directories: CausalLm must say what is wrong and where.
// Each test copies the tiny Qwen2 checkpoint (testdata/qwen2_fp32_bias) into
// a temporary directory and breaks one thing.
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "backend/model/causal_lm.h"
#include "backend/safetensors/reader.h"
#include "backend/safetensors/writer.h"
#include "gtest/gtest.h"
#include "mapping/testing/runfiles.h"

namespace wring {
namespace backend {
namespace model {
namespace {

using safetensors::TensorToWrite;

std::string SourceDir(const std::string& model = "qwen2_fp32_bias") {
  return mapping::testing::RunfilePath("backend/model/testdata/" + model);
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// A fresh copy of a test model (the Qwen2 one by default) whose tensors and
// config.json text went through `edit_tensors` and `edit_config`.
std::string BrokenCopy(const std::function<void(std::vector<TensorToWrite>&)>& edit_tensors,
                       const std::function<std::string(std::string)>& edit_config = nullptr,
                       const std::string& model = "qwen2_fp32_bias") {
  static int counter = 0;
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/broken_", counter++);
  EXPECT_EQ(mkdir(dir.c_str(), 0755), 0) << dir;
  std::string config = mapping::testing::ReadFileOrFail(SourceDir(model) + "/config.json");
  if (edit_config) config = edit_config(config);
  WriteFile(dir + "/config.json", config);

  auto file = safetensors::SafetensorsFile::Open(SourceDir(model) + "/model.safetensors");
  EXPECT_TRUE(file.ok()) << file.status();
  std::vector<TensorToWrite> tensors;
  for (const auto& entry : (*file)->header().tensors) {
    absl::StatusOr<torch::Tensor> tensor = (*file)->Get(entry.name);
    EXPECT_TRUE(tensor.ok()) << tensor.status();
    tensors.push_back({entry.name, *tensor});
  }
  if (edit_tensors) edit_tensors(tensors);
  const absl::Status written = safetensors::WriteSafetensorsFile(dir + "/model.safetensors", tensors);
  EXPECT_TRUE(written.ok()) << written;
  return dir;
}

void Erase(std::vector<TensorToWrite>& tensors, const std::string& name) {
  tensors.erase(std::remove_if(tensors.begin(), tensors.end(), [&](const TensorToWrite& t) { return t.name == name; }),
                tensors.end());
}

TensorToWrite& Find(std::vector<TensorToWrite>& tensors, const std::string& name) {
  for (TensorToWrite& t : tensors) {
    if (t.name == name) return t;
  }
  ADD_FAILURE() << "no tensor " << name;
  return tensors.front();
}

void ExpectMentions(const absl::Status& status, const std::vector<std::string>& needles) {
  for (const std::string& needle : needles) {
    EXPECT_NE(status.message().find(needle), std::string::npos) << "missing \"" << needle << "\" in: " << status;
  }
}

TEST(CausalLmErrors, UnchangedCopyWorks) {
  const std::string dir = BrokenCopy(nullptr);
  absl::StatusOr<std::unique_ptr<CausalLm>> model = CausalLm::Open(dir, torch::kCPU);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_TRUE((*model)->LoadLayerWeights(1).ok());
}

// A failing Linear input transform (e.g. an online rotation whose block does
// not divide the input) fails the forward pass with its own message, and the
// hooks see only transformed inputs.
TEST(CausalLmErrors, LinearInputTransformRunsBeforeHooksAndReportsFailures) {
  const std::string dir = BrokenCopy(nullptr);
  absl::StatusOr<std::unique_ptr<CausalLm>> model = CausalLm::Open(dir, torch::kCPU);
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<Weights> weights = (*model)->LoadLayerWeights(0);
  ASSERT_TRUE(weights.ok()) << weights.status();
  absl::StatusOr<torch::Tensor> hidden = (*model)->Embed(torch::tensor({{1, 2, 3}}, torch::kLong));
  ASSERT_TRUE(hidden.ok()) << hidden.status();
  const torch::Tensor plain = *(*model)->DecoderLayerForward(0, *weights, *hidden);

  int hooked = 0, zero_down_inputs = 0;
  LayerHooks hooks;
  hooks.linear_input = [&](const std::string& name, const torch::Tensor& x) {
    ++hooked;
    if (name.find("down_proj") != std::string::npos) zero_down_inputs += x.eq(0).all().item<bool>();
    return x;
  };
  (*model)->SetLinearInputTransform([](const std::string& name, const torch::Tensor& x)
                                        -> absl::StatusOr<torch::Tensor> {
    if (name.find("down_proj") == std::string::npos) return x;
    return torch::zeros_like(x);
  });
  absl::StatusOr<torch::Tensor> changed = (*model)->DecoderLayerForward(0, *weights, *hidden, hooks);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(hooked, 7);  // q, k, v, o, gate, up, down
  EXPECT_EQ(zero_down_inputs, 1);
  EXPECT_FALSE(torch::allclose(*changed, plain));
  // Several samples at once (the propagation and evaluation passes) run the
  // transform too.
  absl::StatusOr<std::vector<torch::Tensor>> stacked =
      (*model)->DecoderLayerForwardSamples(0, *weights, {*hidden, *hidden});
  ASSERT_TRUE(stacked.ok()) << stacked.status();
  ASSERT_EQ(stacked->size(), 2u);
  for (const torch::Tensor& out : *stacked) EXPECT_TRUE(torch::allclose(out, *changed));

  (*model)->SetLinearInputTransform([](const std::string& name, const torch::Tensor& x)
                                        -> absl::StatusOr<torch::Tensor> {
    if (name.find("down_proj") == std::string::npos) return x;
    return absl::InvalidArgumentError("block size 7 does not divide " + name);
  });
  absl::Status failed = (*model)->DecoderLayerForward(0, *weights, *hidden).status();
  ExpectMentions(failed, {"block size 7", "down_proj"});
  failed = (*model)->SubmoduleForward(0, *weights, "model.layers.0.mlp", *hidden).status();
  ExpectMentions(failed, {"block size 7"});
  failed = (*model)->DecoderLayerForwardSamples(0, *weights, {*hidden, *hidden}).status();
  ExpectMentions(failed, {"block size 7", "down_proj"});
}

TEST(CausalLmErrors, LayerWithMissingExtraAndMisshapenTensors) {
  const std::string dir = BrokenCopy([](std::vector<TensorToWrite>& tensors) {
    Erase(tensors, "model.layers.1.mlp.up_proj.weight");
    Find(tensors, "model.layers.1.self_attn.q_proj.weight").tensor = torch::zeros({64, 32});
    Find(tensors, "model.layers.1.self_attn.k_proj.bias").tensor = torch::zeros({32}, torch::kInt);
    tensors.push_back({"model.layers.1.self_attn.extra.weight", torch::zeros({2})});
    // transformers ignores RoPE buffers some old checkpoints still carry.
    tensors.push_back({"model.layers.1.self_attn.rotary_emb.inv_freq", torch::zeros({8})});
  });
  // Every decoder layer is checked from the headers when the model opens,
  // before any weight is read.
  absl::StatusOr<std::unique_ptr<CausalLm>> model = CausalLm::Open(dir, torch::kCPU);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  ExpectMentions(model.status(),
                 {dir, "decoder layer 1 does not match config.json (qwen2)",
                  "missing model.layers.1.mlp.up_proj.weight", "unexpected model.layers.1.self_attn.extra.weight",
                  "model.layers.1.self_attn.q_proj.weight has shape [64, 32], config.json implies [64, 64]",
                  "model.layers.1.self_attn.k_proj.bias has dtype Int, expected a floating-point tensor"});
  EXPECT_EQ(model.status().message().find("decoder layer 0"), std::string::npos) << model.status();
  EXPECT_EQ(model.status().message().find("rotary_emb"), std::string::npos) << model.status();
}

TEST(CausalLmErrors, OtherFloatDtypesAreCastToTheConfigDtype) {
  const std::string dir = BrokenCopy([](std::vector<TensorToWrite>& tensors) {
    TensorToWrite& w = Find(tensors, "model.layers.0.mlp.down_proj.weight");
    w.tensor = w.tensor.to(torch::kBFloat16);
  });
  absl::StatusOr<std::unique_ptr<CausalLm>> model = CausalLm::Open(dir, torch::kCPU);
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<Weights> layer0 = (*model)->LoadLayerWeights(0);
  ASSERT_TRUE(layer0.ok()) << layer0.status();
  EXPECT_EQ(layer0->at("model.layers.0.mlp.down_proj.weight").scalar_type(), torch::kFloat);
}

TEST(CausalLmErrors, MissingLmHeadAndWrongEmbeddingFailOpen) {
  const std::string dir = BrokenCopy([](std::vector<TensorToWrite>& tensors) {
    Erase(tensors, "lm_head.weight");
    Find(tensors, "model.embed_tokens.weight").tensor = torch::zeros({100, 64});
  });
  absl::StatusOr<std::unique_ptr<CausalLm>> model = CausalLm::Open(dir, torch::kCPU);
  ASSERT_FALSE(model.ok());
  ExpectMentions(model.status(), {dir, "missing lm_head.weight (tie_word_embeddings is false)",
                                  "model.embed_tokens.weight has shape [100, 64], config.json implies [128, 64]"});
}

TEST(CausalLmErrors, BadConfigFieldsFailOpen) {
  auto open_with = [](const std::string& from, const std::string& to) {
    const std::string dir = BrokenCopy(nullptr, [&](std::string config) {
      const std::string edited = absl::StrReplaceAll(config, {{from, to}});
      EXPECT_NE(edited, config) << "pattern not in config.json: " << from;
      return edited;
    });
    return std::make_pair(dir, CausalLm::Open(dir, torch::kCPU).status());
  };
  auto [dir, status] = open_with("\"hidden_size\": 64", "\"hidden_size\": 64.5");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  ExpectMentions(status, {dir + "/config.json", "`hidden_size` must be an integer, got number"});

  // A config that disagrees with the tensors is caught by the shape checks.
  std::tie(dir, status) = open_with("\"vocab_size\": 128", "\"vocab_size\": 256");
  ExpectMentions(status, {"model.embed_tokens.weight has shape [128, 64], config.json implies [256, 64]"});

  std::tie(dir, status) = open_with("\"rope_type\": \"default\"", "\"rope_type\": \"dynamic\"");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  ExpectMentions(status, {"`rope_parameters.rope_type` is \"dynamic\""});

  std::tie(dir, status) = open_with("\"use_sliding_window\": false", "\"use_sliding_window\": \"no\"");
  ExpectMentions(status, {"`use_sliding_window` must be true or false, got string"});

  std::tie(dir, status) = open_with("\"model_type\": \"qwen2\"",
                                    "\"model_type\": \"qwen2\", \"quantization_config\": {\"quant_method\": \"x\"}");
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  ExpectMentions(status, {"already has a quantization_config"});
}

// Expert tensors that disagree with config.json in count or shape are
// refused when the model opens, naming the tensors.
TEST(CausalLmErrors, ExpertsThatDisagreeWithTheConfig) {
  const std::string per_expert = "families/qwen3_moe", fused = "families/qwen3_moe_fused";
  auto open = [](const std::string& dir) { return CausalLm::Open(dir, torch::kCPU).status(); };

  std::string dir = BrokenCopy(
      [](std::vector<TensorToWrite>& tensors) {
        for (const char* p : {"gate_proj", "up_proj", "down_proj"}) {
          Erase(tensors, absl::StrCat("model.layers.1.mlp.experts.7.", p, ".weight"));
        }
      },
      nullptr, per_expert);
  absl::Status status = open(dir);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  ExpectMentions(status, {dir, "decoder layer 1 does not match config.json (qwen3_moe)",
                          "missing 3 expert tensors (config.json: 8 experts of width 16",
                          "model.layers.1.mlp.experts.7.down_proj.weight"});

  dir = BrokenCopy(
      [](std::vector<TensorToWrite>& tensors) {
        tensors.push_back({"model.layers.0.mlp.experts.8.gate_proj.weight", torch::zeros({16, 64})});
        Find(tensors, "model.layers.0.mlp.experts.3.up_proj.weight").tensor = torch::zeros({15, 64});
      },
      nullptr, per_expert);
  status = open(dir);
  ExpectMentions(status, {"unexpected model.layers.0.mlp.experts.8.gate_proj.weight",
                          "model.layers.0.mlp.experts.3.up_proj.weight has shape [15, 64], config.json implies [16, 64]"});

  dir = BrokenCopy(
      [](std::vector<TensorToWrite>& tensors) {
        TensorToWrite& gate_up = Find(tensors, "model.layers.0.mlp.experts.gate_up_proj");
        gate_up.tensor = gate_up.tensor.slice(0, 0, 7).contiguous();
      },
      nullptr, fused);
  status = open(dir);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  ExpectMentions(status, {"model.layers.0.mlp.experts.gate_up_proj has shape [7, 32, 64], config.json implies "
                          "[8, 32, 64] (num_experts, 2 * moe_intermediate_size, hidden_size)"});
  EXPECT_EQ(status.message().find("decoder layer 1"), std::string::npos) << status;

  // The config disagrees with every layer's experts.
  dir = BrokenCopy(nullptr,
                   [](std::string config) {
                     return absl::StrReplaceAll(config, {{"\"moe_intermediate_size\": 16", "\"moe_intermediate_size\": 8"}});
                   },
                   fused);
  ExpectMentions(open(dir), {"decoder layer 0", "decoder layer 1",
                             "model.layers.1.mlp.experts.down_proj has shape [8, 64, 16], config.json implies [8, 64, 8]"});
}

// A model type or layer kind wring cannot run is refused from config.json
// alone, before the checkpoint is opened.
TEST(CausalLmErrors, UnsupportedModelTypeOrLayerKind) {
  std::string dir = BrokenCopy(nullptr, [](std::string config) {
    return absl::StrReplaceAll(config, {{"\"model_type\": \"qwen2\"", "\"model_type\": \"deepseek_v3\""}});
  });
  std::remove((dir + "/model.safetensors").c_str());
  absl::Status status = CausalLm::Open(dir, torch::kCPU).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  ExpectMentions(status, {dir + "/config.json", "field `model_type` is \"deepseek_v3\"", "supports llama",
                          "qwen3_5_moe_text", "with llm-compressor itself"});

  dir = BrokenCopy(nullptr, [](std::string config) {
    return absl::StrReplaceAll(config, {{"\"full_attention\"", "\"linear_attention\""}});
  });
  std::remove((dir + "/model.safetensors").c_str());
  status = CausalLm::Open(dir, torch::kCPU).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  ExpectMentions(status, {"field `layer_types` entry 0 is \"linear_attention\"",
                          "supported here: full_attention, sliding_attention"});
}

TEST(CausalLmErrors, MissingConfigOrCheckpoint) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string empty = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/empty_model");
  ASSERT_EQ(mkdir(empty.c_str(), 0755), 0);
  absl::Status status = CausalLm::Open(empty, torch::kCPU).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  ExpectMentions(status, {empty + "/config.json"});

  WriteFile(empty + "/config.json", mapping::testing::ReadFileOrFail(SourceDir() + "/config.json"));
  status = CausalLm::Open(empty, torch::kCPU).status();
  EXPECT_FALSE(status.ok());
  ExpectMentions(status, {empty});
}

}  // namespace
}  // namespace model
}  // namespace backend
}  // namespace wring
