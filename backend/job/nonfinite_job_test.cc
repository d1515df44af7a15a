// `wring compress` on copies of the tiny Llama with a NaN weight, a float16
// forward pass that overflows, and groups whose weights are all equal: the
// first two stop the run (exit 3) naming the tensor, layer and sample,
// with nothing written; the third compresses without dividing by zero.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "backend/job/compress_job.h"
#include "backend/safetensors/reader.h"
#include "backend/safetensors/writer.h"
#include "backend/testing/test_device.h"
#include "gtest/gtest.h"
#include "mapping/testing/runfiles.h"

namespace wring {
namespace backend {
namespace job {
namespace {

namespace fs = std::filesystem;

using Tensors = std::map<std::string, torch::Tensor>;

std::string TestData(const std::string& path) {
  return mapping::testing::RunfilePath("backend/job/testdata/oneshot/" + path);
}

fs::path Tmp() { return fs::path(std::getenv("TEST_TMPDIR")); }

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Tensors ReadTensors(const fs::path& file) {
  Tensors tensors;
  absl::StatusOr<std::unique_ptr<safetensors::SafetensorsFile>> opened =
      safetensors::SafetensorsFile::Open(file.string());
  EXPECT_TRUE(opened.ok()) << opened.status();
  if (!opened.ok()) return tensors;
  for (const mapping::SafetensorsTensor& t : (*opened)->header().tensors) {
    absl::StatusOr<torch::Tensor> tensor = (*opened)->Get(t.name);
    EXPECT_TRUE(tensor.ok()) << tensor.status();
    if (tensor.ok()) tensors[t.name] = tensor->clone();
  }
  return tensors;
}

// A copy of tiny_llama named `name`, its weights changed by `change`, and
// its config's dtype replaced by `dtype` (the weights converted to it).
std::string ChangedModel(const std::string& name, const std::function<void(Tensors&)>& change,
                         const std::string& dtype = "bfloat16") {
  const fs::path source = TestData("tiny_llama");
  const fs::path dir = Tmp() / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const fs::directory_entry& entry : fs::directory_iterator(source)) {
    if (entry.path().filename() == "model.safetensors") continue;
    fs::copy_file(entry.path(), dir / entry.path().filename());
  }
  std::ofstream(dir / "config.json")
      << absl::StrReplaceAll(ReadText(source / "config.json"), {{"\"bfloat16\"", "\"" + dtype + "\""}});
  Tensors tensors = ReadTensors(source / "model.safetensors");
  if (dtype == "float16") {
    for (auto& [tensor_name, tensor] : tensors) tensor = tensor.to(torch::kHalf);
  }
  change(tensors);
  std::vector<safetensors::TensorToWrite> to_write;
  for (const auto& [tensor_name, tensor] : tensors) to_write.push_back({tensor_name, tensor});
  const absl::Status written = safetensors::WriteSafetensorsFile((dir / "model.safetensors").string(), to_write);
  EXPECT_TRUE(written.ok()) << written;
  return dir.string();
}

CompressOptions Options(const std::string& model_dir, const std::string& recipe, const std::string& output) {
  CompressOptions options;
  options.device = testing::TestDevice();
  options.model_dir = model_dir;
  options.recipe_path = TestData("recipes/" + recipe + ".yaml");
  options.dataset_path = TestData("calibration.jsonl");
  options.output_dir = (Tmp() / ("out_" + output)).string();
  fs::remove_all(options.output_dir);
  options.num_samples = 4;
  options.seq_len = 32;
  options.eval_samples = 2;
  options.shuffle = false;
  options.progress = nullptr;
  return options;
}

void ExpectNothingWritten(const CompressOptions& options) {
  EXPECT_FALSE(fs::exists(options.output_dir)) << options.output_dir;
  EXPECT_FALSE(fs::exists(options.output_dir + ".wring-partial"));
}

void ExpectMessageHas(const CompressSummary& summary, const std::string& part) {
  EXPECT_NE(summary.message.find(part), std::string::npos) << "wanted \"" << part << "\" in: " << summary.message;
}

TEST(NonFinite, NaNWeightStopsTheRunNamingTheTensor) {
  const std::string model = ChangedModel("nan_weight", [](Tensors& t) {
    t["model.layers.1.self_attn.q_proj.weight"][3][5] = std::nanf("");
  });
  for (const std::string recipe : {"w8a8", "w4a16"}) {
    const CompressOptions options = Options(model, recipe, "nan_weight_" + recipe);
    const CompressSummary summary = RunCompressJob(options);
    EXPECT_EQ(summary.failure, CompressFailure::kRuntime) << summary.message;
    ExpectMessageHas(summary, "model.layers.1.self_attn.q_proj.weight holds 1 NaN (first at [3, 5])");
    ExpectMessageHas(summary, "Re-download or re-export");
    ExpectNothingWritten(options);
  }
}

TEST(NonFinite, InfinityInTheEmbeddingIsFoundBeforeTheFirstLayer) {
  const std::string model = ChangedModel("inf_embedding", [](Tensors& t) {
    t["model.embed_tokens.weight"][7][1] = -INFINITY;
  });
  const CompressOptions options = Options(model, "w8a8", "inf_embedding");
  const CompressSummary summary = RunCompressJob(options);
  EXPECT_EQ(summary.failure, CompressFailure::kRuntime) << summary.message;
  ExpectMessageHas(summary, "model.embed_tokens.weight holds 1 -inf (first at [7, 1])");
  ExpectNothingWritten(options);
}

// int8 weights and static per-tensor int8 input activations: the scales
// need a calibration pass (W8A8's dynamic activations do not).
std::string StaticActivationRecipe() {
  const fs::path recipe = Tmp() / "int8_static.yaml";
  std::ofstream(recipe) << "quant_stage:\n  quant_modifiers:\n    QuantizationModifier:\n"
                           "      ignore: [lm_head]\n      config_groups:\n        group_0:\n"
                           "          targets: [Linear]\n"
                           "          weights: {num_bits: 8, type: int, strategy: channel, symmetric: true}\n"
                           "          input_activations: {num_bits: 8, type: int, strategy: tensor, "
                           "symmetric: true, dynamic: false}\n";
  return recipe.string();
}

// Finite float16 weights whose forward pass leaves float16's range: layer
// 1's post-attention norm scales the MLP's input by 5000 (its largest
// element stays below 5000 * sqrt(128) < 65504), so gate * up overflows on
// the way into down_proj. Found in the calibration pass when the recipe has
// one, else in the evaluation pass.
TEST(NonFinite, Float16OverflowNamesTheLayerSampleAndModule) {
  const std::string model = ChangedModel(
      "fp16_overflow", [](Tensors& t) { t["model.layers.1.post_attention_layernorm.weight"].fill_(5000); },
      "float16");
  struct Case {
    std::string recipe;
    std::string pass;
  };
  for (const Case& c : {Case{"static", "calibration"}, Case{"w8a8", "evaluation"}}) {
    CompressOptions options = Options(model, "w8a8", "fp16_overflow_" + c.recipe);
    if (c.recipe == "static") options.recipe_path = StaticActivationRecipe();
    const CompressSummary summary = RunCompressJob(options);
    EXPECT_EQ(summary.failure, CompressFailure::kRuntime) << summary.message;
    ExpectMessageHas(summary, "decoder layer 1, " + c.pass +
                                  " sample 1: the input of model.layers.1.mlp.down_proj holds");
    ExpectMessageHas(summary, "(Half)");
    ExpectMessageHas(summary, "bfloat16 or float32 copy of the checkpoint");
    ExpectNothingWritten(options);
  }
}

// All-equal weights: a row of zeros (min = max = 0, a zero range whose
// scale must become eps, not 0) and a row of one constant in up_proj, and
// an all-zero v_proj, quantized asymmetrically and symmetrically: every
// written tensor and the reported perplexities are finite, and the zeros
// stay zeros.
TEST(NonFinite, ZeroRangeGroupsGetFiniteScales) {
  constexpr char kProj[] = "model.layers.0.mlp.up_proj";
  const std::string model = ChangedModel("all_equal", [&](Tensors& t) {
    torch::Tensor w = t[std::string(kProj) + ".weight"];
    w[0].fill_(0);
    w[1].fill_(0.25);
    t["model.layers.0.self_attn.v_proj.weight"].fill_(0);
  });
  for (const std::string recipe : {"w4a16_asym", "w4a16", "w8a8"}) {
    const CompressOptions options = Options(model, recipe, "all_equal_" + recipe);
    const CompressSummary summary = RunCompressJob(options);
    ASSERT_EQ(summary.failure, CompressFailure::kNone) << recipe << ": " << summary.message;
    Tensors out = ReadTensors(fs::path(options.output_dir) / "model.safetensors");
    for (const auto& [name, tensor] : out) {
      if (tensor.is_floating_point()) {
        EXPECT_TRUE(torch::isfinite(tensor.to(torch::kFloat)).all().item<bool>()) << recipe << ": " << name;
      }
    }
    const torch::Tensor scale = out[std::string(kProj) + ".weight_scale"];
    ASSERT_TRUE(scale.defined()) << recipe;
    EXPECT_GT(scale[0].min().item<float>(), 0) << recipe << ": a zero range must get eps, not 0";
    EXPECT_GT(out["model.layers.0.self_attn.v_proj.weight_scale"].min().item<float>(), 0) << recipe;
    if (recipe == "w8a8") {  // int8, unpacked: the zero row is still zero
      EXPECT_EQ(out[std::string(kProj) + ".weight"][0].abs().max().item<int>(), 0);
    }
    const std::string report = ReadText(fs::path(options.output_dir) / "wring_quality.json");
    EXPECT_EQ(report.find("null"), std::string::npos) << recipe << ": " << report;
    EXPECT_EQ(report.find("nan"), std::string::npos) << recipe << ": " << report;
  }
}

}  // namespace
}  // namespace job
}  // namespace backend
}  // namespace wring
