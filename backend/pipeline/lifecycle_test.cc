// The QuantizationMixin lifecycle of one decoder layer, step by step:
// InitializeQuantization, StartCalibration, EndCalibration, CompressLayer.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "backend/pipeline/compress_layer.h"
#include "backend/pipeline/end_calibration.h"
#include "backend/pipeline/initialize_quantization.h"
#include "backend/pipeline/layer_modifier.h"
#include "backend/pipeline/start_calibration.h"
#include "backend/testing/tiny_model.h"
#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace pipeline {
namespace {

constexpr char kModel[] = "llama_fp32_llama3rope_sharded";

// FP8 weights per channel, static per-tensor FP8 inputs and kv cache: every
// kind of observer the lifecycle drives.
constexpr char kStaticRecipe[] = R"(quant_stage:
  quant_modifiers:
    QuantizationModifier:
      ignore: [lm_head]
      config_groups:
        group_0:
          targets: [Linear]
          weights: {num_bits: 8, type: float, strategy: channel, symmetric: true, dynamic: false}
          input_activations: {num_bits: 8, type: float, strategy: tensor, symmetric: true, dynamic: false, observer: static_minmax}
      kv_cache_scheme: {num_bits: 8, type: float, strategy: tensor, symmetric: true, dynamic: false, observer: static_minmax}
)";

// Records what the calibration hooks hand a modifier.
class RecordingCalibration final : public LayerCalibration {
 public:
  explicit RecordingCalibration(absl::Status fail_with = absl::OkStatus()) : fail_with_(fail_with) {}
  bool ChangesWeights() const override { return false; }
  absl::Status ObserveLinearInput(const std::string& linear, const torch::Tensor& input) override {
    seen.push_back(linear);
    return fail_with_;
  }
  absl::Status EndLayer(const LayerContext&, model::Weights&, LayerQuantizers&) override {
    return absl::OkStatus();
  }
  std::vector<std::string> seen;

 private:
  absl::Status fail_with_;
};

class LifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tiny_ = testing::OpenTinyModel(kModel, kStaticRecipe);
    ASSERT_NE(tiny_.model, nullptr);
    auto ids = testing::RandomTokenIds(3, 12, tiny_.model->config().vocab_size, 7);
    for (const auto& sample : ids) {
      auto hidden = tiny_.model->Embed(torch::tensor(sample, torch::kInt64).reshape({1, -1}));
      ASSERT_TRUE(hidden.ok()) << hidden.status();
      hidden_.push_back(*hidden);
    }
  }

  model::Weights LoadLayer(int layer) {
    auto weights = tiny_.model->LoadLayerWeights(layer);
    EXPECT_TRUE(weights.ok()) << weights.status();
    return weights.ok() ? *weights : model::Weights();
  }

  testing::TinyModel tiny_;
  std::vector<torch::Tensor> hidden_;
};

TEST_F(LifecycleTest, InitializeQuantizationCreatesTheLayersOwnQuantizers) {
  const model::Weights weights = LoadLayer(1);
  auto quantizers = InitializeQuantization(tiny_.plan, tiny_.model->config(), 1, weights);
  ASSERT_TRUE(quantizers.ok()) << quantizers.status();
  std::set<std::string> linears;
  for (const auto& [name, q] : quantizers->linears) linears.insert(name);
  EXPECT_EQ(linears, (std::set<std::string>{
                         "model.layers.1.mlp.down_proj", "model.layers.1.mlp.gate_proj",
                         "model.layers.1.mlp.up_proj", "model.layers.1.self_attn.k_proj",
                         "model.layers.1.self_attn.o_proj", "model.layers.1.self_attn.q_proj",
                         "model.layers.1.self_attn.v_proj"}));
  ASSERT_EQ(quantizers->kv_caches.size(), 1u);
  EXPECT_EQ(quantizers->kv_caches.begin()->first, "model.layers.1.self_attn");
}

TEST_F(LifecycleTest, InitializeQuantizationNamesAMissingWeight) {
  model::Weights weights = LoadLayer(0);
  weights.erase("model.layers.0.mlp.up_proj.weight");
  auto quantizers = InitializeQuantization(tiny_.plan, tiny_.model->config(), 0, weights);
  ASSERT_FALSE(quantizers.ok());
  EXPECT_EQ(quantizers.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(quantizers.status().message(), "model.layers.0.mlp.up_proj"))
      << quantizers.status();
}

TEST_F(LifecycleTest, CalibrationHooksObserveWithoutChangingTheForward) {
  const model::Weights weights = LoadLayer(0);
  auto quantizers = InitializeQuantization(tiny_.plan, tiny_.model->config(), 0, weights);
  ASSERT_TRUE(quantizers.ok()) << quantizers.status();
  RecordingCalibration first, second;
  const model::LayerHooks hooks = StartCalibration(*quantizers, {&first, &second});
  auto plain = tiny_.model->DecoderLayerForward(0, weights, hidden_[0]);
  auto hooked = tiny_.model->DecoderLayerForward(0, weights, hidden_[0], hooks);
  ASSERT_TRUE(plain.ok() && hooked.ok());
  EXPECT_TRUE(plain->equal(*hooked)) << "quantization must stay disabled during calibration";
  EXPECT_TRUE(quantizers->hook_error.ok()) << quantizers->hook_error;
  const std::vector<std::string> order = {
      "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj",
      "model.layers.0.self_attn.v_proj", "model.layers.0.self_attn.o_proj",
      "model.layers.0.mlp.gate_proj",    "model.layers.0.mlp.up_proj",
      "model.layers.0.mlp.down_proj"};
  EXPECT_EQ(first.seen, order);
  EXPECT_EQ(second.seen, order);
}

TEST_F(LifecycleTest, AHookFailureIsKeptForTheCaller) {
  const model::Weights weights = LoadLayer(0);
  auto quantizers = InitializeQuantization(tiny_.plan, tiny_.model->config(), 0, weights);
  ASSERT_TRUE(quantizers.ok()) << quantizers.status();
  RecordingCalibration failing(absl::InternalError("statistics overflowed"));
  const model::LayerHooks hooks = StartCalibration(*quantizers, {&failing});
  ASSERT_TRUE(tiny_.model->DecoderLayerForward(0, weights, hidden_[0], hooks).ok());
  EXPECT_EQ(quantizers->hook_error, absl::InternalError("statistics overflowed"));
}

TEST_F(LifecycleTest, EndCalibrationFreezesAndCompressLayerWritesTheCheckpointTensors) {
  const model::Weights weights = LoadLayer(0);
  auto quantizers = InitializeQuantization(tiny_.plan, tiny_.model->config(), 0, weights);
  ASSERT_TRUE(quantizers.ok()) << quantizers.status();
  const model::LayerHooks calibrate = StartCalibration(*quantizers, {});
  for (const torch::Tensor& h : hidden_) {
    ASSERT_TRUE(tiny_.model->DecoderLayerForward(0, weights, h, calibrate).ok());
  }
  ASSERT_TRUE(EndCalibration(*quantizers, weights).ok());
  auto compressed = CompressLayer(*quantizers, weights, /*with_quantized_weights=*/true);
  ASSERT_TRUE(compressed.ok()) << compressed.status();
  // Without the evaluation's copy: the same checkpoint tensors and errors.
  auto lean = CompressLayer(*quantizers, weights, /*with_quantized_weights=*/false);
  ASSERT_TRUE(lean.ok()) << lean.status();
  EXPECT_TRUE(lean->quantized_weights.empty());
  ASSERT_EQ(lean->tensors.size(), compressed->tensors.size());
  for (size_t i = 0; i < lean->tensors.size(); ++i) {
    EXPECT_EQ(lean->tensors[i].name, compressed->tensors[i].name);
    EXPECT_TRUE(lean->tensors[i].tensor.equal(compressed->tensors[i].tensor)) << lean->tensors[i].name;
  }
  ASSERT_EQ(lean->linears.size(), compressed->linears.size());
  for (size_t i = 0; i < lean->linears.size(); ++i) {
    EXPECT_EQ(lean->linears[i].weight_relative_error, compressed->linears[i].weight_relative_error);
  }

  std::map<std::string, torch::Tensor> tensors;
  for (const auto& t : compressed->tensors) tensors[t.name] = t.tensor;
  for (const char* name : {"model.layers.0.self_attn.q_proj.weight_scale",
                           "model.layers.0.self_attn.q_proj.input_scale",
                           "model.layers.0.mlp.down_proj.input_scale",
                           "model.layers.0.self_attn.k_scale", "model.layers.0.self_attn.v_scale"}) {
    EXPECT_EQ(tensors.count(name), 1u) << name;
  }
  // Norms are not quantized: written as loaded.
  ASSERT_EQ(tensors.count("model.layers.0.input_layernorm.weight"), 1u);
  EXPECT_TRUE(tensors["model.layers.0.input_layernorm.weight"].equal(
      weights.at("model.layers.0.input_layernorm.weight")));

  ASSERT_EQ(compressed->linears.size(), 7u);
  for (const LinearQuality& linear : compressed->linears) {
    EXPECT_GT(linear.weight_relative_error, 0) << linear.name;
    EXPECT_LT(linear.weight_relative_error, 1e-2) << linear.name;
  }
  const std::string q = "model.layers.0.self_attn.q_proj.weight";
  EXPECT_FALSE(compressed->quantized_weights.at(q).equal(weights.at(q)));

  // Quantization is enabled after the freeze: inputs and kv states are
  // fake-quantized, so the layer's output moves, a little (fp8 keeps 3
  // mantissa bits: a few percent of each value).
  const model::LayerHooks quantized = QuantizedHooks(*quantizers);
  auto reference = tiny_.model->DecoderLayerForward(0, weights, hidden_[0]);
  auto output = tiny_.model->DecoderLayerForward(0, compressed->quantized_weights, hidden_[0], quantized);
  ASSERT_TRUE(reference.ok() && output.ok());
  EXPECT_TRUE(quantizers->hook_error.ok()) << quantizers->hook_error;
  const double moved = ((*output - *reference).pow(2).sum() / reference->pow(2).sum()).item<double>();
  EXPECT_GT(moved, 0);
  EXPECT_LT(moved, 5e-2);
}

TEST_F(LifecycleTest, CompressingBeforeTheFreezeIsAnError) {
  const model::Weights weights = LoadLayer(0);
  auto quantizers = InitializeQuantization(tiny_.plan, tiny_.model->config(), 0, weights);
  ASSERT_TRUE(quantizers.ok()) << quantizers.status();
  auto compressed = CompressLayer(*quantizers, weights, /*with_quantized_weights=*/true);
  ASSERT_FALSE(compressed.ok());
  EXPECT_EQ(compressed.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace pipeline
}  // namespace backend
}  // namespace wring
