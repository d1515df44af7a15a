// The sequential pipeline's ordering: which events a LayerModifier sees,
// when a propagation pass runs, what reaches the result.
#include "backend/pipeline/sequential_calibration.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "backend/distributed/collectives.h"
#include "backend/testing/tiny_model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace pipeline {
namespace {

constexpr char kModel[] = "llama_fp32_llama3rope_sharded";
constexpr char kW8A8[] = R"(quant_stage:
  quant_modifiers:
    QuantizationModifier: {targets: [Linear], ignore: [lm_head], scheme: W8A8}
)";

// A modifier that logs its events and, when asked, halves layer 0's
// up_proj at its sequential epoch end (which halves down_proj's input).
class ScriptedModifier final : public LayerModifier {
 public:
  ScriptedModifier(std::string name, std::vector<std::string>& log, bool halve_up_proj)
      : name_(std::move(name)), log_(log), halve_(halve_up_proj) {}

  std::string name() const override { return name_; }

  absl::StatusOr<std::unique_ptr<LayerCalibration>> StartLayer(const LayerContext& context,
                                                               const model::Weights&) override {
    log_.push_back(absl::StrCat(name_, " start ", context.layer));
    return std::unique_ptr<LayerCalibration>(new Layer(*this, context.layer));
  }

  ModifierReport Report() const override {
    ModifierReport report;
    if (name_ == "quiet") return report;
    report.json_key = name_;
    report.json = {{"layer_1_q_proj_input_sum", layer_1_input_sum_}};
    report.text = absl::StrCat("  ", name_, "\n");
    return report;
  }

  double layer_1_input_sum() const { return layer_1_input_sum_; }
  double layer_0_down_proj_input_sum() const { return layer_0_down_input_sum_; }

 private:
  class Layer final : public LayerCalibration {
   public:
    Layer(ScriptedModifier& owner, int layer) : owner_(owner), layer_(layer) {}
    bool ChangesWeights() const override { return owner_.halve_ && layer_ == 0; }
    absl::Status ObserveLinearInput(const std::string& linear, const torch::Tensor& input) override {
      ++observed_;
      if (linear == "model.layers.1.self_attn.q_proj") {
        owner_.layer_1_input_sum_ += input.abs().sum().item<double>();
      }
      if (linear == "model.layers.0.mlp.down_proj") {
        owner_.layer_0_down_input_sum_ += input.abs().sum().item<double>();
      }
      return absl::OkStatus();
    }
    absl::Status EndLayer(const LayerContext& context, model::Weights& weights,
                          LayerQuantizers&) override {
      owner_.log_.push_back(absl::StrCat(owner_.name_, " end ", context.layer, " after ",
                                         observed_, " inputs"));
      if (ChangesWeights()) {
        const std::string name = "model.layers.0.mlp.up_proj.weight";
        weights[name] = weights.at(name) * 0.5;
      }
      return absl::OkStatus();
    }

   private:
    ScriptedModifier& owner_;
    int layer_;
    int observed_ = 0;
  };

  std::string name_;
  std::vector<std::string>& log_;
  bool halve_;
  double layer_1_input_sum_ = 0;
  double layer_0_down_input_sum_ = 0;
};

class SequentialCalibrationTest : public ::testing::Test {
 protected:
  absl::StatusOr<CalibrationResult> Run(const std::vector<LayerModifier*>& modifiers,
                                        int evaluation_samples = 0) {
    tiny_ = testing::OpenTinyModel(kModel, kW8A8);
    EXPECT_NE(tiny_.model, nullptr);
    const int64_t vocab = tiny_.model->config().vocab_size;
    Progress progress(nullptr, 2);
    return RunSequentialCalibration(*tiny_.model, tiny_.plan, modifiers,
                                    testing::RandomTokenIds(4, 16, vocab, 1),
                                    testing::RandomTokenIds(evaluation_samples, 16, vocab, 2),
                                    progress);
  }

  static std::map<std::string, torch::Tensor> Tensors(const CalibrationResult& result) {
    std::map<std::string, torch::Tensor> out;
    for (const auto& t : result.tensors) out[t.name] = t.tensor;
    return out;
  }

  testing::TinyModel tiny_;
};

TEST_F(SequentialCalibrationTest, ModifiersSeeEachLayerInRecipeOrder) {
  std::vector<std::string> log;
  ScriptedModifier first("first", log, false), second("second", log, false);
  auto result = Run({&first, &second});
  ASSERT_TRUE(result.ok()) << result.status();
  // 4 samples x 7 Linears per layer. oneshot's "independent" pipeline: a
  // pass per modifier, in recipe order, interleaved layer by layer.
  EXPECT_EQ(log, (std::vector<std::string>{
                     "first start 0", "first end 0 after 28 inputs", "second start 0",
                     "second end 0 after 28 inputs", "first start 1", "first end 1 after 28 inputs",
                     "second start 1", "second end 1 after 28 inputs"}));
  ASSERT_EQ(result->modifiers.size(), 2u);
  EXPECT_EQ(result->modifiers[0].json_key, "first");
  EXPECT_EQ(result->modifiers[1].json_key, "second");
  EXPECT_EQ(result->layers.size(), 2u);
}

// The later modifier's pass sees the layer as the earlier one left it (GPTQ
// calibrating on SmoothQuant's smoothed layer), and only its own inputs.
TEST_F(SequentialCalibrationTest, ALaterModifierCalibratesOnTheLayerTheEarlierChanged) {
  std::vector<std::string> log;
  ScriptedModifier alone("alone", log, false);
  ASSERT_TRUE(Run({&alone}).ok());
  ScriptedModifier halving("halving", log, true), after("after", log, false);
  ASSERT_TRUE(Run({&halving, &after}).ok());
  EXPECT_DOUBLE_EQ(halving.layer_0_down_proj_input_sum(), alone.layer_0_down_proj_input_sum());
  EXPECT_NEAR(after.layer_0_down_proj_input_sum(), 0.5 * alone.layer_0_down_proj_input_sum(),
              1e-5 * alone.layer_0_down_proj_input_sum());
  // Each pass propagated its inputs through the halved layer 0.
  EXPECT_NEAR(after.layer_1_input_sum(), halving.layer_1_input_sum(), 1e-5 * halving.layer_1_input_sum());
  EXPECT_NE(after.layer_1_input_sum(), alone.layer_1_input_sum());
}

// Rank 0 of two workers; no peer is needed, the pipeline refuses first.
class FirstOfTwo final : public distributed::SingleProcessCollectives {
 public:
  int world_size() const override { return 2; }
};

TEST_F(SequentialCalibrationTest, WorkersRefuseAModifierThatDoesNotCombineItsStatistics) {
  std::vector<std::string> log;
  ScriptedModifier local("LocalOnlyModifier", log, false);
  tiny_ = testing::OpenTinyModel(kModel, kW8A8);
  ASSERT_NE(tiny_.model, nullptr);
  Progress progress(nullptr, 2);
  FirstOfTwo workers;
  auto result = RunSequentialCalibration(
      *tiny_.model, tiny_.plan, {&local},
      testing::RandomTokenIds(2, 16, tiny_.model->config().vocab_size, 1), {}, progress, workers);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(result.status().message()),
              ::testing::HasSubstr("LocalOnlyModifier does not combine its statistics across "
                                   "data-parallel workers"));
  EXPECT_TRUE(log.empty());  // refused before layer 0
}

TEST_F(SequentialCalibrationTest, AModifierWithNothingToReportIsLeftOut) {
  std::vector<std::string> log;
  ScriptedModifier quiet("quiet", log, false);
  auto result = Run({&quiet});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->modifiers.empty());
}

TEST_F(SequentialCalibrationTest, ChangedWeightsArePropagatedAndCompressed) {
  std::vector<std::string> log;
  ScriptedModifier unchanged("unchanged", log, false);
  auto plain = Run({&unchanged});
  ASSERT_TRUE(plain.ok()) << plain.status();
  ScriptedModifier halving("halving", log, true);
  auto halved = Run({&halving});
  ASSERT_TRUE(halved.ok()) << halved.status();

  // Layer 1 calibrates on the output of layer 0 with the halved up_proj,
  // not on the calibration pass's output.
  EXPECT_NE(unchanged.layer_1_input_sum(), halving.layer_1_input_sum());
  // The checkpoint holds the halved weight's quantization: same int8
  // values, half the scale.
  auto a = Tensors(*plain), b = Tensors(*halved);
  const std::string scale = "model.layers.0.mlp.up_proj.weight_scale";
  ASSERT_EQ(a.count(scale) + b.count(scale), 2u);
  EXPECT_TRUE(torch::allclose(b[scale].to(torch::kFloat64), a[scale].to(torch::kFloat64) * 0.5,
                              1e-6, 0));
  const std::string other = "model.layers.0.mlp.down_proj.weight_scale";
  EXPECT_TRUE(b[other].equal(a[other]));
}

TEST_F(SequentialCalibrationTest, OnePassWithoutModifiersEqualsOneWithAPassiveModifier) {
  auto alone = Run({}, 2);
  ASSERT_TRUE(alone.ok()) << alone.status();
  std::vector<std::string> log;
  ScriptedModifier passive("passive", log, false);
  auto watched = Run({&passive}, 2);
  ASSERT_TRUE(watched.ok()) << watched.status();
  auto a = Tensors(*alone), b = Tensors(*watched);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, tensor] : a) EXPECT_TRUE(tensor.equal(b[name])) << name;
  EXPECT_EQ(alone->compressed_perplexity, watched->compressed_perplexity);
  EXPECT_GT(alone->evaluation_tokens, 0);
}

TEST_F(SequentialCalibrationTest, NoCalibrationSamplesIsAnErrorWhenAModifierNeedsThem) {
  tiny_ = testing::OpenTinyModel(kModel, kW8A8);
  ASSERT_NE(tiny_.model, nullptr);
  std::vector<std::string> log;
  ScriptedModifier passive("passive", log, false);
  Progress progress(nullptr, 2);
  auto result = RunSequentialCalibration(*tiny_.model, tiny_.plan, {&passive}, {}, {}, progress);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
}

// W8A8's activations are dynamic: nothing observes them, so the run is
// data-free as in llm-compressor. The calibration samples are not even read:
// with or without them the checkpoint and the evaluation are the same.
TEST_F(SequentialCalibrationTest, DataFreeRunIgnoresCalibrationSamples) {
  tiny_ = testing::OpenTinyModel(kModel, kW8A8);
  ASSERT_NE(tiny_.model, nullptr);
  EXPECT_FALSE(NeedsCalibrationPass(tiny_.plan, {}));
  std::vector<std::string> log;
  ScriptedModifier passive("passive", log, false);
  EXPECT_TRUE(NeedsCalibrationPass(tiny_.plan, {&passive}));

  const int64_t vocab = tiny_.model->config().vocab_size;
  const TokenSequences evaluation = testing::RandomTokenIds(2, 16, vocab, 2);
  Progress progress(nullptr, 2);
  auto without = RunSequentialCalibration(*tiny_.model, tiny_.plan, {}, {}, evaluation, progress);
  ASSERT_TRUE(without.ok()) << without.status();
  auto with = Run({}, 2);
  ASSERT_TRUE(with.ok()) << with.status();
  auto a = Tensors(*without), b = Tensors(*with);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, tensor] : a) EXPECT_TRUE(tensor.equal(b[name])) << name;
  EXPECT_EQ(without->compressed_perplexity, with->compressed_perplexity);
}

}  // namespace
}  // namespace pipeline
}  // namespace backend
}  // namespace wring
