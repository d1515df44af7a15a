// GPTQ against llm-compressor 0.14.0.1's own quantize_weight and
// accumulate_hessian on the same inputs (testdata/make_gptq_unit_reference.py).
#include "backend/gptq/gptq.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>

#include "backend/gram/input_gram.h"
#include "backend/quantize/quantize.h"
#include "backend/safetensors/reader.h"
#include "mapping/testing/runfiles.h"

namespace wring {
namespace backend {
namespace gptq {
namespace {

using quantize::QuantizationArgs;
using quantize::QuantizationStrategy;
using quantize::QuantizationType;

std::string TestData(const std::string& name) {
  return mapping::testing::RunfilePath("backend/gptq/testdata/" + name);
}

struct Case {
  std::string name;
  QuantizationArgs args;
  GptqOptions options;
  bool has_inputs = true;
};

QuantizationArgs Int(int bits, bool symmetric, QuantizationStrategy strategy, int64_t group = 0) {
  QuantizationArgs args;
  args.num_bits = bits;
  args.symmetric = symmetric;
  args.strategy = strategy;
  args.group_size = group;
  return args;
}

QuantizationArgs Fp8(QuantizationStrategy strategy, int64_t block_rows = 0, int64_t block_cols = 0) {
  QuantizationArgs args;
  args.type = QuantizationType::kFloat;
  args.strategy = strategy;
  args.block_rows = block_rows;
  args.block_cols = block_cols;
  return args;
}

GptqOptions Options(int64_t block_size, double dampening, bool ordering) {
  GptqOptions options;
  options.block_size = block_size;
  options.dampening_frac = dampening;
  options.activation_ordering = ordering;
  return options;
}

// The CASES of make_gptq_unit_reference.py.
std::vector<Case> Cases() {
  const auto kChannel = QuantizationStrategy::kChannel;
  const auto kGroup = QuantizationStrategy::kGroup;
  return {
      {"int8_channel", Int(8, true, kChannel), Options(128, 0.01, false)},
      {"int4_g32_weight_order", Int(4, true, kGroup, 32), Options(32, 0.01, true)},
      {"int4_g32_static_order_batch2", Int(4, true, kGroup, 32), Options(64, 0.01, true)},
      {"int4_g32_asym_dead_columns", Int(4, false, kGroup, 32), Options(64, 0.01, false)},
      {"int8_tensor_weight_order", Int(8, true, QuantizationStrategy::kTensor), Options(16, 0.1, true)},
      {"fp8_channel", Fp8(kChannel), Options(32, 0.01, false)},
      {"fp8_block_weight_order", Fp8(QuantizationStrategy::kBlock, 16, 32), Options(32, 0.01, true)},
      {"int4_g32_cholesky_fails", Int(4, true, kGroup, 32), Options(32, 0.01, true), false},
      {"int4_g32_batched16", Int(4, true, kGroup, 32), Options(32, 0.01, true), false},
  };
}

class GptqReference : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto file = safetensors::SafetensorsFile::Open(TestData("gptq_cases.safetensors"));
    ASSERT_TRUE(file.ok()) << file.status();
    file_ = file->release();
  }
  static torch::Tensor Get(const std::string& name) {
    auto t = file_->Get(name);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? t->clone() : torch::Tensor();
  }
  static safetensors::SafetensorsFile* file_;
};
safetensors::SafetensorsFile* GptqReference::file_ = nullptr;

TEST_F(GptqReference, HessiansAccumulateAsUpstream) {
  for (const Case& c : Cases()) {
    if (!c.has_inputs) continue;
    const torch::Tensor expected = Get(c.name + ".hessian");
    for (int64_t b = 0; b < expected.size(0); ++b) {
      gram::InputGram gram(std::sqrt(2.0));
      for (int k = 0; file_->Contains(c.name + ".input." + std::to_string(b) + "." + std::to_string(k)); ++k) {
        ASSERT_TRUE(gram.Add(Get(c.name + ".input." + std::to_string(b) + "." + std::to_string(k))).ok());
      }
      EXPECT_EQ(gram.samples(), 4) << c.name;  // [1, T, in], [2, T, in], [T, in]
      const torch::Tensor hessian = gram.matrix() / static_cast<double>(gram.samples());
      // float32 products summed by different BLAS kernels (OpenBLAS / MKL).
      const double error = (hessian - expected[b]).abs().max().item<double>();
      EXPECT_LE(error, 2e-6 * expected[b].abs().max().item<double>()) << c.name << " item " << b;
    }
  }
}

TEST_F(GptqReference, ObserverScalesAreUpstreams) {
  for (const Case& c : Cases()) {
    const torch::Tensor weight = Get(c.name + ".weight");
    const torch::Tensor scale = Get(c.name + ".scale");
    for (int64_t b = 0; b < weight.size(0); ++b) {
      auto qparams = quantize::ComputeWeightQParams(weight[b], c.args);
      ASSERT_TRUE(qparams.ok()) << qparams.status();
      EXPECT_TRUE(torch::equal(qparams->scale, scale[b])) << c.name;
    }
  }
}

TEST_F(GptqReference, QuantizedWeightsLossesAndFallbacksAreUpstreams) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    const torch::Tensor weight = Get(c.name + ".weight");
    quantize::QParams qparams{Get(c.name + ".scale"), Get(c.name + ".zero_point")};
    const torch::Tensor expected = Get(c.name + ".quantized");
    const torch::Tensor expected_losses = Get(c.name + ".losses");
    const torch::Tensor expected_rtn = Get(c.name + ".rtn");

    auto result = QuantizeWeights(weight, Get(c.name + ".hessian"), qparams, c.args, c.options);
    ASSERT_TRUE(result.ok()) << result.status();
    for (int64_t b = 0; b < weight.size(0); ++b) {
      EXPECT_EQ(result->rtn_fallback[b], expected_rtn[b].item<int>() != 0) << "item " << b;
    }
    const torch::Tensor differ = result->quantized.ne(expected);
    const double fraction = differ.to(torch::kDouble).mean().item<double>();
    // Cholesky and the block products run in OpenBLAS here and MKL upstream;
    // a float32 rounding apart, a value near a rounding boundary can land
    // one quantization step away.
    EXPECT_LE(fraction, 0.001) << "fraction of elements that differ";
    const double max_scale = qparams.scale.to(torch::kFloat).max().item<double>();
    EXPECT_LE((result->quantized - expected).abs().max().item<double>(), 1.01 * max_scale);
    const torch::Tensor losses_error = (result->losses - expected_losses).abs() / expected_losses.abs();
    EXPECT_LE(losses_error.max().item<double>(), 1e-3);
    std::cout << c.name << ": " << differ.sum().item<int64_t>() << " of " << differ.numel()
              << " elements differ; loss rel error " << losses_error.max().item<double>() << "\n";

    // The fused CPU kernel and upstream's tensor operations agree bit for bit.
    GptqOptions tensor_path = c.options;
    tensor_path.force_tensor_path = true;
    auto eager = QuantizeWeights(weight, Get(c.name + ".hessian"), qparams, c.args, tensor_path);
    ASSERT_TRUE(eager.ok()) << eager.status();
    EXPECT_TRUE(torch::equal(eager->quantized, result->quantized));
    EXPECT_TRUE(torch::equal(eager->losses, result->losses));
  }
}

// Linears that read the same input (q/k/v, gate/up, experts calibrated on
// every token) have the same Hessian: one factorization serves them all and
// gives what separate ones give.
TEST_F(GptqReference, OneFactorizationServesModulesWithTheSameInput) {
  const Case c = Cases()[2];  // int4_g32_static_order_batch2
  const torch::Tensor hessian = Get(c.name + ".hessian")[0];
  const torch::Tensor weight = Get(c.name + ".weight");
  quantize::QParams qparams{Get(c.name + ".scale"), Get(c.name + ".zero_point")};
  auto shared = FactorizeHessians(hessian.unsqueeze(0).clone(), c.options);
  ASSERT_TRUE(shared.ok()) << shared.status();
  auto together = QuantizeWeights(weight, shared->Expand(2), qparams, c.args, c.options);
  auto separate = QuantizeWeights(weight, torch::stack({hessian, hessian}), qparams, c.args, c.options);
  ASSERT_TRUE(together.ok()) << together.status();
  ASSERT_TRUE(separate.ok()) << separate.status();
  EXPECT_TRUE(torch::equal(together->quantized, separate->quantized));
  EXPECT_TRUE(torch::equal(together->losses, separate->losses));
}

TEST(Gptq, RejectsMismatchedShapesAndBadOptions) {
  quantize::QuantizationArgs args = Int(4, true, QuantizationStrategy::kChannel);
  quantize::QParams qparams{torch::ones({1, 4, 1}, torch::kBFloat16), torch::zeros({1, 4, 1})};
  const torch::Tensor w = torch::randn({1, 4, 8});
  EXPECT_FALSE(QuantizeWeights(w, torch::eye(6).unsqueeze(0), qparams, args, GptqOptions()).ok());
  EXPECT_FALSE(QuantizeWeights(w, torch::eye(8), qparams, args, GptqOptions()).ok());
  GptqOptions zero_block;
  zero_block.block_size = 0;
  const absl::Status status =
      QuantizeWeights(w, torch::eye(8).unsqueeze(0), qparams, args, zero_block).status();
  EXPECT_NE(status.message().find("block_size"), std::string::npos) << status;
  auto ok = QuantizeWeights(w, torch::eye(8).unsqueeze(0), qparams, args, GptqOptions());
  EXPECT_TRUE(ok.ok()) << ok.status();
}

}  // namespace
}  // namespace gptq
}  // namespace backend
}  // namespace wring
