#include "backend/job/compress_job.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "backend/awq/awq_modifier.h"
#include "backend/gptq/gptq_modifier.h"
#include "backend/smoothquant/smoothquant_modifier.h"
#include "backend/base/torch_errors.h"
#include "backend/compress/quantization_config.h"
#include "backend/data/calibration_data.h"
#include "backend/data/tokenizer.h"
#include "backend/distributed/collectives.h"
#include "backend/distributed/work_split.h"
#include "backend/job/model_families.h"
#include "backend/job/quality_report.h"
#include "backend/model/causal_lm.h"
#include "backend/model/config.h"
#include "backend/output/output_directory.h"
#include "backend/pipeline/compression_plan.h"
#include "backend/pipeline/progress.h"
#include "backend/pipeline/sequential_calibration.h"
#include "backend/safetensors/spill_file.h"
#include "backend/safetensors/writer.h"
#include "backend/spinquant/spinquant.h"
#include "mapping/archs/architectures.h"
#include "mapping/base/file.h"
#include "mapping/base/json.h"
#include "mapping/base/status_macros.h"
#include "mapping/check/check.h"
#include "mapping/recipe/recipe_parser.h"
#include "mapping/report/render_text.h"

namespace wring {
namespace backend {
namespace job {
namespace {

namespace fs = std::filesystem;

// Files a Hugging Face checkpoint carries beside its weights that a loader
// of the compressed model needs unchanged.
const std::vector<std::string>& FilesCopiedVerbatim() {
  static const auto* files = new std::vector<std::string>{
      "tokenizer.json",         "tokenizer_config.json", "special_tokens_map.json",
      "generation_config.json", "vocab.json",            "merges.txt",
      "tokenizer.model",        "added_tokens.json",     "chat_template.jinja",
      "chat_template.json"};
  return *files;
}

absl::StatusOr<torch::Device> ParseDevice(const std::string& name) {
  auto device = CatchTorchErrors("--device", [&]() -> absl::StatusOr<torch::Device> {
    return torch::Device(name);
  });
  if (!device.ok() || !(device->is_cpu() || device->is_cuda())) {
    return absl::InvalidArgumentError(
        absl::StrCat("--device: '", name, "' is not a device; use cpu, cuda or cuda:N"));
  }
  if (device->is_cuda() && !torch::cuda::is_available()) {
    return absl::FailedPreconditionError(
        "--device cuda: no CUDA device is usable by this build (Debian's LibTorch is "
        "CPU-only); run with --device cpu, or build wring against a CUDA LibTorch as "
        "backend/README.md describes");
  }
  return *device;
}

CompressSummary Fail(CompressFailure failure, const absl::Status& status) {
  CompressSummary summary;
  summary.failure = failure;
  summary.message = std::string(status.message());
  if (failure == CompressFailure::kInterrupted) {
    absl::StrAppend(&summary.message, "; stopped cleanly: nothing was written");
  }
  return summary;
}

CompressFailure FailureOf(const absl::Status& status) {
  if (distributed::IsPeerFailure(status)) return CompressFailure::kPeerFailed;
  switch (status.code()) {
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kDataLoss:  // non-finite values (backend/finite)
    case absl::StatusCode::kUnknown:
      return CompressFailure::kRuntime;
    case absl::StatusCode::kCancelled:
      return CompressFailure::kInterrupted;
    default:
      return CompressFailure::kUnusableInput;
  }
}

// A lower bound of the checkpoint's size: every Linear's weight at its
// planned bit width and the embedding in the model dtype (scales and norms
// left out). A disk that cannot hold even this is refused in seconds, not
// after the calibration.
uint64_t MinimumCheckpointBytes(const pipeline::CompressionPlan& plan, const model::ModelConfig& config,
                                bool untie_embeddings) {
  const double dtype_bits = 8.0 * c10::elementSize(config.dtype);
  double bits = dtype_bits * config.vocab_size * config.hidden_size;
  const mapping::ModuleTree& tree = plan.model.tree;
  for (int i = 0; i < tree.size(); ++i) {
    const mapping::Module& module = tree.module(i);
    if (!tree.IsLinear(i) || module.in_features <= 0 || module.out_features <= 0) continue;
    if (module.name == "lm_head" && config.tie_word_embeddings && !untie_embeddings) continue;
    const pipeline::PlannedModule* planned = plan.FindLinear(module.name);
    const double weight_bits = planned != nullptr && planned->scheme.weights.has_value()
                                   ? planned->scheme.weights->num_bits
                                   : dtype_bits;
    bits += weight_bits * static_cast<double>(module.in_features) * static_cast<double>(module.out_features);
  }
  return static_cast<uint64_t>(bits / 8);
}

// SpinQuantModifier's rotations (backend/spinquant), refused before any
// weight is loaded when wring cannot run them (more than one modifier).
absl::StatusOr<std::unique_ptr<spinquant::SpinQuant>> PrepareSpinQuant(
    const pipeline::CompressionPlan& plan, const std::string& recipe_path) {
  if (plan.spinquant.empty()) return nullptr;
  if (plan.spinquant.size() > 1) {
    return absl::UnimplementedError(absl::StrCat(
        recipe_path, ": more than one SpinQuantModifier; `wring compress` runs one"));
  }
  absl::StatusOr<std::unique_ptr<spinquant::SpinQuant>> spin =
      spinquant::SpinQuant::Create(plan.model, plan.spinquant.front());
  if (!spin.ok()) {
    return absl::Status(spin.status().code(),
                        absl::StrCat(recipe_path, ": SpinQuantModifier: ", spin.status().message()));
  }
  return spin;
}

// Everything up to the first forward pass: a failure here costs seconds.
struct PreparedJob {
  std::string config_path;
  mapping::Json config;
  std::string recipe_text;
  pipeline::CompressionPlan plan;
  data::CalibrationData samples;
  std::unique_ptr<output::OutputDirectory> output;
  // The model's config.json as the backend runs it.
  model::ModelConfig model_config;
  // The recipe's SpinQuantModifier, fused into the weights as they load.
  std::unique_ptr<spinquant::SpinQuant> spinquant;
  // The modifiers that act inside the sequential pipeline, and all of them
  // in recipe order.
  std::unique_ptr<awq::AwqModifier> awq;
  std::vector<std::unique_ptr<smoothquant::SmoothQuantModifier>> smoothquant;
  std::vector<std::unique_ptr<gptq::GptqModifier>> gptq;
  std::vector<pipeline::LayerModifier*> layer_modifiers;
  std::vector<std::string> notes;  // printed once progress output starts
};

// SmoothQuant smooths each layer at its epoch end, after the calibration
// pass in which static input observers saw the unsmoothed activations
// (oneshot's default pipeline calibrates them on the smoothed model): such
// schemes are refused rather than calibrated on the wrong inputs.
absl::Status CheckSmoothQuantRunnable(const pipeline::CompressionPlan& plan,
                                      const std::string& recipe_path) {
  for (const pipeline::PlannedModule& module : plan.linears) {
    const auto& input = module.scheme.input_activations;
    if (input.has_value() && input->dynamic == mapping::DynamicMode::kStatic) {
      return absl::UnimplementedError(absl::StrCat(
          recipe_path, ": SmoothQuantModifier with a static input_activations scheme (",
          module.name, ") is not run by `wring compress` yet: its observers would see the "
          "activations before smoothing; use dynamic input activations (e.g. scheme W8A8), or "
          "llm-compressor"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<PreparedJob> Prepare(const CompressOptions& options, int rank,
                                     CompressSummary* verdict) {
  PreparedJob job;
  if (options.model_dir.empty()) {
    return absl::InvalidArgumentError("--model: give the Hugging Face checkpoint directory");
  }
  if (options.recipe_path.empty()) {
    return absl::InvalidArgumentError("--recipe: give the llm-compressor recipe (YAML)");
  }
  if (options.dataset_path.empty()) {
    return absl::InvalidArgumentError(
        "--dataset: give calibration data (.jsonl with input_ids or text, or .txt)");
  }
  job.config_path = (fs::path(options.model_dir) / "config.json").string();
  WRING_ASSIGN_OR_RETURN(std::string config_text, mapping::ReadFile(job.config_path, "model config"));
  WRING_ASSIGN_OR_RETURN(job.config, mapping::ParseJson(config_text, job.config_path));
  // First: a model type or layer kind the backend cannot run is refused
  // with what it supports.
  WRING_ASSIGN_OR_RETURN(job.model_config, model::ParseModelConfig(config_text, job.config_path));
  WRING_RETURN_IF_ERROR(CheckCompressVerified(job.model_config, job.config_path));
  // The tree is built twice (cheap) because the check consumes its input.
  WRING_ASSIGN_OR_RETURN(mapping::ModelInput checked_model,
                         mapping::ModelFromConfig(job.config, job.config_path, ""));
  WRING_ASSIGN_OR_RETURN(mapping::ModelInput model,
                         mapping::ModelFromConfig(job.config, job.config_path, ""));

  WRING_ASSIGN_OR_RETURN(job.recipe_text, mapping::ReadFile(options.recipe_path, "recipe"));
  WRING_ASSIGN_OR_RETURN(recipe::Recipe recipe,
                         mapping::ParseRecipe(job.recipe_text, options.recipe_path));
  WRING_ASSIGN_OR_RETURN(report::CheckReport report, mapping::CheckRecipe(std::move(checked_model), &recipe));
  if (report.verdict().exit_code() != mapping::kExitWouldRun) {
    verdict->failure = CompressFailure::kRecipeWouldFail;
    verdict->message = absl::StrCat(
        "refusing to compress: llm-compressor would fail on this recipe (nothing was loaded "
        "or written).\n\n",
        mapping::RenderReportText(report));
    return absl::AbortedError("recipe would fail");
  }
  WRING_RETURN_IF_ERROR(LinearizeForPlan(model));
  WRING_ASSIGN_OR_RETURN(job.plan, pipeline::PlanCompression(std::move(model), recipe));
  WRING_RETURN_IF_ERROR(pipeline::CheckQuantizersRunnable(job.plan));
  if (!job.plan.spinquant.empty()) {
    WRING_RETURN_IF_ERROR(CheckSpinQuantSupported(job.model_config, options.recipe_path));
  }
  WRING_ASSIGN_OR_RETURN(job.spinquant, PrepareSpinQuant(job.plan, options.recipe_path));
  WRING_ASSIGN_OR_RETURN(
      job.awq, awq::AwqModifier::Create(job.plan, job.model_config, options.recipe_path,
                                        options.awq_forward_loss ? awq::LinearParentLoss::kForward
                                                                 : awq::LinearParentLoss::kCheaper));
  size_t next_smoothquant = 0, next_gptq = 0;
  for (const recipe::Modifier& modifier : recipe.modifiers()) {
    if (modifier.kind_case() == recipe::Modifier::kSmoothquant ||
        modifier.kind_case() == recipe::Modifier::kGptq) {
      WRING_RETURN_IF_ERROR(
          CheckComparedOnDenseOnly(job.model_config, options.recipe_path, modifier.type()));
    }
    if (modifier.kind_case() == recipe::Modifier::kSmoothquant) {
      WRING_RETURN_IF_ERROR(CheckSmoothQuantRunnable(job.plan, options.recipe_path));
    }
    if (modifier.kind_case() == recipe::Modifier::kAwq && job.awq != nullptr) {
      job.layer_modifiers.push_back(job.awq.get());
    } else if (modifier.kind_case() == recipe::Modifier::kSmoothquant) {
      WRING_ASSIGN_OR_RETURN(
          std::unique_ptr<smoothquant::SmoothQuantModifier> sq,
          smoothquant::SmoothQuantModifier::Create(
              job.plan, job.plan.smoothquant.at(next_smoothquant++), options.recipe_path));
      job.layer_modifiers.push_back(sq.get());
      job.smoothquant.push_back(std::move(sq));
    } else if (modifier.kind_case() == recipe::Modifier::kGptq) {
      WRING_ASSIGN_OR_RETURN(std::unique_ptr<gptq::GptqModifier> g,
                             gptq::GptqModifier::Create(job.plan, job.plan.gptq.at(next_gptq++),
                                                        options.recipe_path,
                                                        options.gptq_upstream_factorization));
      job.layer_modifiers.push_back(g.get());
      job.gptq.push_back(std::move(g));
    }
  }

  // Claim the output path before hours of calibration, not after. Only
  // rank 0 writes; the others would race it for the staging directory.
  if (rank == 0) {
    WRING_ASSIGN_OR_RETURN(job.output, output::OutputDirectory::Create(options.output_dir));
    // Twice the checkpoint: the spill file holds the compressed layers until
    // the checkpoint is written beside it.
    WRING_RETURN_IF_ERROR(job.output->CheckFreeSpace(
        2 * MinimumCheckpointBytes(job.plan, job.model_config, job.spinquant != nullptr)));
  }

  // Pre-tokenized data needs no tokenizer, so a tokenizer wring cannot read
  // only matters when the dataset has text.
  std::unique_ptr<data::Tokenizer> tokenizer;
  absl::Status tokenizer_status;
  const std::string tokenizer_path = (fs::path(options.model_dir) / "tokenizer.json").string();
  if (fs::exists(tokenizer_path)) {
    absl::StatusOr<data::Tokenizer> parsed = data::Tokenizer::FromFile(tokenizer_path);
    if (parsed.ok()) {
      tokenizer = std::make_unique<data::Tokenizer>(*std::move(parsed));
    } else {
      tokenizer_status = parsed.status();
    }
  }
  data::CalibrationOptions data_options;
  data_options.num_samples = options.num_samples;
  data_options.seq_len = options.seq_len;
  data_options.eval_samples = options.eval_samples;
  data_options.shuffle = options.shuffle;
  data_options.seed = options.seed;
  absl::StatusOr<data::CalibrationData> samples =
      data::LoadCalibrationData(options.dataset_path, tokenizer.get(), data_options);
  if (!samples.ok() && !tokenizer_status.ok() &&
      absl::StrContains(samples.status().message(), "tokenizer")) {
    return absl::Status(samples.status().code(),
                        absl::StrCat(samples.status().message(), "\n(the model's tokenizer could not be used: ",
                                     tokenizer_status.message(), ")"));
  }
  WRING_ASSIGN_OR_RETURN(job.samples, std::move(samples));
  if (job.samples.records_available < options.num_samples + options.eval_samples) {
    job.notes.push_back(absl::StrFormat(
        "note: %s has %d usable samples, fewer than --num-samples %d + --eval-samples %d; "
        "using %d for calibration and %d for evaluation",
        options.dataset_path, job.samples.records_available, options.num_samples,
        options.eval_samples, job.samples.calibration.size(), job.samples.evaluation.size()));
  }
  const mapping::Json* vocab = mapping::JsonMember(job.config, "vocab_size");
  if (vocab != nullptr && vocab->is_number_integer()) {
    WRING_RETURN_IF_ERROR(data::ValidateTokenIds(job.samples.calibration, vocab->get<int64_t>(),
                                                 options.dataset_path));
    WRING_RETURN_IF_ERROR(data::ValidateTokenIds(job.samples.evaluation, vocab->get<int64_t>(),
                                                 options.dataset_path));
  }
  return job;
}

pipeline::TokenSequences Ids(const std::vector<data::CalibrationSample>& samples) {
  pipeline::TokenSequences ids;
  ids.reserve(samples.size());
  for (const auto& s : samples) ids.push_back(s.input_ids);
  return ids;
}

// This worker's contiguous slice of `samples`, as llm-compressor's
// distributed oneshot partitions the calibration set.
std::vector<data::CalibrationSample> RankSamples(const std::vector<data::CalibrationSample>& samples,
                                                 const distributed::Collectives& collectives) {
  const distributed::SampleSlice slice = distributed::RankSlice(
      static_cast<int64_t>(samples.size()), collectives.rank(), collectives.world_size());
  return std::vector<data::CalibrationSample>(samples.begin() + slice.begin,
                                              samples.begin() + slice.end);
}

// The staged checkpoint (rank 0); Commit() renames it into place.
absl::Status StageCheckpoint(const CompressOptions& options, PreparedJob& job, model::CausalLm& model,
                             const pipeline::CalibrationResult& result,
                             const QualityReport& quality) {
  output::OutputDirectory& out = *job.output;
  mapping::Json config = job.config;
  if (job.plan.quantization_config.has_value()) {
    config["quantization_config"] = *job.plan.quantization_config;
  }
  if (job.spinquant != nullptr) {
    // As compressed-tensors' update_config writes it; SpinQuant always unties
    // the embeddings.
    if (config.contains("quantization_config")) {
      config["quantization_config"]["transform_config"] = job.spinquant->transform_config();
    } else {
      config["quantization_config"] = job.spinquant->QuantizationConfigWithoutQuantization();
    }
    config["tie_word_embeddings"] = false;
  }
  std::vector<safetensors::TensorToWrite> tensors = result.tensors;
  WRING_RETURN_IF_ERROR(ToSavedLayout(model, tensors, config));
  // As llm-compressor 0.14's resave_config and compressed-tensors'
  // update_config write it: the checkpoint's own config, keys sorted.
  WRING_RETURN_IF_ERROR(
      out.WriteFile("config.json", compress::SortKeysRecursively(config).dump(2) + "\n"));
  WRING_RETURN_IF_ERROR(out.WriteFile("recipe.yaml", job.recipe_text));
  WRING_RETURN_IF_ERROR(out.WriteFile("wring_quality.json", quality.json.dump(2) + "\n"));
  WRING_RETURN_IF_ERROR(
      out.CopyFilesIfPresent(options.model_dir, FilesCopiedVerbatim()).status());
  // Online transforms (R4) stay modules of the checkpoint, as upstream's
  // save_pretrained keeps them, so a loader can apply them.
  if (job.spinquant != nullptr) {
    for (auto& [name, tensor] : job.spinquant->OnlineTransformTensors()) tensors.push_back({name, tensor});
  }
  return safetensors::WriteSafetensorsCheckpoint(out.staging_path(), tensors, {{"format", "pt"}},
                                                 options.max_shard_bytes)
      .status();
}

}  // namespace

CompressSummary RunCompressJob(const CompressOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  distributed::SingleProcessCollectives one_process;
  distributed::Collectives& collectives =
      options.collectives != nullptr ? *options.collectives : one_process;
  const int rank = collectives.rank(), workers = collectives.world_size();
  CompressSummary verdict;
  absl::StatusOr<PreparedJob> job = Prepare(options, rank, &verdict);
  if (verdict.failure == CompressFailure::kRecipeWouldFail) return verdict;
  if (!job.ok()) return Fail(FailureOf(job.status()), job.status());
  const size_t all_samples = job->samples.calibration.size();
  if (all_samples < static_cast<size_t>(workers)) {
    return Fail(CompressFailure::kUnusableInput,
                absl::InvalidArgumentError(absl::StrFormat(
                    "--num-samples: %d calibration samples for %d workers, but every worker "
                    "needs at least one; use more samples or fewer workers",
                    all_samples, workers)));
  }
  const std::vector<data::CalibrationSample> calibration =
      RankSamples(job->samples.calibration, collectives);
  const std::vector<data::CalibrationSample> evaluation =
      RankSamples(job->samples.evaluation, collectives);

  absl::StatusOr<torch::Device> device = ParseDevice(options.device);
  if (!device.ok()) return Fail(CompressFailure::kUnusableInput, device.status());
  auto model = model::CausalLm::Open(options.model_dir, *device);
  if (!model.ok()) return Fail(FailureOf(model.status()), model.status());
  absl::Status outside = CheckPassthroughNotTargeted(**model, job->plan);
  if (!outside.ok()) return Fail(FailureOf(outside), outside);
  // As oneshot's norm_calibration_context, for any recipe.
  (*model)->UseCalibrationNorms();
  if (job->spinquant != nullptr) {
    absl::Status rotated = job->spinquant->Apply(**model);
    if (!rotated.ok()) return Fail(FailureOf(rotated), rotated);
  }

  pipeline::Progress progress(options.progress,
                              static_cast<int>((*model)->config().num_hidden_layers));
  for (const std::string& note : job->notes) progress.Message(note);
  if (job->awq != nullptr) {
    for (const std::string& line : job->awq->log()) progress.Message(line);
  }
  for (const auto& sq : job->smoothquant) {
    for (const std::string& line : sq->log()) progress.Message(line);
  }
  const bool calibrate = pipeline::NeedsCalibrationPass(job->plan, job->layer_modifiers);
  progress.Message(absl::StrFormat(
      "wring compress: %s, %d evaluation samples, %d decoder layers, %d "
      "quantized Linear layers, device %s",
      calibrate ? absl::StrFormat("%d calibration samples", all_samples)
                : std::string("no calibration pass (no modifier or scheme needs activations; "
                              "llm-compressor's data-free pipeline)"),
      job->samples.evaluation.size(), (*model)->config().num_hidden_layers,
      job->plan.linears.size(), options.device));
  if (workers > 1) {
    int64_t fewest = all_samples, most = 0;
    for (int r = 0; r < workers; ++r) {
      const int64_t n = distributed::RankSlice(all_samples, r, workers).size();
      fewest = std::min(fewest, n);
      most = std::max(most, n);
    }
    progress.Message(absl::StrFormat(
        "data-parallel: %d workers, each calibrating a contiguous slice of %d to %d samples",
        workers, fewest, most));
  }
  // Rank 0 parks each compressed layer in the staging directory until the
  // checkpoint is written.
  std::unique_ptr<safetensors::SpillFile> spill;
  if (rank == 0) {
    auto created = safetensors::SpillFile::Create(job->output->staging_path());
    if (!created.ok()) return Fail(FailureOf(created.status()), created.status());
    spill = *std::move(created);
  }
  auto result = pipeline::RunSequentialCalibration(**model, job->plan, job->layer_modifiers,
                                                   Ids(calibration), Ids(evaluation), progress,
                                                   collectives, spill.get());
  if (!result.ok()) return Fail(FailureOf(result.status()), result.status());
  for (const auto& g : job->gptq) {
    const std::string warning = g->RtnFallbackWarning();
    if (!warning.empty()) progress.Message(absl::StrCat("WARNING ", warning));
  }

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  QualityReport quality = BuildQualityReport(*result, job->plan, seconds);
  // Rank 0 stages the checkpoint; it appears only once every worker has
  // finished, so a worker failing at the end leaves no directory behind.
  if (rank == 0) {
    absl::Status staged = StageCheckpoint(options, *job, **model, *result, quality);
    if (!staged.ok()) return Fail(FailureOf(staged), staged);
  }
  absl::Status finished = collectives.Barrier("the end of the run (rank 0 staged the checkpoint)");
  if (!finished.ok()) return Fail(FailureOf(finished), finished);
  if (rank == 0) {
    absl::Status committed = job->output->Commit();
    if (!committed.ok()) return Fail(FailureOf(committed), committed);
  }

  CompressSummary summary;
  summary.output_dir = rank == 0 ? job->output->final_path() : options.output_dir;
  summary.quality_text = quality.text;
  return summary;
}

}  // namespace job
}  // namespace backend
}  // namespace wring
