// End to end on the mixture-of-experts and hybrid-attention families:
// `wring compress` against the checkpoints llm-compressor's oneshot wrote
// for the same tiny models, recipes and calibration tokens
// (testdata/families, make_family_oneshot_references.py), and AWQ's chosen
// scales against the ones oneshot divided each smooth layer by.
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "backend/job/compress_job.h"
#include "backend/safetensors/reader.h"
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
  return mapping::testing::RunfilePath("backend/job/testdata/families/" + path);
}

struct FamilyRun {
  const char* model;
  const char* recipe;
};

std::string RunName(const FamilyRun& run) { return absl::StrCat(run.model, "_", run.recipe); }

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
  return options;
}

class FamiliesMatchLlmCompressor : public ::testing::TestWithParam<FamilyRun> {};

TEST_P(FamiliesMatchLlmCompressor, TensorsAndConfig) {
  const FamilyRun& run = GetParam();
  const CompressOptions options = Options(run);
  const CompressSummary summary = RunCompressJob(options);
  ASSERT_EQ(summary.failure, CompressFailure::kNone) << summary.message;

  const std::string reference = TestData(absl::StrCat(run.model, "/reference/", run.recipe));
  const std::vector<testing::TensorDifference> differences = testing::CompareCheckpoints(options.output_dir, reference);
  EXPECT_FALSE(differences.empty());
  for (const testing::TensorDifference& d : differences) {
    if (d.differing > 0) {
      std::cout << d.name << ": " << d.differing << " of " << d.elements << " differ, max abs " << d.max_abs
                << ", max rel " << d.max_relative << "\n";
    }
  }
  EXPECT_EQ(testing::ComparableQuantizationConfig(options.output_dir + "/config.json"),
            testing::ComparableQuantizationConfig(reference + "/config.json"));
}

INSTANTIATE_TEST_SUITE_P(Tiny, FamiliesMatchLlmCompressor,
                         ::testing::Values(FamilyRun{"qwen3_moe", "w8a8"}, FamilyRun{"qwen3_moe", "awq_w4a16"},
                                           FamilyRun{"qwen3_next", "fp8_static_kv"},
                                           FamilyRun{"qwen3_next", "awq_w4a16"}),
                         [](const ::testing::TestParamInfo<FamilyRun>& info) { return RunName(info.param); });

}  // namespace
}  // namespace job
}  // namespace backend
}  // namespace wring
