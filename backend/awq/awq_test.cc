// Hand-checkable cases of the AWQ search; the comparison with
// llm-compressor's own run is //backend/job:awq_job_test.
#include "backend/awq/awq.h"

#include <cmath>

#include "gtest/gtest.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace awq {
namespace {

AwqOptions Options(DuoScaling duo, int n_grid) {
  AwqOptions options;
  options.duo_scaling = duo;
  options.n_grid = n_grid;
  options.where = "recipe.yaml: AWQModifier";
  return options;
}

TEST(GridSearchParams, DuoScalingTrueStartsWithIdentity) {
  auto grid = GridSearchParams(Options(DuoScaling::kTrue, 20));
  ASSERT_TRUE(grid.ok()) << grid.status();
  ASSERT_EQ(grid->size(), 20u);
  EXPECT_EQ((*grid)[0].ratio, 0.0);
  EXPECT_FALSE((*grid)[0].duo_scaling);
  EXPECT_EQ((*grid)[1].ratio, 0.0);
  EXPECT_TRUE((*grid)[1].duo_scaling);
  EXPECT_EQ((*grid)[2].ratio, 1.0 / 18);
  EXPECT_EQ((*grid)[19].ratio, 1.0);
}

TEST(GridSearchParams, BothInterleavesHalfTheGrid) {
  auto grid = GridSearchParams(Options(DuoScaling::kBoth, 11));  // int(11 / 2) = 5
  ASSERT_TRUE(grid.ok()) << grid.status();
  ASSERT_EQ(grid->size(), 10u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ((*grid)[2 * i].ratio, i / 4.0);
    EXPECT_FALSE((*grid)[2 * i].duo_scaling);
    EXPECT_EQ((*grid)[2 * i + 1].ratio, i / 4.0);
    EXPECT_TRUE((*grid)[2 * i + 1].duo_scaling);
  }
}

TEST(GridSearchParams, FalseIsEvenlySpaced) {
  auto grid = GridSearchParams(Options(DuoScaling::kFalse, 5));
  ASSERT_TRUE(grid.ok()) << grid.status();
  ASSERT_EQ(grid->size(), 5u);
  EXPECT_EQ((*grid)[3].ratio, 0.75);
}

TEST(GridSearchParams, GridsUpstreamCannotBuildAreErrors) {
  for (const auto& [duo, n] : std::vector<std::pair<DuoScaling, int>>{
           {DuoScaling::kTrue, 2}, {DuoScaling::kBoth, 2}, {DuoScaling::kBoth, 3},
           {DuoScaling::kFalse, 1}, {DuoScaling::kFalse, 0}, {DuoScaling::kBoth, 1}}) {
    auto grid = GridSearchParams(Options(duo, n));
    ASSERT_FALSE(grid.ok()) << n;
    EXPECT_NE(grid.status().message().find("AWQModifier.n_grid"), std::string::npos)
        << grid.status();
  }
  // n_grid 1 with duo scaling runs only the identity point upstream.
  auto identity = GridSearchParams(Options(DuoScaling::kTrue, 1));
  ASSERT_TRUE(identity.ok());
  EXPECT_EQ(identity->size(), 1u);
}

TEST(GridScales, NormalizedByGeometricMeanOfExtremes) {
  const torch::Tensor x = torch::tensor({1.0f, 4.0f});
  torch::Tensor s = GridScales(x, torch::Tensor(), {0.5, false});
  EXPECT_EQ(s.scalar_type(), torch::kFloat32);
  EXPECT_NEAR(s[0].item<double>(), 1 / std::sqrt(2.0), 1e-6);
  EXPECT_NEAR(s[1].item<double>(), std::sqrt(2.0), 1e-6);
  EXPECT_TRUE(GridScales(x, torch::Tensor(), {0.0, false}).eq(1).all().item<bool>());

  const torch::Tensor w = torch::tensor({1.0, 1.0}, torch::kFloat64);
  s = GridScales(x, w, {1.0, true});
  EXPECT_EQ(s.scalar_type(), torch::kFloat64);
  EXPECT_NEAR(s[0].item<double>(), 0.5, 1e-12);
  EXPECT_NEAR(s[1].item<double>(), 2.0, 1e-12);
}

TEST(ActivationStats, MeanOfAbsoluteValuesPerChannel) {
  ActivationStats stats;
  ASSERT_TRUE(stats.Add(torch::tensor({1.0f, -2.0f, 3.0f, 4.0f}).reshape({1, 2, 2})).ok());
  ASSERT_TRUE(stats.Add(torch::tensor({-1.0f, 0.0f}).reshape({1, 1, 2})).ok());
  auto mean = stats.Mean();
  ASSERT_TRUE(mean.ok());
  EXPECT_EQ(stats.count(), 3);
  EXPECT_NEAR((*mean)[0].item<double>(), 5.0 / 3, 1e-6);
  EXPECT_NEAR((*mean)[1].item<double>(), 2.0, 1e-6);
}

quantize::QuantizationArgs Int4(quantize::QuantizationStrategy strategy, int64_t group = 0) {
  quantize::QuantizationArgs args;
  args.num_bits = 4;
  args.strategy = strategy;
  args.group_size = group;
  return args;
}

TEST(BalanceWeightMean, RowsNormalizedByTheirMaxThenAveraged) {
  LayerMapping mapping;
  mapping.smooth = "norm";
  mapping.balance = {{"a", true, Int4(quantize::QuantizationStrategy::kChannel)},
                     {"b", false, std::nullopt}};  // unquantized: not counted
  model::Weights weights;
  weights["a.weight"] = torch::tensor({1.0f, -2.0f, 4.0f, 0.0f}).reshape({2, 2});
  weights["b.weight"] = torch::tensor({9.0f, 9.0f}).reshape({1, 2});
  auto mean = BalanceWeightMean(mapping, weights, "AWQModifier");
  ASSERT_TRUE(mean.ok()) << mean.status();
  EXPECT_EQ(mean->scalar_type(), torch::kFloat64);
  // rows / (max + 1e-6): [0.5, 1], [1, 0] -> mean [0.75, 0.5].
  EXPECT_NEAR((*mean)[0].item<double>(), 0.75, 1e-5);
  EXPECT_NEAR((*mean)[1].item<double>(), 0.5, 1e-5);

  mapping.balance = {{"b", false, std::nullopt}};
  auto none = BalanceWeightMean(mapping, weights, "AWQModifier");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("duo_scaling"), std::string::npos);
}

// y = (x * norm) @ W^T with one input channel 30x larger than the others:
// AWQ should scale that column of W up and the norm channel down.
struct Toy {
  LayerMapping mapping;
  model::Weights weights;
  std::vector<torch::Tensor> inputs;  // the parent's (the Linear's) input
  ActivationStats stats;
  ParentForward forward = [](const std::string&, const model::Weights& w, const torch::Tensor& x,
                             const LinearWeightSource& candidate) -> absl::StatusOr<torch::Tensor> {
    torch::Tensor weight = w.at("lin.weight");
    if (candidate) {
      WRING_ASSIGN_OR_RETURN(const torch::Tensor tried, candidate("lin"));
      if (tried.defined()) weight = tried;
    }
    return torch::matmul(x, weight.t());
  };

  Toy() {
    torch::manual_seed(0);
    mapping.smooth = "norm";
    mapping.parent = "lin";
    mapping.balance = {{"lin", true, Int4(quantize::QuantizationStrategy::kGroup, 32)}};
    weights["norm.weight"] = torch::ones({64});
    weights["lin.weight"] = torch::randn({16, 64});
    torch::Tensor x = torch::randn({1, 128, 64});
    x.select(2, 7).mul_(30);
    inputs.push_back(x);
    EXPECT_TRUE(stats.Add(x).ok());
  }
};

TEST(SmoothMapping, ProtectsTheSalientChannelAndKeepsTheProduct) {
  Toy toy;
  const torch::Tensor original = toy.weights.at("lin.weight").clone();
  auto result = SmoothMapping(toy.mapping, Options(DuoScaling::kTrue, 20), toy.stats, toy.inputs,
                              toy.forward, toy.weights);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->skipped.has_value());
  ASSERT_EQ(result->losses.size(), 20u);
  EXPECT_EQ(result->initial_error, result->losses[0]);
  EXPECT_LT(result->best_error, result->initial_error);
  EXPECT_GT(result->best.ratio, 0);
  const torch::Tensor s = result->scales;
  EXPECT_EQ(s.argmax().item<int64_t>(), 7);
  // Smoothing is an identity in exact arithmetic: norm / s and W * s.
  const torch::Tensor norm = toy.weights.at("norm.weight");
  const torch::Tensor w = toy.weights.at("lin.weight");
  EXPECT_TRUE(torch::allclose(norm, (1 / s).to(torch::kFloat32)));
  EXPECT_TRUE(torch::allclose(w, (original * s.view({1, -1})).to(torch::kFloat32)));
}

TEST(SmoothMapping, DuoScalingFalseSearchesActivationsOnly) {
  Toy toy;
  auto result = SmoothMapping(toy.mapping, Options(DuoScaling::kFalse, 5), toy.stats, toy.inputs,
                              toy.forward, toy.weights);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->losses.size(), 5u);
  EXPECT_EQ(result->scales.scalar_type(), torch::kFloat32);
  // ratio 0 is the identity: its loss is plain round-to-nearest's.
  EXPECT_LE(result->best_error, result->losses[0]);
}

TEST(SmoothMapping, UpstreamCrashCasesAreErrorsNamingTheField) {
  Toy toy;
  toy.mapping.balance[0].weight_args.reset();  // a scheme without weights
  auto no_weights = SmoothMapping(toy.mapping, Options(DuoScaling::kFalse, 5), toy.stats,
                                  toy.inputs, toy.forward, toy.weights);
  ASSERT_FALSE(no_weights.ok());
  EXPECT_NE(no_weights.status().message().find("without `weights`"), std::string::npos);

  Toy tensor;
  tensor.mapping.balance[0].weight_args = Int4(quantize::QuantizationStrategy::kTensor);
  auto duo = SmoothMapping(tensor.mapping, Options(DuoScaling::kTrue, 20), tensor.stats,
                           tensor.inputs, tensor.forward, tensor.weights);
  ASSERT_FALSE(duo.ok());
  EXPECT_NE(duo.status().message().find("AWQModifier.duo_scaling"), std::string::npos);

  Toy unquantized;
  unquantized.mapping.balance[0] = {"lin", false, std::nullopt};
  auto zero = SmoothMapping(unquantized.mapping, Options(DuoScaling::kTrue, 20), unquantized.stats,
                            unquantized.inputs, unquantized.forward, unquantized.weights);
  ASSERT_FALSE(zero.ok());
  EXPECT_NE(zero.status().message().find("ZeroDivisionError"), std::string::npos);
}

TEST(SmoothMapping, NonFiniteParentOutputsSkipTheMapping) {
  Toy toy;
  toy.inputs[0][0][0][0] = std::numeric_limits<float>::quiet_NaN();
  const torch::Tensor before = toy.weights.at("lin.weight").clone();
  auto result = SmoothMapping(toy.mapping, Options(DuoScaling::kTrue, 20), toy.stats, toy.inputs,
                              toy.forward, toy.weights);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->skipped.has_value());
  EXPECT_TRUE(toy.weights.at("lin.weight").equal(before));
}

// A parent that works on tokens gets its samples stacked into one forward
// (fewer, larger matrix products); every sample's output, and so every grid
// loss, must be what one forward per sample gives, in any sample shapes, up
// to the BLAS's accumulation order (a one-row sample is a matrix-vector
// product on its own).
TEST(SmoothMapping, StackingSamplesOfATokenWiseParentChangesNoLoss) {
  Toy per_sample, stacked;
  for (Toy* toy : {&per_sample, &stacked}) {
    torch::manual_seed(1);
    for (int64_t length : {5, 300, 1, 64}) {
      torch::Tensor x = torch::randn({1, length, 64});
      x.select(2, 3).mul_(20);
      toy->inputs.push_back(x);
      EXPECT_TRUE(toy->stats.Add(x).ok());
    }
    toy->inputs.push_back(torch::randn({7, 64}));  // a sample without a batch dimension
    EXPECT_TRUE(toy->stats.Add(toy->inputs.back()).ok());
  }
  stacked.mapping.parent_runs_on_tokens = true;
  int per_sample_calls = 0, stacked_calls = 0;
  auto counted = [](Toy& toy, int& calls) {
    return [&toy, &calls](const std::string& parent, const model::Weights& w, const torch::Tensor& x,
                          const LinearWeightSource& candidate) -> absl::StatusOr<torch::Tensor> {
      ++calls;
      return toy.forward(parent, w, x, candidate);
    };
  };
  auto one = SmoothMapping(per_sample.mapping, Options(DuoScaling::kTrue, 20), per_sample.stats,
                           per_sample.inputs, counted(per_sample, per_sample_calls), per_sample.weights);
  auto all = SmoothMapping(stacked.mapping, Options(DuoScaling::kTrue, 20), stacked.stats, stacked.inputs,
                           counted(stacked, stacked_calls), stacked.weights);
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(per_sample_calls, 21 * 6);  // the reference and 20 candidates, per sample
  EXPECT_EQ(stacked_calls, 21);
  ASSERT_EQ(all->losses.size(), one->losses.size());
  for (size_t i = 0; i < one->losses.size(); ++i) {
    EXPECT_NEAR(all->losses[i], one->losses[i], 1e-6 * one->losses[i]) << "grid point " << i;
  }
  EXPECT_EQ(all->best.ratio, one->best.ratio);
  EXPECT_TRUE(stacked.weights.at("lin.weight").equal(per_sample.weights.at("lin.weight")));
}

// The Toy's parent is its only balance Linear: the Gram form must choose the
// same scales and report the same losses as a forward per candidate.
TEST(SmoothLinearParentMapping, MatchesTheForwardLossOnEveryGridPoint) {
  for (DuoScaling duo : {DuoScaling::kTrue, DuoScaling::kFalse, DuoScaling::kBoth}) {
    Toy forward_toy, gram_toy;
    ASSERT_TRUE(HasLinearParentShortcut(gram_toy.mapping));
    LinearGram gram;
    for (const torch::Tensor& x : gram_toy.inputs) ASSERT_TRUE(gram.Add(x).ok());
    auto forward = SmoothMapping(forward_toy.mapping, Options(duo, 20), forward_toy.stats,
                                 forward_toy.inputs, forward_toy.forward, forward_toy.weights);
    auto fast = SmoothLinearParentMapping(gram_toy.mapping, Options(duo, 20), gram_toy.stats, gram,
                                          gram_toy.weights);
    ASSERT_TRUE(forward.ok()) << forward.status();
    ASSERT_TRUE(fast.ok()) << fast.status();
    ASSERT_EQ(fast->losses.size(), forward->losses.size());
    for (size_t i = 0; i < fast->losses.size(); ++i) {
      EXPECT_NEAR(fast->losses[i], forward->losses[i], 1e-4 * forward->losses[i]) << i;
    }
    EXPECT_EQ(fast->best.ratio, forward->best.ratio);
    EXPECT_EQ(fast->best.duo_scaling, forward->best.duo_scaling);
    EXPECT_TRUE(gram_toy.weights.at("lin.weight").equal(forward_toy.weights.at("lin.weight")));
    EXPECT_TRUE(gram_toy.weights.at("norm.weight").equal(forward_toy.weights.at("norm.weight")));
  }
}

TEST(SmoothLinearParentMapping, SkipsWhatUpstreamSkipsAndRefusesOtherParents) {
  Toy toy;
  LinearGram empty;
  auto skipped = SmoothLinearParentMapping(toy.mapping, Options(DuoScaling::kTrue, 20), toy.stats,
                                           empty, toy.weights);
  ASSERT_TRUE(skipped.ok()) << skipped.status();
  EXPECT_TRUE(skipped->skipped.has_value());

  LinearGram nan;
  toy.inputs[0][0][0][0] = std::numeric_limits<float>::quiet_NaN();
  ASSERT_TRUE(nan.Add(toy.inputs[0]).ok());
  const torch::Tensor before = toy.weights.at("lin.weight").clone();
  skipped = SmoothLinearParentMapping(toy.mapping, Options(DuoScaling::kTrue, 20), toy.stats, nan,
                                      toy.weights);
  ASSERT_TRUE(skipped.ok()) << skipped.status();
  EXPECT_TRUE(skipped->skipped.has_value());
  EXPECT_TRUE(toy.weights.at("lin.weight").equal(before));

  Toy attention;
  attention.mapping.parent = "self_attn";
  EXPECT_FALSE(HasLinearParentShortcut(attention.mapping));
  EXPECT_FALSE(SmoothLinearParentMapping(attention.mapping, Options(DuoScaling::kTrue, 20),
                                         attention.stats, nan, attention.weights)
                   .ok());
}

}  // namespace
}  // namespace awq
}  // namespace backend
}  // namespace wring
