// End to end: `wring compress` with GPTQModifier (alone, with a kv-cache
// scheme, after SmoothQuant, AWQ and SpinQuant) against the checkpoints
// llm-compressor's oneshot wrote for the same models, recipes and tokens
// (testdata/gptq, make_gptq_reference.py), and GPTQ's logged losses.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <algorithm>
#include <map>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "backend/job/compress_job.h"
#include "backend/testing/checkpoint_compare.h"
#include "backend/testing/test_device.h"
#include "gtest/gtest.h"
#include "mapping/base/json.h"
#include "mapping/testing/runfiles.h"

namespace wring {
namespace backend {
namespace job {
namespace {

namespace fs = std::filesystem;

std::string TestData(const std::string& path) {
  return mapping::testing::RunfilePath("backend/job/testdata/" + path);
}

constexpr double kLayer0IntTolerance = 0.005;

struct Case {
  std::string name;
  std::string model;        // testdata directory of the model
  std::string calibration;  // and of the calibration tokens
  // What upstream's own run gives that wring's cannot reproduce bit for bit
  // (see GptqJob.Checkpoint): the largest share of differing int values per
  // tensor after layer 0 (layer 0, which sees upstream's own inputs, is held
  // to kLayer0IntTolerance).
  double int_tolerance;
  double layer0_int_tolerance = kLayer0IntTolerance;
  // Upstream's three-step factorization (--gptq_upstream_factorization),
  // or wring's default, one Cholesky of the reversed Hessian.
  bool upstream_factorization = true;
};

// With one modifier oneshot's two pipelines are the same run. With
// SmoothQuant or AWQ before GPTQ the references are oneshot's default
// ("independent") pipeline, which wring runs; the `_sequential` ones
// (pipeline="sequential") are kept for comparison, not tested.
std::vector<Case> UpstreamFactorizationCases() {
  const std::string oneshot = "oneshot/tiny_llama", gptq = "gptq/calibration.jsonl";
  return {
      {"gptq_w4a16", oneshot, gptq, 0.02},
      {"gptq_w4a16_g32_weight", oneshot, gptq, 0.03},
      {"gptq_w4a16_asym_no_actorder", oneshot, gptq, 0.02},
      // 8-bit steps are 16x finer: more values sit near a rounding edge.
      {"gptq_w8a8", oneshot, gptq, 0.08},
      {"gptq_w4a16_fp8_kv", oneshot, gptq, 0.02},
      // After smoothing, GPTQ starts from weights w * s (and its Hessians
      // from activations x / s) rounded to bf16 where upstream's scales
      // may differ in the last bit; layer 1 then sees inputs through two
      // modified layers. Observed: scales within a bf16 step, losses
      // within 0.2% (layer 0) and 5%, ints at most 4 steps apart, up to
      // 0.7% of a tensor's ints in layer 0 and 9.2% (SmoothQuant, W8A8) /
      // 10.2% (AWQ, W4A16) in layer 1.
      {"sq_gptq_w8a8", oneshot, gptq, 0.12},
      {"awq_gptq_w4a16", "awq/tiny_llama", gptq, 0.12, 0.01},
      {"spinquant_gptq_w4a16", "../../spinquant/testdata/tiny_llama",
       "../../spinquant/testdata/calibration.jsonl", 0.02},
  };
}

CompressOptions Options(const Case& c, int eval_samples) {
  CompressOptions options;
  options.device = testing::TestDevice();
  options.model_dir = TestData(c.model);
  options.recipe_path = TestData(absl::StrCat("gptq/recipes/", c.name, ".yaml"));
  options.dataset_path = TestData(c.calibration);
  options.output_dir = (fs::path(std::getenv("TEST_TMPDIR")) / c.name).string();
  fs::remove_all(options.output_dir);
  options.num_samples = 8;
  options.seq_len = 32;
  options.eval_samples = eval_samples;
  options.shuffle = false;
  options.progress = nullptr;
  options.gptq_upstream_factorization = c.upstream_factorization;
  return options;
}

class GptqJob : public ::testing::TestWithParam<Case> {};

TEST_P(GptqJob, CheckpointConfigAndLossesMatchLlmCompressor) {
  const Case& c = GetParam();
  const std::string reference = TestData(absl::StrCat("gptq/reference/", c.name));
  // transformers' perplexity of oneshot's checkpoint on the held-out rows
  // 8-15 (make_gptq_perplexity.py), where the model has them.
  const bool has_perplexity = fs::exists(reference + "/perplexity.json");
  const CompressOptions options = Options(c, has_perplexity ? 8 : 0);
  const CompressSummary summary = RunCompressJob(options);
  ASSERT_EQ(summary.failure, CompressFailure::kNone) << summary.message;

  const std::vector<testing::TensorDifference> differences =
      testing::CompareCheckpoints(options.output_dir, reference);
  ASSERT_FALSE(differences.empty());
  int64_t int_values = 0, int_differing = 0;
  for (const testing::TensorDifference& d : differences) {
    SCOPED_TRACE(d.name);
    const bool ints = absl::EndsWith(d.name, ".weight_packed") ||
                      (absl::EndsWith(d.name, "_proj.weight") && absl::StrContains(c.name, "w8a8"));
    if (ints) {
      // GPTQ's integers: OpenBLAS here, MKL upstream, and (after layer 0)
      // bf16 forward kernels that round a few outputs differently feed the
      // Hessians; a value near a rounding boundary then lands one step away
      // and the error feedback carries it into a few more.
      int_values += d.elements;
      int_differing += d.differing;
      if (d.differing > 0) {
        std::printf("  %s: %lld of %lld differ, at most %g apart\n", d.name.c_str(),
                    static_cast<long long>(d.differing), static_cast<long long>(d.elements), d.max_abs);
      }
      const double tolerance = absl::StartsWith(d.name, "model.layers.0.") ? c.layer0_int_tolerance
                                                                            : c.int_tolerance;
      EXPECT_LE(d.differing, static_cast<int64_t>(tolerance * d.elements))
          << d.differing << " of " << d.elements;
    } else if (absl::EndsWith(d.name, "_scale") || absl::EndsWith(d.name, "layernorm.weight") ||
               absl::StrContains(c.name, "spinquant")) {
      // Observed on the original weights (bit-identical), or on weights
      // SmoothQuant / AWQ scaled from activations, or rotated with float64
      // sums (OpenBLAS vs MKL): at most a bf16 step apart.
      EXPECT_LE(d.max_relative, 2.0 / 128) << d.differing << " differ";
    } else {
      EXPECT_EQ(d.differing, 0) << "max abs difference " << d.max_abs;
    }
  }
  std::printf("%s: %lld of %lld quantized values differ from llm-compressor's\n", c.name.c_str(),
              static_cast<long long>(int_differing), static_cast<long long>(int_values));
  EXPECT_EQ(testing::ComparableQuantizationConfig(options.output_dir + "/config.json"),
            testing::ComparableQuantizationConfig(reference + "/config.json"));

  if (has_perplexity) {
    // What wring reports for its checkpoint predicts what transformers
    // measures on oneshot's (the tensors differ as bounded above).
    const double theirs = testing::ReadJson(reference + "/perplexity.json")["perplexity"].get<double>();
    const double ours =
        testing::ReadJson(options.output_dir + "/wring_quality.json")["perplexity"]["compressed"].get<double>();
    std::printf("%s: perplexity %.6f, transformers on oneshot's checkpoint %.6f\n", c.name.c_str(), ours,
                theirs);
    EXPECT_NEAR(ours, theirs, 1e-3 * theirs);
  }

  // Every GPTQ'd Linear's loss, as upstream's CompressionLogger logs it.
  const mapping::Json logged = testing::ReadJson(reference + "/gptq.json");
  std::map<std::string, double> upstream;
  for (const auto& batch : logged["batches"]) {
    for (size_t i = 0; i < batch["modules"].size(); ++i) {
      upstream[batch["modules"][i].get<std::string>()] = batch["losses"][i].get<double>();
    }
  }
  const mapping::Json quality = testing::ReadJson(options.output_dir + "/wring_quality.json");
  ASSERT_TRUE(quality.contains("gptq"));
  ASSERT_EQ(quality["gptq"]["modules"].size(), upstream.size());
  for (const auto& m : quality["gptq"]["modules"]) {
    const std::string name = m["name"].get<std::string>();
    EXPECT_FALSE(m["rtn_fallback"].get<bool>()) << name;
    const double theirs = upstream.at(name);
    // Layer 0 sees upstream's own inputs; later layers inputs that bf16
    // forward kernels round slightly differently.
    EXPECT_NEAR(m["loss"].get<double>(), theirs,
                (absl::StartsWith(name, "model.layers.0.") ? 2e-3 : 5e-2) * theirs + 1e-9)
        << name;
  }
}

// The default factorization gives the same quantities rounded another way
// in float32; GPTQ's error feedback carries a value that lands a step away
// into its neighbours, and layer 0's into layer 1's Hessians. Observed:
// layer 0 within its tolerance as before, at most 11.6% of a tensor's ints
// in layer 1 (upstream's factorization after AWQ: 10.2%), losses and
// perplexities as close as with upstream's factorization.
std::vector<Case> Cases() {
  std::vector<Case> cases = UpstreamFactorizationCases();
  for (Case c : UpstreamFactorizationCases()) {
    c.upstream_factorization = false;
    c.int_tolerance = std::max(c.int_tolerance, 0.14);
    cases.push_back(c);
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Recipes, GptqJob, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name +
                                  (info.param.upstream_factorization ? "_upstream_factorization" : "");
                         });

// What `wring compress` does not run is refused by name while the job is
// prepared, before a single weight is read (this model directory has none).
TEST(GptqJob, UnsupportedFieldsAreRefusedByNameBeforeAnyWeightLoads) {
  const fs::path tmp = fs::path(std::getenv("TEST_TMPDIR"));
  const fs::path model_dir = tmp / "config_only";
  fs::create_directories(model_dir);
  fs::copy_file(TestData("oneshot/tiny_llama/config.json"), model_dir / "config.json",
                fs::copy_options::overwrite_existing);
  const std::string gptq = "    GPTQModifier:\n      targets: [Linear]\n      ignore: [lm_head]\n";
  struct Refusal {
    std::string recipe;
    std::string message;
  };
  std::vector<Refusal> refusals = {
      // An observer llm-compressor has and wring does not.
      {gptq + "      config_groups:\n        g:\n          targets: [Linear]\n"
              "          weights: {num_bits: 4, strategy: group, group_size: 32, "
              "observer: imatrix_mse}\n",
       "weights: observer \"imatrix_mse\" is not implemented"},
      {gptq + "      scheme: W4A16\n      block_size: 0\n", "GPTQModifier.block_size"},
      // Gone in llm-compressor 0.14.
      {gptq + "      scheme: W4A16\n      offload_hessians: true\n", "offload_hessians"},
      // A smooth layer wring's forward does not expose.
      {"    SmoothQuantModifier:\n      mappings: [[[\"re:.*o_proj\"], \"re:.*v_proj\"]]\n" + gptq +
           "      scheme: W8A8\n",
       "SmoothQuantModifier: the mapping model.layers.0.self_attn.v_proj -> "
       "model.layers.0.self_attn.o_proj is not one `wring compress` can smooth"},
  };
  // Static observers calibrated in SmoothQuant's own pass.
  refusals.push_back({"    SmoothQuantModifier: {smoothing_strength: 0.8}\n"
                      "    QuantizationModifier:\n      targets: [Linear]\n      ignore: [lm_head]\n"
                      "      scheme: FP8\n",
                      "SmoothQuantModifier with a static input_activations scheme"});
  // Not yet compared with oneshot beyond the dense families.
  const size_t first_moe = refusals.size();
  refusals.push_back({gptq + "      scheme: W4A16\n",
                      "GPTQModifier on model_type \"mixtral\" (mixture-of-experts layers) is not "
                      "run by `wring compress` yet"});
  refusals.push_back({"    SmoothQuantModifier: {smoothing_strength: 0.8}\n"
                      "    QuantizationModifier:\n      targets: [Linear]\n      ignore: [lm_head]\n"
                      "      scheme: W8A8\n",
                      "SmoothQuantModifier on model_type \"mixtral\""});
  const fs::path moe_dir = tmp / "config_only_moe";
  fs::create_directories(moe_dir);
  fs::copy_file(TestData("families/mixtral/model/config.json"), moe_dir / "config.json",
                fs::copy_options::overwrite_existing);
  for (size_t i = 0; i < refusals.size(); ++i) {
    SCOPED_TRACE(refusals[i].message);
    CompressOptions options = Options(Cases()[0], 0);
    options.model_dir = (i >= first_moe ? moe_dir : model_dir).string();
    options.output_dir = (tmp / absl::StrCat("refused", i)).string();
    const fs::path recipe = tmp / absl::StrCat("refused", i, ".yaml");
    std::ofstream(recipe) << "quant_stage:\n  quant_modifiers:\n" << refusals[i].recipe;
    options.recipe_path = recipe.string();
    const CompressSummary summary = RunCompressJob(options);
    EXPECT_NE(summary.failure, CompressFailure::kNone);
    EXPECT_NE(summary.failure, CompressFailure::kRuntime) << summary.message;
    EXPECT_TRUE(absl::StrContains(summary.message, refusals[i].message)) << summary.message;
    EXPECT_FALSE(fs::exists(options.output_dir));
  }
}

}  // namespace
}  // namespace job
}  // namespace backend
}  // namespace wring
