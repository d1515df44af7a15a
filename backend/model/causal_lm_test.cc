// Checks CausalLm against transformers 5.17 on tiny random-weight models
// (testdata/make_reference.py: the checkpoints and reference outputs).
#include "backend/model/causal_lm.h"

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "backend/model/config.h"
#include "backend/model/internal/decoder_math.h"
#include "backend/safetensors/reader.h"
#include "gtest/gtest.h"
#include "mapping/testing/runfiles.h"

namespace wring {
namespace backend {
namespace model {
namespace {

std::string TestdataDir(const std::string& model) {
  return mapping::testing::RunfilePath(absl::StrCat("backend/model/testdata/", model));
}

struct Reference {
  std::unique_ptr<safetensors::SafetensorsFile> file;
  torch::Tensor Get(const std::string& name) const {
    absl::StatusOr<torch::Tensor> tensor = file->Get(name);
    EXPECT_TRUE(tensor.ok()) << tensor.status();
    return tensor.ok() ? *tensor : torch::Tensor();
  }
};

Reference LoadReference(const std::string& model) {
  auto file = safetensors::SafetensorsFile::Open(TestdataDir(model) + "/reference.safetensors");
  EXPECT_TRUE(file.ok()) << file.status();
  return Reference{file.ok() ? std::move(*file) : nullptr};
}

std::unique_ptr<CausalLm> OpenModel(const std::string& dir) {
  absl::StatusOr<std::unique_ptr<CausalLm>> model = CausalLm::Open(dir, torch::kCPU);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? std::move(*model) : nullptr;
}

// max |actual - expected| / (atol + rtol * |expected|) <= 1, reported with
// the worst absolute difference.
void ExpectClose(const torch::Tensor& actual, const torch::Tensor& expected, double atol, double rtol,
                 const std::string& what) {
  ASSERT_TRUE(actual.defined()) << what;
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  const torch::Tensor a = actual.to(torch::kFloat), e = expected.to(torch::kFloat);
  const torch::Tensor diff = (a - e).abs();
  const double ratio = (diff / (atol + rtol * e.abs())).max().item<double>();
  EXPECT_LE(ratio, 1.0) << what << ": max |diff| " << diff.max().item<double>() << " (atol " << atol << ", rtol "
                        << rtol << ")";
}

struct ModelCase {
  const char* name;
  double atol, rtol;  // logits tolerance
};

// fp32 models agree to float rounding (matmul accumulation order differs
// between LibTorch 1.13 and PyTorch 2.10). For bf16 every op rounds to 8
// mantissa bits, so a different accumulation order in one matmul can move a
// value by one bf16 ulp, and that propagates: transformers' own eager and
// sdpa paths differ by up to 0.08 on these logits (|logits| <= 4.1). The
// bf16 bound is set at that level.
const ModelCase kModels[] = {
    {"llama_fp32_llama3rope_sharded", 1e-4, 1e-4},
    {"mistral_bf16_sliding", 0.1, 0.02},
    {"qwen2_fp32_bias", 1e-4, 1e-4},
    {"qwen3_fp32_tied", 1e-4, 1e-4},
};

class ModelsMatchTransformers : public ::testing::TestWithParam<ModelCase> {};

TEST_P(ModelsMatchTransformers, EmbeddingsLayerAndLogits) {
  const ModelCase& c = GetParam();
  const Reference ref = LoadReference(c.name);
  std::unique_ptr<CausalLm> model = OpenModel(TestdataDir(c.name));
  ASSERT_NE(model, nullptr);
  const torch::Tensor ids = ref.Get("input_ids");

  absl::StatusOr<torch::Tensor> embeddings = model->Embed(ids);
  ASSERT_TRUE(embeddings.ok()) << embeddings.status();
  EXPECT_EQ(embeddings->scalar_type(), model->config().dtype);
  EXPECT_TRUE(torch::equal(embeddings->to(torch::kFloat), ref.Get("embeddings"))) << "embedding lookup is exact";

  absl::StatusOr<Weights> weights = model->LoadLayerWeights(0);
  ASSERT_TRUE(weights.ok()) << weights.status();
  absl::StatusOr<torch::Tensor> layer0 = model->DecoderLayerForward(0, *weights, *embeddings);
  ASSERT_TRUE(layer0.ok()) << layer0.status();
  ExpectClose(*layer0, ref.Get("hidden_after_layer0"), c.atol, c.rtol, "decoder layer 0");

  absl::StatusOr<torch::Tensor> logits = model->Forward(ids);
  ASSERT_TRUE(logits.ok()) << logits.status();
  EXPECT_EQ(logits->scalar_type(), model->config().dtype);
  ExpectClose(*logits, ref.Get("logits"), c.atol, c.rtol, "logits");
}

INSTANTIATE_TEST_SUITE_P(Tiny, ModelsMatchTransformers, ::testing::ValuesIn(kModels),
                         [](const ::testing::TestParamInfo<ModelCase>& info) { return std::string(info.param.name); });

TEST(RopeInverseFrequencies, MatchTransformersForEveryModel) {
  for (const ModelCase& c : kModels) {
    std::unique_ptr<CausalLm> model = OpenModel(TestdataDir(c.name));
    ASSERT_NE(model, nullptr);
    // llama3 scaling for the llama model (all three frequency bands), the
    // default for the others.
    ExpectClose(internal::RopeInverseFrequencies(model->config()), LoadReference(c.name).Get("rope_inv_freq"), 0,
                1e-6, absl::StrCat(c.name, " inverse frequencies"));
  }
}

TEST(CausalAttention, HeadBlocksDoNotChangeTheResult) {
  torch::manual_seed(3);
  const torch::Tensor q = torch::randn({2, 8, 10, 16}), k = torch::randn({2, 4, 10, 16}),
                      v = torch::randn({2, 4, 10, 16});
  const torch::Tensor whole = internal::CausalAttention(q, k, v, 0.25, 3);
  // One kv head (2 query heads) per block: 2 * 2 * 10 * 10 * 4 bytes.
  const torch::Tensor blocked = internal::CausalAttention(q, k, v, 0.25, 3, /*max_score_bytes=*/1600);
  EXPECT_TRUE(torch::equal(whole, blocked));
  // Query 9 with window 3 sees keys 7..9 only: changing key 6 changes nothing
  // there, but does change query 6.
  torch::Tensor k2 = k.clone();
  k2.select(2, 6).add_(1.0);
  const torch::Tensor moved = internal::CausalAttention(q, k2, v, 0.25, 3);
  EXPECT_TRUE(torch::equal(whole.select(1, 9), moved.select(1, 9)));
  EXPECT_FALSE(torch::equal(whole.select(1, 6), moved.select(1, 6)));
}

TEST(CausalLm, LinearInputHookSeesEveryLinearAndItsResultIsUsed) {
  const std::string name = "llama_fp32_llama3rope_sharded";
  const Reference ref = LoadReference(name);
  std::unique_ptr<CausalLm> model = OpenModel(TestdataDir(name));
  ASSERT_NE(model, nullptr);
  std::vector<std::string> seen;
  LayerHooks hooks;
  hooks.linear_input = [&](const std::string& linear, const torch::Tensor& input) -> torch::Tensor {
    seen.push_back(linear);
    // transformers' forward_pre_hook in the generator: down_proj gets half.
    return absl::EndsWith(linear, "mlp.down_proj") ? input * 0.5 : input;
  };
  absl::StatusOr<torch::Tensor> hidden = model->Embed(ref.Get("input_ids"));
  ASSERT_TRUE(hidden.ok()) << hidden.status();
  for (int layer = 0; layer < model->config().num_hidden_layers; ++layer) {
    absl::StatusOr<Weights> weights = model->LoadLayerWeights(layer);
    ASSERT_TRUE(weights.ok()) << weights.status();
    hidden = model->DecoderLayerForward(layer, *weights, *hidden, hooks);
    ASSERT_TRUE(hidden.ok()) << hidden.status();
  }
  absl::StatusOr<torch::Tensor> logits = model->Logits(*hidden);
  ASSERT_TRUE(logits.ok()) << logits.status();
  ExpectClose(*logits, ref.Get("logits_down_proj_input_halved"), 1e-4, 1e-4, "logits with halved down_proj input");
  ASSERT_EQ(seen.size(), 14u);
  EXPECT_EQ(std::vector<std::string>(seen.begin(), seen.begin() + 7),
            std::vector<std::string>({"model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj",
                                      "model.layers.0.self_attn.v_proj", "model.layers.0.self_attn.o_proj",
                                      "model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj",
                                      "model.layers.0.mlp.down_proj"}));
}

TEST(CausalLm, KeyValueHookSeesCacheStatesAndItsResultIsUsed) {
  const std::string name = "llama_fp32_llama3rope_sharded";
  const Reference ref = LoadReference(name);
  std::unique_ptr<CausalLm> model = OpenModel(TestdataDir(name));
  ASSERT_NE(model, nullptr);
  std::map<std::string, std::pair<torch::Tensor, torch::Tensor>> seen;
  LayerHooks hooks;
  hooks.key_value = [&](const std::string& attention, const torch::Tensor& k, const torch::Tensor& v) {
    seen[attention] = {k.clone(), v.clone()};
    return std::make_pair(k * 0.5, v * 2.0);  // what the generator's cache returns
  };
  absl::StatusOr<torch::Tensor> hidden = model->Embed(ref.Get("input_ids"));
  ASSERT_TRUE(hidden.ok()) << hidden.status();
  for (int layer = 0; layer < model->config().num_hidden_layers; ++layer) {
    absl::StatusOr<Weights> weights = model->LoadLayerWeights(layer);
    ASSERT_TRUE(weights.ok()) << weights.status();
    hidden = model->DecoderLayerForward(layer, *weights, *hidden, hooks);
    ASSERT_TRUE(hidden.ok()) << hidden.status();
  }
  absl::StatusOr<torch::Tensor> logits = model->Logits(*hidden);
  ASSERT_TRUE(logits.ok()) << logits.status();
  ExpectClose(*logits, ref.Get("logits_kv_rescaled"), 1e-4, 1e-4, "logits with rescaled key/value");
  ASSERT_EQ(seen.count("model.layers.0.self_attn"), 1u);
  ASSERT_EQ(seen.count("model.layers.1.self_attn"), 1u);
  // [B, kv_heads, T, head_dim] after RoPE, as DynamicCache.update gets them.
  ExpectClose(seen["model.layers.0.self_attn"].first, ref.Get("layer0_key"), 1e-5, 1e-5, "layer 0 key");
  ExpectClose(seen["model.layers.0.self_attn"].second, ref.Get("layer0_value"), 1e-5, 1e-5, "layer 0 value");
}

TEST(CausalLm, HookReturningWrongShapeIsAnError) {
  std::unique_ptr<CausalLm> model = OpenModel(TestdataDir("qwen2_fp32_bias"));
  ASSERT_NE(model, nullptr);
  LayerHooks hooks;
  hooks.linear_input = [](const std::string&, const torch::Tensor& input) { return input.slice(-1, 0, 3); };
  absl::StatusOr<Weights> weights = model->LoadLayerWeights(0);
  ASSERT_TRUE(weights.ok()) << weights.status();
  absl::StatusOr<torch::Tensor> out = model->DecoderLayerForward(0, *weights, torch::zeros({1, 4, 64}), hooks);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(out.status().message().find("linear_input for model.layers.0.self_attn.q_proj returned [1, 4, 3]"),
            std::string::npos)
      << out.status();
}

TEST(CausalLm, ValidatesForwardArguments) {
  std::unique_ptr<CausalLm> model = OpenModel(TestdataDir("mistral_bf16_sliding"));
  ASSERT_NE(model, nullptr);
  absl::StatusOr<Weights> weights = model->LoadLayerWeights(1);
  ASSERT_TRUE(weights.ok()) << weights.status();
  for (const auto& [name, tensor] : *weights) EXPECT_EQ(tensor.scalar_type(), torch::kBFloat16) << name;

  const torch::Tensor fp32_hidden = torch::zeros({1, 3, 64});
  absl::StatusOr<torch::Tensor> out = model->DecoderLayerForward(1, *weights, fp32_hidden);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("must be [batch, length > 0, 64] BFloat16"), std::string::npos)
      << out.status();

  Weights incomplete = *weights;
  incomplete.erase("model.layers.1.mlp.up_proj.weight");
  out = model->DecoderLayerForward(1, incomplete, fp32_hidden.to(torch::kBFloat16));
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("missing model.layers.1.mlp.up_proj.weight"), std::string::npos)
      << out.status();

  EXPECT_EQ(model->LoadLayerWeights(2).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(model->Embed(torch::tensor({{1, 128}})).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(model->Embed(torch::zeros({3}, torch::kLong)).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CausalLm, ListsNonLayerTensors) {
  std::unique_ptr<CausalLm> tied = OpenModel(TestdataDir("qwen3_fp32_tied"));
  std::unique_ptr<CausalLm> untied = OpenModel(TestdataDir("qwen2_fp32_bias"));
  ASSERT_NE(tied, nullptr);
  ASSERT_NE(untied, nullptr);
  EXPECT_EQ(tied->NonLayerTensorNames(), std::vector<std::string>({"model.embed_tokens.weight", "model.norm.weight"}));
  EXPECT_EQ(untied->NonLayerTensorNames(),
            std::vector<std::string>({"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"}));
  absl::StatusOr<torch::Tensor> head = untied->GetTensor("lm_head.weight");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->sizes(), c10::IntArrayRef({128, 64}));
  EXPECT_EQ(untied->GetTensor("no.such.tensor").status().code(), absl::StatusCode::kNotFound);
}


// AWQ evaluates mapping parents on their own: attention, MLP and single
// Linear layers must compose back into the decoder layer.
TEST(CausalLm, SubmodulesComposeIntoTheDecoderLayer) {
  const std::string name = "qwen3_fp32_tied";
  const Reference ref = LoadReference(name);
  std::unique_ptr<CausalLm> model = OpenModel(TestdataDir(name));
  ASSERT_NE(model, nullptr);
  absl::StatusOr<torch::Tensor> hidden = model->Embed(ref.Get("input_ids"));
  ASSERT_TRUE(hidden.ok()) << hidden.status();
  absl::StatusOr<Weights> weights = model->LoadLayerWeights(0);
  ASSERT_TRUE(weights.ok()) << weights.status();
  torch::Tensor attention_input, mlp_input, down_input;
  LayerHooks capture;
  capture.linear_input = [&](const std::string& linear, const torch::Tensor& input) {
    if (absl::EndsWith(linear, "q_proj")) attention_input = input;
    if (absl::EndsWith(linear, "gate_proj")) mlp_input = input;
    if (absl::EndsWith(linear, "down_proj")) down_input = input;
    return input;
  };
  absl::StatusOr<torch::Tensor> layer = model->DecoderLayerForward(0, *weights, *hidden, capture);
  ASSERT_TRUE(layer.ok()) << layer.status();
  auto attention = model->SubmoduleForward(0, *weights, "model.layers.0.self_attn", attention_input);
  auto mlp = model->SubmoduleForward(0, *weights, "model.layers.0.mlp", mlp_input);
  auto down = model->SubmoduleForward(0, *weights, "model.layers.0.mlp.down_proj", down_input);
  ASSERT_TRUE(attention.ok() && mlp.ok() && down.ok()) << attention.status() << mlp.status() << down.status();
  ExpectClose(*hidden + *attention + *mlp, *layer, 1e-5, 1e-5, "embedding + attention + mlp");
  EXPECT_TRUE(torch::equal(*down, *mlp)) << "down_proj on its input is the MLP output";
  EXPECT_EQ(model->SubmoduleForward(0, *weights, "model.layers.0.input_layernorm", mlp_input).status().code(),
            absl::StatusCode::kUnimplemented);
  EXPECT_EQ(model->SubmoduleForward(1, *weights, "model.layers.0.mlp", mlp_input).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CausalLm, OverridesAndLayerTransformsAreWhatForwardUses) {
  const std::string name = "qwen3_fp32_tied";
  const Reference ref = LoadReference(name);
  std::unique_ptr<CausalLm> model = OpenModel(TestdataDir(name));
  ASSERT_NE(model, nullptr);
  absl::StatusOr<torch::Tensor> embedding = model->GetTensor("model.embed_tokens.weight");
  ASSERT_TRUE(embedding.ok());
  model->OverrideTensor("model.embed_tokens.weight", *embedding * 2);
  int transformed = 0;
  model->SetLayerWeightsTransform([&](int layer, Weights& weights) {
    ++transformed;
    return layer >= 0 && weights.count(LayerPrefix(layer) + "input_layernorm.weight") == 1
               ? absl::OkStatus()
               : absl::InternalError("unexpected layer");
  });
  absl::StatusOr<torch::Tensor> hidden = model->Embed(ref.Get("input_ids"));
  ASSERT_TRUE(hidden.ok());
  absl::StatusOr<Weights> weights = model->LoadLayerWeights(1);
  ASSERT_TRUE(weights.ok()) << weights.status();
  EXPECT_EQ(transformed, 1);
  EXPECT_TRUE(torch::equal(*hidden, ref.Get("embeddings") * 2)) << "overridden embedding";
  // A tied model gets its own lm_head once one is given.
  model->OverrideTensor("lm_head.weight", *embedding * 0);
  EXPECT_EQ(model->NonLayerTensorNames().back(), "lm_head.weight");
  absl::StatusOr<torch::Tensor> logits = model->Logits(*hidden);
  ASSERT_TRUE(logits.ok());
  EXPECT_EQ(logits->abs().max().item<double>(), 0.0);
}

}  // namespace
}  // namespace model
}  // namespace backend
}  // namespace wring
