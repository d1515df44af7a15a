#include "backend/job/demo.h"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "backend/base/torch_errors.h"
#include "backend/data/demo_data.h"
#include "backend/data/tokenizer.h"
#include "backend/safetensors/writer.h"
#include "mapping/archs/architectures.h"
#include "mapping/base/json.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace job {
namespace {

namespace fs = std::filesystem;

// Small enough to calibrate in seconds on one CPU core, shaped like a real
// Llama-3 (GQA, llama3 RoPE scaling, untied head) so every code path runs.
mapping::Json DemoConfig(int64_t vocab_size) {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"hidden_size", 128},
          {"intermediate_size", 384},
          {"num_hidden_layers", 4},
          {"num_attention_heads", 4},
          {"num_key_value_heads", 2},
          {"head_dim", 32},
          {"vocab_size", vocab_size},
          {"max_position_embeddings", 2048},
          {"rms_norm_eps", 1e-5},
          {"rope_theta", 500000.0},
          {"rope_scaling",
           {{"rope_type", "llama3"},
            {"factor", 8.0},
            {"low_freq_factor", 1.0},
            {"high_freq_factor", 4.0},
            {"original_max_position_embeddings", 1024}}},
          {"tie_word_embeddings", false},
          {"attention_bias", false},
          {"mlp_bias", false},
          {"hidden_act", "silu"},
          {"bos_token_id", 0},
          {"eos_token_id", 1},
          {"torch_dtype", "bfloat16"}};
}

constexpr char kDemoRecipe[] = R"(# wring compress --demo: AWQ, then W4A16 (int4 weights, group 128)
quant_stage:
  quant_modifiers:
    AWQModifier: {}
    QuantizationModifier:
      targets: [Linear]
      scheme: W4A16
      ignore: [lm_head]
)";

absl::Status WriteText(const fs::path& path, absl::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat(path.string(), ": cannot write"));
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteRandomInitModel(const mapping::Json& config, const std::string& dir) {
  WRING_RETURN_IF_ERROR(WriteText(fs::path(dir) / "config.json", config.dump(2) + "\n"));
  WRING_ASSIGN_OR_RETURN(mapping::ModelInput model,
                         mapping::ModelFromConfig(config, "config.json", ""));
  return CatchTorchErrors("writing a random-init model", [&]() -> absl::Status {
    torch::manual_seed(20261123);
    std::vector<safetensors::TensorToWrite> tensors;
    for (const mapping::Parameter& p : model.tree.parameters()) {
      torch::Tensor value = absl::EndsWith(p.name, "norm.weight")
                                ? torch::ones(p.shape, torch::kBFloat16)
                                : (torch::randn(p.shape) * 0.02).to(torch::kBFloat16);
      tensors.push_back({p.name, value});
    }
    return safetensors::WriteSafetensorsCheckpoint(dir, tensors, {{"format", "pt"}},
                                                   uint64_t{2} << 30)
        .status();
  });
}

absl::StatusOr<CompressOptions> PrepareDemo(const std::string& work_dir,
                                            const std::string& output_dir) {
  const fs::path model_dir = fs::path(work_dir) / "demo-model";
  std::error_code ec;
  fs::create_directories(model_dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat(model_dir.string(), ": ", ec.message()));

  WRING_ASSIGN_OR_RETURN(data::Tokenizer tokenizer,
                         data::Tokenizer::FromJson(data::DemoTokenizerJson(), "demo tokenizer"));
  WRING_RETURN_IF_ERROR(WriteRandomInitModel(DemoConfig(tokenizer.vocab_size()), model_dir.string()));
  WRING_RETURN_IF_ERROR(WriteText(model_dir / "tokenizer.json", data::DemoTokenizerJson()));

  const fs::path dataset = fs::path(work_dir) / "demo-calibration.txt";
  WRING_RETURN_IF_ERROR(WriteText(dataset, data::DemoCalibrationText()));
  const fs::path recipe = fs::path(work_dir) / "demo-recipe.yaml";
  WRING_RETURN_IF_ERROR(WriteText(recipe, kDemoRecipe));

  CompressOptions options;
  options.model_dir = model_dir.string();
  options.recipe_path = recipe.string();
  options.dataset_path = dataset.string();
  options.output_dir = output_dir;
  // The built-in text has six paragraphs: four calibrate, two measure.
  options.num_samples = 4;
  options.seq_len = 128;
  options.eval_samples = 2;
  return options;
}

}  // namespace job
}  // namespace backend
}  // namespace wring
