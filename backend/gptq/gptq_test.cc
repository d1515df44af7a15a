// GPTQ against llm-compressor 0.14.0.1's own quantize_weight and
// accumulate_hessian on the same inputs (testdata/make_gptq_unit_reference.py).
#include "backend/gptq/gptq.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

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

// Both factorizations: upstream's three steps and the reversed Cholesky.
TEST_F(GptqReference, QuantizedWeightsLossesAndFallbacksAreUpstreams) {
  for (const bool upstream_factorization : {true, false}) {
  for (Case c : Cases()) {
    c.options.upstream_factorization = upstream_factorization;
    SCOPED_TRACE(c.name + (upstream_factorization ? " (upstream factorization)" : ""));
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
    std::cout << c.name << (upstream_factorization ? " (upstream factorization)" : "") << ": "
              << differ.sum().item<int64_t>() << " of " << differ.numel()
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

// Step 3 takes one Cholesky, of H reversed: F upper with H = F Fᵀ, and
// F⁻¹ is the upper Cholesky factor of H⁻¹ that upstream computes in three
// steps.
TEST(Gptq, FactorIsTheReversedCholeskyAndInvertsUpstreamsFactor) {
  torch::manual_seed(3);
  torch::Tensor x = torch::randn({64, 24}) * torch::rand({24}) * 3;
  x.select(1, 5).zero_();  // a dead column
  const torch::Tensor hessian = x.t().mm(x) / 64;
  for (const int64_t upstream_batch : {int64_t{1}, int64_t{16}}) {  // per item, batched
    auto f = FactorizeHessians(hessian.unsqueeze(0).clone(), Options(8, 0.01, false), upstream_batch);
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_FALSE(f->rtn_fallback[0]);
    EXPECT_TRUE(f->dead[0][5].item<bool>());
    EXPECT_EQ(f->dead.sum().item<int64_t>(), 1);
    EXPECT_TRUE(torch::equal(torch::diagonal(f->factor[0]), torch::ones({24})));
    EXPECT_TRUE(torch::equal(torch::tril(f->factor[0], -1), torch::zeros({24, 24})));

    torch::Tensor damped = hessian.to(torch::kDouble);
    damped.diagonal().select(0, 5).fill_(1.0);
    damped.diagonal().add_(damped.diagonal().mean() * 0.01);
    const torch::Tensor factor = (f->factor[0] * f->diagonal[0].unsqueeze(0)).to(torch::kDouble);
    EXPECT_TRUE(torch::allclose(factor.mm(factor.t()), damped, 1e-5, 1e-6));
    const torch::Tensor upstreams = torch::linalg_cholesky(
        torch::cholesky_inverse(torch::linalg_cholesky(damped)), /*upper=*/true);
    EXPECT_TRUE(torch::allclose(torch::inverse(factor), upstreams, 1e-4, 1e-6));
  }
}

// OpenBLAS's potrf goes on past a NaN pivot; a NaN or infinite entry
// anywhere in H must still send the module to round-to-nearest, on both of
// upstream's paths.
TEST(Gptq, NonFiniteHessianFallsBackToRoundToNearest) {
  const QuantizationArgs args = Int(4, true, QuantizationStrategy::kChannel);
  torch::manual_seed(4);
  const torch::Tensor weight = torch::randn({1, 6, 10});
  auto qparams = quantize::ComputeWeightQParams(weight[0], args);
  ASSERT_TRUE(qparams.ok()) << qparams.status();
  const quantize::QParams stacked{qparams->scale.unsqueeze(0), qparams->zero_point.unsqueeze(0)};
  auto rtn = quantize::FakeQuantize(weight[0], *qparams, args);
  ASSERT_TRUE(rtn.ok()) << rtn.status();
  const torch::Tensor x = torch::randn({40, 10});
  for (const float bad : {std::nanf(""), INFINITY}) {
    for (const int64_t upstream_batch : {int64_t{1}, int64_t{16}}) {
      SCOPED_TRACE(std::to_string(bad) + " batch " + std::to_string(upstream_batch));
      torch::Tensor hessian = x.t().mm(x) / 40;
      hessian[7][2] = bad;  // below the diagonal, away from the last row
      hessian[2][7] = bad;
      GptqOptions options = Options(4, 0.01, false);
      auto f = FactorizeHessians(hessian.unsqueeze(0), options, upstream_batch);
      ASSERT_TRUE(f.ok()) << f.status();
      EXPECT_TRUE(f->rtn_fallback[0]);
      auto result = QuantizeWeights(weight, *f, stacked, args, options);
      ASSERT_TRUE(result.ok()) << result.status();
      EXPECT_TRUE(torch::equal(result->quantized[0], rtn->to(torch::kFloat)));
    }
  }
}

// The fused CPU kernel (tiles of 16 rows) and the tensor operations agree
// bit for bit on every dtype and zero-point path, with a partial tile, a
// partial block and a batch.
TEST(Gptq, FusedKernelMatchesTensorOperations) {
  struct Path {
    std::string name;
    QuantizationArgs args;
    torch::Dtype dtype;
  };
  const std::vector<Path> paths = {
      {"int4 bf16", Int(4, true, QuantizationStrategy::kGroup, 16), torch::kBFloat16},
      {"int4 asym bf16", Int(4, false, QuantizationStrategy::kGroup, 16), torch::kBFloat16},
      {"int8 fp16", Int(8, true, QuantizationStrategy::kChannel), torch::kHalf},
      {"int4 asym fp16", Int(4, false, QuantizationStrategy::kGroup, 16), torch::kHalf},
      {"int4 fp32", Int(4, true, QuantizationStrategy::kGroup, 16), torch::kFloat},
      {"int4 asym fp32", Int(4, false, QuantizationStrategy::kGroup, 16), torch::kFloat},
      {"fp8 bf16", Fp8(QuantizationStrategy::kChannel), torch::kBFloat16},
      {"fp8 fp32", Fp8(QuantizationStrategy::kChannel), torch::kFloat},
  };
  torch::manual_seed(5);
  const int64_t rows = 37, columns = 80;
  const torch::Tensor x = torch::randn({2, 200, columns}) * torch::rand({columns}) * 2;
  const torch::Tensor hessians = torch::bmm(x.transpose(1, 2), x) / 200;
  for (const bool upstream_factorization : {true, false}) {
  for (const Path& p : paths) {
    SCOPED_TRACE(p.name + (upstream_factorization ? " (upstream factorization)" : ""));
    const torch::Tensor weight = (torch::randn({2, rows, columns}) * 0.05).to(p.dtype);
    std::vector<torch::Tensor> scales, zero_points;
    for (int64_t b = 0; b < 2; ++b) {
      auto qparams = quantize::ComputeWeightQParams(weight[b], p.args);
      ASSERT_TRUE(qparams.ok()) << qparams.status();
      scales.push_back(qparams->scale);
      zero_points.push_back(qparams->zero_point);
    }
    const quantize::QParams qparams{torch::stack(scales), torch::stack(zero_points)};
    GptqOptions options = Options(32, 0.01, true);
    options.upstream_factorization = upstream_factorization;
    auto fused = QuantizeWeights(weight, hessians.clone(), qparams, p.args, options);
    options.force_tensor_path = true;
    auto eager = QuantizeWeights(weight, hessians.clone(), qparams, p.args, options);
    ASSERT_TRUE(fused.ok()) << fused.status();
    ASSERT_TRUE(eager.ok()) << eager.status();
    EXPECT_TRUE(torch::equal(fused->quantized, eager->quantized));
    EXPECT_TRUE(torch::equal(fused->losses, eager->losses));
    // The feedback moved values: not what the identity Hessian (round to
    // nearest) gives.
    auto rtn = QuantizeWeights(weight, torch::eye(columns).expand({2, -1, -1}).clone(), qparams, p.args,
                               Options(32, 0.01, false));
    ASSERT_TRUE(rtn.ok()) << rtn.status();
    EXPECT_FALSE(torch::equal(fused->quantized, rtn->quantized));
  }
  }
}

// The permuted columns come from a row-by-row copy for contiguous float32 /
// bf16 weights and from torch::gather otherwise: the same values.
TEST(Gptq, ActivationOrderingGivesTheSameResultOnEveryCopyPath) {
  torch::manual_seed(8);
  const QuantizationArgs args = Int(4, true, QuantizationStrategy::kGroup, 16);
  const torch::Tensor x = torch::randn({2, 120, 48}) * torch::rand({48}) * 2;
  const torch::Tensor hessians = torch::bmm(x.transpose(1, 2), x) / 120;
  for (const torch::Dtype dtype : {torch::kFloat, torch::kBFloat16}) {
    const torch::Tensor wide = (torch::randn({2, 20, 64}) * 0.05).to(dtype);
    const torch::Tensor strided = wide.slice(2, 0, 48);  // not contiguous: the gather path
    const torch::Tensor contiguous = strided.contiguous();
    std::vector<torch::Tensor> scales;
    for (int64_t b = 0; b < 2; ++b) {
      auto qparams = quantize::ComputeWeightQParams(contiguous[b], args);
      ASSERT_TRUE(qparams.ok()) << qparams.status();
      scales.push_back(qparams->scale);
    }
    const quantize::QParams qparams{torch::stack(scales), torch::Tensor()};
    auto fast = QuantizeWeights(contiguous, hessians.clone(), qparams, args, Options(16, 0.01, true));
    auto gathered = QuantizeWeights(strided, hessians.clone(), qparams, args, Options(16, 0.01, true));
    ASSERT_TRUE(fast.ok()) << fast.status();
    ASSERT_TRUE(gathered.ok()) << gathered.status();
    EXPECT_TRUE(torch::equal(fast->quantized, gathered->quantized));
    EXPECT_TRUE(torch::equal(fast->losses, gathered->losses));
  }
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
