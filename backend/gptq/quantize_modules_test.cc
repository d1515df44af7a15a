// The per-layer GPTQ solve: batching as upstream's assign_batches, Hessians
// shared by Linears that read one input, RTN fallback and its summary.
#include "backend/gptq/quantize_modules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <limits>
#include <memory>
#include <string>

#include "backend/safetensors/reader.h"

namespace wring {
namespace backend {
namespace gptq {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

quantize::QuantizationArgs Int4Group32() {
  quantize::QuantizationArgs args;
  args.num_bits = 4;
  args.strategy = quantize::QuantizationStrategy::kGroup;
  args.group_size = 32;
  return args;
}

GptqModule Module(const std::string& name, const torch::Tensor& weight, const std::string& key = "int4-g32") {
  GptqModule m;
  m.name = name;
  m.weight = weight;
  m.args = Int4Group32();
  m.args_key = key;
  auto qparams = quantize::ComputeWeightQParams(weight, m.args);
  EXPECT_TRUE(qparams.ok()) << qparams.status();
  m.qparams = *qparams;
  return m;
}

std::vector<torch::Tensor> Inputs(int64_t width, int seed) {
  torch::manual_seed(seed);
  std::vector<torch::Tensor> inputs;
  for (int b = 0; b < 3; ++b) {
    torch::Tensor x = torch::randn({1, 40, width});
    x.select(2, 3).mul_(10);
    inputs.push_back(x.to(torch::kBFloat16));
  }
  return inputs;
}

torch::Tensor Weight(int64_t out, int64_t in, int seed) {
  torch::manual_seed(seed);
  return (torch::randn({out, in}) * 0.05).to(torch::kBFloat16);
}

TEST(AssignBatches, GroupsEqualKeysInFirstAppearanceOrderUpToTheLimit) {
  std::vector<GptqModule> modules = {
      Module("q", Weight(64, 64, 1)), Module("k", Weight(32, 64, 2)),
      Module("o", Weight(64, 64, 3)), Module("v", Weight(32, 64, 4)),
      Module("x", Weight(64, 64, 5), "other-args"), Module("p", Weight(64, 64, 6))};
  BatchedQuantization none{BatchedQuantization::Mode::kNone, 0};
  EXPECT_EQ(AssignBatches(modules, none, 128).size(), 6u);
  BatchedQuantization two{BatchedQuantization::Mode::kLimit, 2};
  EXPECT_EQ(AssignBatches(modules, two, 128),
            (std::vector<std::vector<int>>{{0, 2}, {5}, {1, 3}, {4}}));
  // "auto" on the CPU: one module per batch, still in key order.
  BatchedQuantization automatic;
  EXPECT_EQ(AssignBatches(modules, automatic, 128),
            (std::vector<std::vector<int>>{{0}, {2}, {5}, {1}, {3}, {4}}));
}

TEST(QuantizeModules, SharedInputsGiveWhatSeparateHessiansGive) {
  const std::vector<torch::Tensor> inputs = Inputs(64, 7);
  std::vector<GptqModule> modules = {Module("q", Weight(64, 64, 1)), Module("k", Weight(32, 64, 2)),
                                     Module("v", Weight(32, 64, 3))};
  LayerHessians shared;
  ASSERT_TRUE(shared.ShareInput({"q", "k", "v"}).ok());
  LayerHessians separate;
  for (const torch::Tensor& x : inputs) {
    for (const char* name : {"q", "k", "v"}) {
      ASSERT_TRUE(shared.Add(name, x).ok());
      // A copy, as if each Linear got its own tensor.
      ASSERT_TRUE(separate.Add(name, x.clone()).ok());
    }
  }
  EXPECT_EQ(shared.GroupOf("q"), shared.GroupOf("v"));
  EXPECT_NE(separate.GroupOf("q"), separate.GroupOf("v"));
  // The same tensor given to several Linears is found without a declaration.
  LayerHessians found;
  for (const torch::Tensor& x : inputs) {
    for (const char* name : {"q", "k", "v"}) ASSERT_TRUE(found.Add(name, x).ok());
  }
  EXPECT_EQ(found.GroupOf("q"), found.GroupOf("k"));
  EXPECT_EQ(found.GroupOf("q"), found.GroupOf("v"));
  EXPECT_EQ(shared.Samples("k"), 3);
  GptqOptions options;
  options.block_size = 32;
  for (auto mode : {BatchedQuantization::Mode::kAuto, BatchedQuantization::Mode::kLimit}) {
    BatchedQuantization batching{mode, 2};
    std::vector<std::string> log;
    auto a = QuantizeModules(modules, shared, options, batching, &log);
    auto b = QuantizeModules(modules, separate, options, batching, nullptr);
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_TRUE(b.ok()) << b.status();
    for (size_t i = 0; i < modules.size(); ++i) {
      EXPECT_EQ((*a)[i].name, modules[i].name);
      EXPECT_EQ((*a)[i].weight.scalar_type(), torch::kBFloat16);
      EXPECT_TRUE(torch::equal((*a)[i].weight, (*b)[i].weight)) << modules[i].name;
      EXPECT_EQ((*a)[i].loss, (*b)[i].loss);
      EXPECT_GT((*a)[i].loss, 0);
      EXPECT_FALSE((*a)[i].rtn_fallback);
    }
    if (mode == BatchedQuantization::Mode::kLimit) {
      EXPECT_THAT(log, ElementsAre("Quantizing 1 module(s): ['q']", "Quantizing 2 module(s): ['k', 'v']"));
    }
  }
}

TEST(QuantizeModules, SixteenSharingModulesTakeTheBatchedPathAndMatchSeparateOnes) {
  const std::vector<torch::Tensor> inputs = Inputs(64, 8);
  std::vector<GptqModule> modules;
  std::vector<std::string> names;
  for (int e = 0; e < 16; ++e) {
    names.push_back("experts." + std::to_string(e) + ".gate_proj");
    modules.push_back(Module(names.back(), Weight(16, 64, 100 + e)));
  }
  LayerHessians shared, separate;
  ASSERT_TRUE(shared.ShareInput(names).ok());
  for (const torch::Tensor& x : inputs) {
    for (const std::string& name : names) {
      ASSERT_TRUE(shared.Add(name, x).ok());
      ASSERT_TRUE(separate.Add(name, x.clone()).ok());
    }
  }
  EXPECT_NE(separate.GroupOf(names[0]), separate.GroupOf(names[1]));
  BatchedQuantization sixteen{BatchedQuantization::Mode::kLimit, 16};
  auto a = QuantizeModules(modules, shared, GptqOptions(), sixteen, nullptr);
  auto b = QuantizeModules(modules, separate, GptqOptions(), sixteen, nullptr);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  for (size_t i = 0; i < modules.size(); ++i) {
    EXPECT_TRUE(torch::equal((*a)[i].weight, (*b)[i].weight)) << names[i];
  }
}

TEST(QuantizeModules, AModuleWhoseHessianCannotBeFactorizedFallsBackToRoundToNearest) {
  std::vector<GptqModule> modules = {Module("good", Weight(32, 64, 1)), Module("bad", Weight(32, 64, 2))};
  LayerHessians hessians;
  for (const torch::Tensor& x : Inputs(64, 9)) {
    ASSERT_TRUE(hessians.Add("good", x).ok());
    torch::Tensor poisoned = x.clone();
    poisoned[0][0][5] = std::numeric_limits<float>::quiet_NaN();
    ASSERT_TRUE(hessians.Add("bad", poisoned).ok());
  }
  auto results = QuantizeModules(modules, hessians, GptqOptions(), BatchedQuantization(), nullptr);
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_FALSE((*results)[0].rtn_fallback);
  EXPECT_TRUE((*results)[1].rtn_fallback);
  // Identity factors: every column is rounded to nearest with the observer's
  // scales, in float32 as GPTQ's column loop computes (not in the weight's
  // bf16, which rounds a few quotients differently).
  auto rtn = quantize::FakeQuantize(modules[1].weight.to(torch::kFloat), modules[1].qparams,
                                    modules[1].args);
  ASSERT_TRUE(rtn.ok());
  EXPECT_TRUE(torch::equal((*results)[1].weight, rtn->to((*results)[1].weight.scalar_type())));
  EXPECT_EQ(RtnFallbackSummary({"model.layers.0.mlp.down_proj"}, 14),
            "Hessian inversion failed for 1/14 modules (7.1%). These modules were quantized with "
            "round-to-nearest instead of GPTQ (the quantization scheme is unchanged). Consider "
            "increasing GPTQModifier.dampening_frac, increasing the number of calibration samples, "
            "or shuffling the calibration dataset. Affected modules: model.layers.0.mlp.down_proj");
  EXPECT_EQ(RtnFallbackSummary({}, 14), "");
}

TEST(QuantizeModules, InconsistentInputsAndMissingCalibrationAreErrors) {
  LayerHessians hessians;
  ASSERT_TRUE(hessians.ShareInput({"q", "k"}).ok());
  EXPECT_FALSE(hessians.ShareInput({"k", "v"}).ok());
  const std::vector<torch::Tensor> inputs = Inputs(64, 10);
  ASSERT_TRUE(hessians.Add("q", inputs[0]).ok());
  const absl::Status differs = hessians.Add("k", inputs[1]);
  EXPECT_THAT(std::string(differs.message()), HasSubstr("its input differs"));
  std::vector<GptqModule> modules = {Module("q", Weight(32, 64, 1)), Module("never", Weight(32, 64, 2))};
  auto missing = QuantizeModules(modules, hessians, GptqOptions(), BatchedQuantization(), nullptr);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("never saw no calibration input"));
  BatchedQuantization zero{BatchedQuantization::Mode::kLimit, 0};
  EXPECT_FALSE(QuantizeModules({}, hessians, GptqOptions(), zero, nullptr).ok());
}

}  // namespace
}  // namespace gptq
}  // namespace backend
}  // namespace wring
