#include "backend/pipeline/sequential_calibration.h"

#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "backend/base/torch_errors.h"
#include "backend/finite/finite.h"
#include "backend/finite/layer_checks.h"
#include "backend/interrupt/interrupt.h"
#include "backend/pipeline/advance_samples.h"
#include "backend/pipeline/compress_layer.h"
#include "backend/pipeline/end_calibration.h"
#include "backend/pipeline/initialize_quantization.h"
#include "backend/pipeline/start_calibration.h"
#include "backend/pipeline/sync_activation_statistics.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace pipeline {
namespace {

// One of oneshot's calibration passes over the model: the modifiers it
// runs and the inputs it gives the next layer. oneshot's default
// ("independent") pipeline gives each modifier of a recipe its own pass
// over the whole model, so GPTQ after SmoothQuant calibrates on the
// smoothed model's activations. A modifier's effect on a layer depends only
// on that layer and its pass's inputs, so the passes run interleaved, layer
// by layer, each with its own inputs, instead of one after another.
// The quantizers' observers (static activations, kv cache) run in the last
// pass, with the modifier that quantizes (GPTQ after SmoothQuant).
struct CalibrationStream {
  LayerModifier* modifier = nullptr;  // none: QuantizationModifier alone
  std::vector<torch::Tensor> hidden;  // calibration samples' inputs to the next layer
};

// With one modifier (or none) the independent pipeline is the sequential
// one: a single pass.
std::vector<CalibrationStream> IndependentStreams(const std::vector<LayerModifier*>& modifiers) {
  std::vector<CalibrationStream> streams;
  for (LayerModifier* modifier : modifiers) streams.push_back({modifier, {}});
  if (streams.empty()) streams.push_back({});
  return streams;
}

// A pass's modifier's state for one layer: none where it has nothing to do
// there (a vector, as the calibration hooks take every active modifier).
struct LayerModifiers {
  std::vector<std::unique_ptr<LayerCalibration>> owned;
  std::vector<LayerCalibration*> active;
  bool changes_weights = false;
};

class SequentialPipeline {
 public:
  SequentialPipeline(model::CausalLm& model, const CompressionPlan& plan,
                     const std::vector<LayerModifier*>& modifiers, Progress& progress,
                     distributed::Collectives& collectives, safetensors::SpillFile* spill)
      : model_(model),
        plan_(plan),
        modifiers_(modifiers),
        progress_(progress),
        collectives_(collectives),
        keeps_checkpoint_(collectives.rank() == 0),
        spill_(spill),
        streams_(IndependentStreams(modifiers)) {}

  absl::StatusOr<CalibrationResult> Run(const TokenSequences& calibration,
                                        const TokenSequences& evaluation) {
    // The embedding, final norm and lm_head: a NaN there is found in
    // seconds, not after every layer.
    for (const std::string& name : model_.NonLayerTensorNames()) {
      WRING_ASSIGN_OR_RETURN(torch::Tensor tensor, model_.GetTensor(name));
      WRING_RETURN_IF_ERROR(finite::CheckWeight(name, tensor));
    }
    for (const std::vector<int64_t>& sample : calibration) {
      const torch::Tensor ids =
          torch::tensor(sample, torch::kInt64).reshape({1, -1}).to(model_.device());
      WRING_ASSIGN_OR_RETURN(torch::Tensor hidden, model_.Embed(ids));
      // The layers return new tensors, so the streams may share their start.
      for (CalibrationStream& stream : streams_) stream.hidden.push_back(hidden);
      calibration_tokens_.push_back(static_cast<int64_t>(sample.size()));
    }
    WRING_ASSIGN_OR_RETURN(calibration_tokens_, EverySampleTokens(calibration_tokens_));
    WRING_ASSIGN_OR_RETURN(EvaluationStreams evaluation_streams,
                           EvaluationStreams::Start(model_, evaluation, collectives_));
    evaluation_ = std::make_unique<EvaluationStreams>(std::move(evaluation_streams));

    const int num_layers = static_cast<int>(model_.config().num_hidden_layers);
    for (int layer = 0; layer < num_layers; ++layer) {
      absl::Status status = interrupt::CheckNotInterrupted();
      if (status.ok()) status = RunLayer(layer);
      if (status.code() == absl::StatusCode::kCancelled) {
        return absl::CancelledError(absl::StrCat(status.message(), " in decoder layer ", layer, " (",
                                                 layer, " of ", num_layers, " layers done)"));
      }
      WRING_RETURN_IF_ERROR(status);
      model_.ReleaseLayerPages(layer);
      progress_.LayerDone(layer);
    }
    WRING_RETURN_IF_ERROR(AddNonLayerTensors());
    WRING_RETURN_IF_ERROR(evaluation_->Finish(model_, result_));
    for (const LayerModifier* modifier : modifiers_) {
      ModifierReport report = modifier->Report();
      if (!report.json_key.empty()) result_.modifiers.push_back(std::move(report));
    }
    progress_.Finish();
    return std::move(result_);
  }

 private:
  absl::Status RunLayer(int layer) {
    const auto start = std::chrono::steady_clock::now();
    WRING_ASSIGN_OR_RETURN(model::Weights weights, model_.LoadLayerWeights(layer));
    for (const auto& [name, tensor] : weights) WRING_RETURN_IF_ERROR(finite::CheckWeight(name, tensor));
    WRING_ASSIGN_OR_RETURN(LayerQuantizers quantizers,
                           InitializeQuantization(plan_, model_.config(), layer, weights));
    const LayerContext context{model_, layer, calibration_tokens_, collectives_};
    for (CalibrationStream& stream : streams_) {
      WRING_ASSIGN_OR_RETURN(LayerModifiers modifiers, StartModifiers(context, stream, weights));
      WRING_RETURN_IF_ERROR(Calibrate(layer, weights, quantizers, modifiers, stream));
      // The original evaluation stream runs before the first epoch end (after
      // the first calibration pass, so that a non-finite value is still found
      // there first): the modifiers then replace the layer's weights without a
      // copy of the originals held for the evaluation. (There is always a
      // first stream: IndependentStreams gives one even without modifiers.)
      if (&stream == &streams_.front()) {
        WRING_RETURN_IF_ERROR(evaluation_->AdvanceOriginal(model_, layer, weights, progress_));
      }
      WRING_RETURN_IF_ERROR(EndSequentialEpoch(context, weights, quantizers, modifiers, stream));
    }

    WRING_RETURN_IF_ERROR(SyncActivationStatistics(quantizers, collectives_, layer));
    WRING_RETURN_IF_ERROR(EndCalibration(quantizers, weights, collectives_, layer));
    WRING_ASSIGN_OR_RETURN(CompressedLayer compressed,
                           CompressLayer(quantizers, weights, evaluation_->has_samples()));
    WRING_RETURN_IF_ERROR(CheckQuantizationParameters(compressed));
    if (keeps_checkpoint_) {
      if (spill_ != nullptr) WRING_RETURN_IF_ERROR(spill_->Spill(compressed.tensors));
      for (auto& t : compressed.tensors) result_.tensors.push_back(std::move(t));
    }

    WRING_ASSIGN_OR_RETURN(LayerQuality quality,
                           evaluation_->EvaluateLayer(model_, layer, compressed.quantized_weights,
                                                      quantizers, progress_));
    quality.linears = std::move(compressed.linears);
    quality.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result_.layers.push_back(std::move(quality));
    return absl::OkStatus();
  }

  absl::StatusOr<LayerModifiers> StartModifiers(const LayerContext& context,
                                                const CalibrationStream& stream,
                                                const model::Weights& weights) {
    LayerModifiers out;
    if (stream.modifier == nullptr) return out;
    WRING_ASSIGN_OR_RETURN(std::unique_ptr<LayerCalibration> calibration,
                           stream.modifier->StartLayer(context, weights));
    if (calibration == nullptr) return out;  // nothing to do in this layer
    out.changes_weights = calibration->ChangesWeights();
    out.active.push_back(calibration.get());
    out.owned.push_back(std::move(calibration));
    return out;
  }

  // The calibration pass. Its outputs are the next layer's inputs unless a
  // modifier will change the weights.
  absl::Status Calibrate(int layer, const model::Weights& weights, LayerQuantizers& quantizers,
                         const LayerModifiers& modifiers, CalibrationStream& stream) {
    model::LayerHooks hooks = &stream == &streams_.back()
                                  ? StartCalibration(quantizers, modifiers.active)
                                  : StartModifierCalibration(quantizers, modifiers.active);
    std::vector<torch::Tensor>& hidden = stream.hidden;
    // oneshot's default moe_calibrate_all_experts: every expert observes
    // every token; the layer output still uses the routed experts only.
    hooks.moe_calibrate_all_experts = true;
    const int total = static_cast<int>(hidden.size());
    for (size_t i = 0; i < hidden.size(); ++i) {
      WRING_RETURN_IF_ERROR(interrupt::CheckNotInterrupted());
      WRING_ASSIGN_OR_RETURN(torch::Tensor output,
                             model_.DecoderLayerForward(layer, weights, hidden[i], hooks));
      WRING_RETURN_IF_ERROR(quantizers.hook_error);
      WRING_RETURN_IF_ERROR(finite::CheckLayerOutput(model_, layer, weights, hidden[i], output, hooks,
                                                     {"calibration", static_cast<int>(i), false}));
      if (!modifiers.changes_weights) hidden[i] = std::move(output);
      progress_.Sample(layer, "calibrating", static_cast<int>(i) + 1, total);
    }
    return absl::OkStatus();
  }

  absl::Status EndSequentialEpoch(const LayerContext& context, model::Weights& weights,
                                  LayerQuantizers& quantizers, LayerModifiers& modifiers,
                                  CalibrationStream& stream) {
    std::vector<torch::Tensor>& hidden = stream.hidden;
    for (LayerCalibration* modifier : modifiers.active) {
      WRING_RETURN_IF_ERROR(modifier->EndLayer(context, weights, quantizers));
    }
    const bool propagate = modifiers.changes_weights;
    modifiers = LayerModifiers();  // what they cached for the layer
    if (!propagate) return absl::OkStatus();
    for (const auto& [name, tensor] : weights) {
      WRING_RETURN_IF_ERROR(
          finite::CheckModifiedWeight(name, tensor,
                                      "the sequential epoch's modifiers (AWQ / SmoothQuant smoothing, GPTQ)"));
    }
    return AdvanceSamples(model_, context.layer, weights, hidden, {"propagation", 0, true}, "propagating",
                          progress_);
  }

  // The token counts of every worker's samples, in rank order: the whole
  // calibration set in one process's order (the slices are contiguous).
  absl::StatusOr<std::vector<int64_t>> EverySampleTokens(const std::vector<int64_t>& mine) {
    if (!collectives_.is_distributed()) return mine;
    const std::string bytes(reinterpret_cast<const char*>(mine.data()),
                            mine.size() * sizeof(int64_t));
    WRING_ASSIGN_OR_RETURN(const std::vector<std::string> all,
                           collectives_.AllGather(bytes, "calibration sample lengths"));
    std::vector<int64_t> tokens;
    for (const std::string& rank_bytes : all) {
      const size_t n = rank_bytes.size() / sizeof(int64_t);
      const size_t at = tokens.size();
      tokens.resize(at + n);
      std::memcpy(tokens.data() + at, rank_bytes.data(), n * sizeof(int64_t));
    }
    return tokens;
  }

  // Scales and zero points before they reach the checkpoint.
  static absl::Status CheckQuantizationParameters(const CompressedLayer& compressed) {
    for (const safetensors::TensorToWrite& t : compressed.tensors) {
      if (absl::EndsWith(t.name, "_scale") || absl::EndsWith(t.name, "_zero_point")) {
        WRING_RETURN_IF_ERROR(finite::CheckQuantizationParameter(t.name, t.tensor));
      }
    }
    return absl::OkStatus();
  }

  absl::Status AddNonLayerTensors() {
    for (const std::string& name : model_.NonLayerTensorNames()) {
      const std::string module = name.substr(0, name.rfind('.'));
      if (plan_.FindLinear(module) != nullptr) {
        return absl::UnimplementedError(absl::StrCat(
            "module '", module,
            "' is targeted for quantization, but `wring compress` quantizes decoder-layer "
            "Linear layers only; add \"", module, "\" to the modifier's ignore list"));
      }
      if (!keeps_checkpoint_) continue;
      WRING_ASSIGN_OR_RETURN(torch::Tensor tensor, model_.GetTensor(name));
      result_.tensors.push_back({name, tensor});
    }
    return absl::OkStatus();
  }

  model::CausalLm& model_;
  const CompressionPlan& plan_;
  const std::vector<LayerModifier*>& modifiers_;
  Progress& progress_;
  distributed::Collectives& collectives_;
  const bool keeps_checkpoint_;              // rank 0 writes the checkpoint
  safetensors::SpillFile* const spill_;      // may be null: layers stay in memory
  std::vector<CalibrationStream> streams_;  // one per calibration pass, in recipe order
  std::vector<int64_t> calibration_tokens_;  // per calibration sample
  std::unique_ptr<EvaluationStreams> evaluation_;
  CalibrationResult result_;
};

}  // namespace

bool NeedsCalibrationPass(const CompressionPlan& plan,
                          const std::vector<LayerModifier*>& modifiers) {
  return !modifiers.empty() || RequiresCalibrationData(plan);
}

absl::StatusOr<CalibrationResult> RunSequentialCalibration(
    model::CausalLm& model, const CompressionPlan& plan,
    const std::vector<LayerModifier*>& modifiers, const TokenSequences& calibration,
    const TokenSequences& evaluation, Progress& progress) {
  distributed::SingleProcessCollectives one_process;
  return RunSequentialCalibration(model, plan, modifiers, calibration, evaluation, progress,
                                  one_process);
}

absl::StatusOr<CalibrationResult> RunSequentialCalibration(
    model::CausalLm& model, const CompressionPlan& plan,
    const std::vector<LayerModifier*>& modifiers, const TokenSequences& calibration,
    const TokenSequences& evaluation, Progress& progress, distributed::Collectives& collectives,
    safetensors::SpillFile* spill) {
  const bool calibrate = NeedsCalibrationPass(plan, modifiers);
  if (calibrate && calibration.empty()) {
    return absl::InvalidArgumentError(
        "no calibration samples: the dataset gave none (check --dataset and --num-samples)");
  }
  if (collectives.is_distributed()) {
    for (const LayerModifier* modifier : modifiers) {
      if (!modifier->CombinesAcrossWorkers()) {
        return absl::UnimplementedError(absl::StrCat(
            modifier->name(), " does not combine its statistics across data-parallel workers "
            "yet, so each worker would compute it from its own samples: run this recipe with "
            "one worker (leave out --nproc)"));
      }
    }
  }
  return CatchTorchErrors("sequential calibration", [&]() -> absl::StatusOr<CalibrationResult> {
    torch::NoGradGuard no_grad;
    SequentialPipeline pipeline(model, plan, modifiers, progress, collectives, spill);
    // Without a calibration pass no sample is embedded, so every per-layer
    // calibration and propagation loop runs over nothing.
    return pipeline.Run(calibrate ? calibration : TokenSequences(), evaluation);
  });
}

}  // namespace pipeline
}  // namespace backend
}  // namespace wring
