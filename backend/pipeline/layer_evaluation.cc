#include "backend/pipeline/layer_evaluation.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "backend/finite/layer_checks.h"
#include "backend/interrupt/interrupt.h"
#include "backend/pipeline/advance_samples.h"
#include "backend/pipeline/end_calibration.h"
#include "backend/pipeline/quality_metrics.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace pipeline {

absl::StatusOr<EvaluationStreams> EvaluationStreams::Start(model::CausalLm& model,
                                                           const TokenSequences& evaluation,
                                                           distributed::Collectives& collectives) {
  EvaluationStreams streams;
  streams.collectives_ = &collectives;
  for (const std::vector<int64_t>& sample : evaluation) {
    streams.ids_.push_back(torch::tensor(sample, torch::kInt64).reshape({1, -1}).to(model.device()));
    WRING_ASSIGN_OR_RETURN(torch::Tensor hidden, model.Embed(streams.ids_.back()));
    streams.original_.push_back(std::move(hidden));
  }
  streams.compressed_ = streams.original_;
  return streams;
}

absl::Status EvaluationStreams::AdvanceOriginal(model::CausalLm& model, int layer,
                                               const model::Weights& original_weights,
                                               Progress& progress) {
  original_inputs_ = original_;
  WRING_RETURN_IF_ERROR(AdvanceSamples(model, layer, original_weights, original_, {"evaluation", 0, false},
                                       "evaluating the original", progress));
  advanced_layer_ = layer;
  return absl::OkStatus();
}

absl::StatusOr<LayerQuality> EvaluationStreams::EvaluateLayer(model::CausalLm& model, int layer,
                                                              const model::Weights& quantized_weights,
                                                              LayerQuantizers& quantizers,
                                                              Progress& progress) {
  if (advanced_layer_ != layer) {
    return absl::InternalError(absl::StrCat("evaluation of layer ", layer,
                                            " before the original stream reached it"));
  }
  const model::LayerHooks quantized = QuantizedHooks(quantizers);
  RelativeError own, accumulated;
  const int total = static_cast<int>(original_.size());
  for (size_t i = 0; i < original_.size(); ++i) {
    WRING_RETURN_IF_ERROR(interrupt::CheckNotInterrupted());
    const int sample = static_cast<int>(i);
    const torch::Tensor& input = original_inputs_[i];
    const torch::Tensor& reference = original_[i];
    WRING_ASSIGN_OR_RETURN(torch::Tensor local,
                           model.DecoderLayerForward(layer, quantized_weights, input, quantized));
    WRING_RETURN_IF_ERROR(quantizers.hook_error);
    WRING_RETURN_IF_ERROR(finite::CheckLayerOutput(model, layer, quantized_weights, input, local,
                                                   quantized, {"evaluation", sample, true}));
    WRING_ASSIGN_OR_RETURN(torch::Tensor compressed, model.DecoderLayerForward(layer, quantized_weights,
                                                                               compressed_[i], quantized));
    WRING_RETURN_IF_ERROR(quantizers.hook_error);
    WRING_RETURN_IF_ERROR(finite::CheckLayerOutput(model, layer, quantized_weights, compressed_[i], compressed,
                                                   quantized, {"evaluation", sample, true}));
    compressed_[i] = std::move(compressed);
    own.Add(local, reference);
    accumulated.Add(compressed_[i], reference);
    progress.Sample(layer, "evaluating", static_cast<int>(i) + 1, total);
  }
  original_inputs_.clear();
  const std::string what = absl::StrCat("layer ", layer, " evaluation errors");
  WRING_RETURN_IF_ERROR(own.SumOverRanks(*collectives_, what));
  WRING_RETURN_IF_ERROR(accumulated.SumOverRanks(*collectives_, what));
  LayerQuality quality;
  quality.layer = layer;
  quality.output_relative_error = own.Value();
  quality.accumulated_relative_error = accumulated.Value();
  return quality;
}

absl::Status EvaluationStreams::Finish(model::CausalLm& model, CalibrationResult& result) {
  Perplexity original, compressed;
  for (size_t i = 0; i < ids_.size(); ++i) {
    WRING_ASSIGN_OR_RETURN(torch::Tensor reference, model.Logits(original_[i]));
    WRING_ASSIGN_OR_RETURN(torch::Tensor quantized, model.Logits(compressed_[i]));
    original.Add(reference, ids_[i]);
    compressed.Add(quantized, ids_[i]);
  }
  WRING_RETURN_IF_ERROR(original.SumOverRanks(*collectives_, "perplexity"));
  WRING_RETURN_IF_ERROR(compressed.SumOverRanks(*collectives_, "perplexity"));
  result.original_perplexity = original.Value();
  result.compressed_perplexity = compressed.Value();
  result.evaluation_tokens = original.tokens();
  return absl::OkStatus();
}

}  // namespace pipeline
}  // namespace backend
}  // namespace wring
