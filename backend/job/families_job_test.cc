// End to end on the mixture-of-experts and hybrid-attention families:
// `wring compress` against the checkpoints llm-compressor's oneshot wrote
// for the same tiny models (Qwen3-MoE, Qwen3-Next, Qwen3.5, Qwen2-MoE,
// Mixtral, Phi3, Gemma3, Qwen3.5-MoE), recipes and calibration tokens
// (testdata/families, make_family_oneshot_references.py), AWQ's grid
// choices against the losses oneshot recorded, and the refusal of a
// family whose compressed output is not verified.
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "backend/job/compress_job.h"
#include "backend/job/model_families.h"
#include "backend/model/config.h"
#include "backend/testing/checkpoint_compare.h"
#include "backend/testing/test_device.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mapping/base/json.h"
#include "mapping/testing/runfiles.h"

namespace wring {
namespace backend {
namespace job {
namespace {

namespace fs = std::filesystem;

std::string TestData(const std::string& path) {
  return mapping::testing::RunfilePath("backend/job/testdata/families/" + path);
}

struct FamilyRun {
  const char* model;
  const char* recipe;
  // GPTQ with wring's default factorization instead of upstream's
  // (--gptq_upstream_factorization, which the GPTQ runs otherwise use).
  bool default_factorization = false;
};

std::string RunName(const FamilyRun& run) {
  return absl::StrCat(run.model, "_", run.recipe, run.default_factorization ? "_default_factorization" : "");
}

CompressOptions Options(const FamilyRun& run) {
  CompressOptions options;
  options.device = testing::TestDevice();
  options.model_dir = TestData(absl::StrCat(run.model, "/model"));
  options.recipe_path = TestData(absl::StrCat(run.model, "/recipes/", run.recipe, ".yaml"));
  options.dataset_path = TestData(absl::StrCat(run.model, "/calibration.jsonl"));
  options.output_dir = (fs::path(std::getenv("TEST_TMPDIR")) / RunName(run)).string();
  fs::remove_all(options.output_dir);
  // As the generator: rows 0-7 calibrate, rows 8-15 are held out.
  options.num_samples = 8;
  options.seq_len = 32;
  options.eval_samples = 8;
  options.shuffle = false;
  options.progress = nullptr;
  options.gptq_upstream_factorization = !run.default_factorization;
  return options;
}

// Checks wring's AWQ choices against the losses oneshot recorded for every
// grid point, and returns the modules of the mappings where the two chose
// different points of a near tie (their tensors may then differ widely).
std::set<std::string> CheckAwqChoices(const std::string& reference_dir, const std::string& output_dir) {
  std::set<std::string> near_ties;
  const std::string search_path = reference_dir + "/awq_search.json";
  if (!fs::exists(search_path)) return near_ties;
  const mapping::Json search = testing::ReadJson(search_path);
  const mapping::Json quality = testing::ReadJson(output_dir + "/wring_quality.json");
  const mapping::Json& ours = quality["awq"];
  EXPECT_EQ(ours.size(), search.size());
  for (size_t i = 0; i < std::min(ours.size(), search.size()); ++i) {
    const mapping::Json& theirs = search[i];
    SCOPED_TRACE(theirs["smooth"].get<std::string>());
    EXPECT_EQ(ours[i]["smooth_layer"].get<std::string>(), theirs["smooth"].get<std::string>());
    EXPECT_EQ(ours[i]["parent"].get<std::string>(), theirs["parent"].get<std::string>());
    const std::vector<double> losses = theirs["losses"].get<std::vector<double>>();
    size_t best = 0, chosen = losses.size();
    for (size_t g = 0; g < losses.size(); ++g) {
      if (losses[g] < losses[best]) best = g;
      if (theirs["grid"][g][0].get<double>() == ours[i]["best_ratio"].get<double>() &&
          theirs["grid"][g][1].get<bool>() == ours[i]["best_duo_scaling"].get<bool>()) {
        chosen = g;
      }
    }
    if (chosen == losses.size()) {
      ADD_FAILURE() << "wring chose a point outside upstream's grid";
      continue;
    }
    // bf16 kernels of LibTorch 1.13 and PyTorch 2.10 round the parent's
    // forward differently: initial losses agree to ~0.5% (observed), so the
    // choice may flip only between points upstream scores within 3%.
    EXPECT_NEAR(ours[i]["initial_error"].get<double>(), losses.front(), 1e-2 * losses.front());
    std::cout << theirs["smooth"].get<std::string>() << ": grid point " << (chosen == best ? "equal" : "differs")
              << ", initial loss " << ours[i]["initial_error"].get<double>() / losses.front() - 1
              << ", best loss " << ours[i]["best_error"].get<double>() / losses[best] - 1 << " relative\n";
    if (chosen != best) {
      EXPECT_LE(losses[chosen], 1.03 * losses[best]) << "not a near tie upstream";
      near_ties.insert(theirs["smooth"].get<std::string>());
      for (const mapping::Json& b : theirs["balance"]) near_ties.insert(b.get<std::string>());
    } else {
      // A scaled point's loss moves with every int4 value that crosses a
      // rounding edge. Observed: within 1.2%, except Mixtral's layer 1
      // post_attention_layernorm (six balance layers, a jagged grid) at
      // 2.4%; upstream's own losses there move by up to 3.8% (1.2% at the
      // best point) when layer 1's input is perturbed by one bf16 step.
      EXPECT_NEAR(ours[i]["best_error"].get<double>(), losses[best], 3e-2 * losses[best]);
    }
  }
  return near_ties;
}

bool InAny(const std::string& tensor, const std::set<std::string>& modules) {
  for (const std::string& m : modules) {
    if (absl::StartsWith(tensor, m + ".")) return true;
  }
  return false;
}

// wring's reported perplexity of its compressed model against transformers'
// on oneshot's checkpoint (same held-out rows). Where transformers does not
// load that checkpoint (Mixtral's experts), the generator records null and,
// for weight-only recipes, the perplexity of the dense dequantized weights.
void CheckPerplexity(const std::string& reference_dir, const std::string& output_dir) {
  const mapping::Json theirs = testing::ReadJson(reference_dir + "/perplexity.json");
  const double ours = testing::ReadJson(output_dir + "/wring_quality.json")["perplexity"]["compressed"].get<double>();
  double expected = 0;
  if (theirs.contains("perplexity") && theirs["perplexity"].is_number()) {
    expected = theirs["perplexity"].get<double>();
  } else if (theirs.contains("dense_dequantized_perplexity")) {
    expected = theirs["dense_dequantized_perplexity"].get<double>();
  } else {
    return;
  }
  std::cout << "perplexity: wring " << ours << ", transformers on oneshot's checkpoint " << expected << "\n";
  // The tensors differ within the bounds above; observed within 0.1%.
  EXPECT_NEAR(ours, expected, 5e-3 * expected);
}

class FamiliesMatchLlmCompressor : public ::testing::TestWithParam<FamilyRun> {};

TEST_P(FamiliesMatchLlmCompressor, TensorsAndConfig) {
  const FamilyRun& run = GetParam();
  const CompressOptions options = Options(run);
  const CompressSummary summary = RunCompressJob(options);
  ASSERT_EQ(summary.failure, CompressFailure::kNone) << summary.message;

  const std::string reference = TestData(absl::StrCat(run.model, "/reference/", run.recipe));
  const std::set<std::string> near_ties = CheckAwqChoices(reference, options.output_dir);
  // Names, dtypes and shapes must be equal (CompareCheckpoints fails the
  // test otherwise); values as below.
  const std::vector<testing::TensorDifference> differences =
      testing::CompareCheckpoints(options.output_dir, reference);
  EXPECT_FALSE(differences.empty());
  const bool awq = absl::StartsWith(run.recipe, "awq");
  const bool gptq = absl::StartsWith(run.recipe, "gptq");
  for (const testing::TensorDifference& d : differences) {
    if (d.differing > 0) {
      std::cout << d.name << ": " << d.differing << " of " << d.elements << " differ, max abs " << d.max_abs
                << ", max rel " << d.max_relative << "\n";
    }
    if (gptq) {
      // As gptq_job_test: scales observed on the original weights; ints
      // fed back through Hessians that OpenBLAS / bf16 kernels round
      // slightly differently from upstream's.
      // The default factorization rounds differently in float32 and the
      // feedback spreads it (as gptq_job_test; observed at most 0.14% in
      // layer 0 and 5.5% after it).
      if (absl::EndsWith(d.name, "_packed")) {
        const double later = run.default_factorization ? 0.14 : 0.02;
        EXPECT_LE(d.differing, (absl::StartsWith(d.name, "model.layers.0.") ? 0.005 : later) * d.elements)
            << d.name;
      } else if (absl::EndsWith(d.name, "weight_scale")) {
        EXPECT_LE(d.max_relative, 2.0 / 128) << d.name;
      } else {
        EXPECT_EQ(d.differing, 0) << d.name;
      }
    } else if (!awq) {
      // Round to nearest and static scales from the same bf16 activations.
      EXPECT_EQ(d.differing, 0) << d.name;
    } else if (InAny(d.name, near_ties)) {
      // A different point of a near tie: other scales (observed within
      // 12%), other int4 values (observed 11%).
      if (absl::EndsWith(d.name, "weight_scale")) {
        EXPECT_LE(d.max_relative, 0.25) << d.name;
      } else {
        EXPECT_LE(d.differing, d.elements / 5) << d.name;
      }
    } else if (absl::EndsWith(d.name, "_packed")) {
      // Scales that differ in the last bf16 bit move a few int4 values
      // across a rounding edge (observed at most 0.2%).
      EXPECT_LE(d.differing, d.elements / 100) << d.name;
    } else if (absl::EndsWith(d.name, "weight_scale")) {
      EXPECT_LE(d.max_relative, 0.02) << d.name;
    } else {
      // Smoothed norms and routers: a few bf16 roundings of w / s.
      EXPECT_LE(d.differing, d.elements / 20) << d.name;
    }
  }
  EXPECT_EQ(testing::ComparableQuantizationConfig(options.output_dir + "/config.json"),
            testing::ComparableQuantizationConfig(reference + "/config.json"));
  CheckPerplexity(reference, options.output_dir);
}

INSTANTIATE_TEST_SUITE_P(Tiny, FamiliesMatchLlmCompressor,
                         ::testing::Values(FamilyRun{"qwen3_moe", "w8a8"}, FamilyRun{"qwen3_moe", "awq_w4a16"},
                                           FamilyRun{"qwen3_moe", "gptq_w4a16"},
                                           FamilyRun{"qwen3_moe", "gptq_w4a16", true},
                                           FamilyRun{"qwen3_next", "fp8_static_kv"},
                                           FamilyRun{"qwen3_next", "awq_w4a16"},
                                           FamilyRun{"qwen3_5_text", "awq_w4a16"},
                                           FamilyRun{"qwen2_moe", "awq_w4a16"}, FamilyRun{"mixtral", "w8a8"},
                                           FamilyRun{"mixtral", "awq_w4a16"},
                                           FamilyRun{"phi3", "awq_w4a16"}, FamilyRun{"gemma3_text", "awq_w4a16"},
                                           FamilyRun{"qwen3_5_moe_text", "awq_w4a16"}),
                         [](const ::testing::TestParamInfo<FamilyRun>& info) { return RunName(info.param); });

// A family whose forward runs but whose compressed checkpoint is not
// verified against oneshot is refused, naming it. Every family the backend
// runs today is verified, so this uses a model type it does not have.
TEST(FamiliesJob, RefusesAnUnverifiedFamilyByName) {
  model::ModelConfig config;
  config.model_type = "gemma4_text";
  config.architectures = {"Gemma4ForCausalLM"};
  const absl::Status status = CheckCompressVerified(config, "some/config.json");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(status.message(), ::testing::HasSubstr("some/config.json"));
  EXPECT_THAT(status.message(), ::testing::HasSubstr("Gemma4ForCausalLM"));
  EXPECT_THAT(status.message(), ::testing::HasSubstr("model_type \"gemma4_text\""));
  EXPECT_THAT(status.message(), ::testing::HasSubstr("qwen3_5_moe_text"));
  for (const char* verified : {"phi3", "gemma3_text", "qwen3_5_moe_text", "mixtral"}) {
    config.model_type = verified;
    EXPECT_TRUE(CheckCompressVerified(config, "some/config.json").ok()) << verified;
  }
}

}  // namespace
}  // namespace job
}  // namespace backend
}  // namespace wring
