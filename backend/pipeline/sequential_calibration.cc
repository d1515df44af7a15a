#include "backend/pipeline/sequential_calibration.h"

#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <utility>

#include "absl/memory/memory.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "backend/awq/awq.h"
#include "backend/awq/awq_plan.h"
#include "backend/awq/search_flops.h"
#include "backend/base/torch_errors.h"
#include "backend/pipeline/module_quantizer.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace pipeline {
namespace {

// Sums for ||a - b||^2 / ||b||^2 over many samples.
struct RelativeError {
  double diff = 0;
  double reference = 0;
  void Add(const torch::Tensor& value, const torch::Tensor& reference_value) {
    const torch::Tensor r = reference_value.to(torch::kFloat64);
    diff += (value.to(torch::kFloat64) - r).pow(2).sum().item<double>();
    reference += r.pow(2).sum().item<double>();
  }
  double Value() const { return reference > 0 ? diff / reference : 0; }
};

// Token NLL sums for perplexity: next-token prediction over each sequence.
struct Perplexity {
  double nll = 0;
  int64_t tokens = 0;
  void Add(const torch::Tensor& logits, const torch::Tensor& ids) {
    const int64_t length = ids.size(1);
    if (length < 2) return;
    const torch::Tensor log_probs =
        torch::log_softmax(logits.slice(1, 0, length - 1).to(torch::kFloat32), -1);
    const torch::Tensor targets = ids.slice(1, 1, length).unsqueeze(-1);
    nll -= log_probs.gather(-1, targets).sum().item<double>();
    tokens += length - 1;
  }
  double Value() const { return tokens > 0 ? std::exp(nll / tokens) : 0; }
};

std::string LayerPrefix(int layer) { return absl::StrCat("model.layers.", layer, "."); }

// The quantizers of one decoder layer, keyed by module name.
struct LayerQuantizers {
  std::map<std::string, std::unique_ptr<LinearQuantizer>> linears;
  std::map<std::string, std::unique_ptr<KvCacheQuantizer>> kv_caches;
  // Hooks cannot return a Status; the first failure is kept here and
  // checked after every forward.
  absl::Status hook_error;

  void Note(const absl::Status& status) {
    if (hook_error.ok() && !status.ok()) hook_error = status;
  }
};

// What AWQModifier's hooks collect during one layer's calibration pass:
// the x statistic of each mapping and the inputs of each parent module, or,
// for a Linear parent scored by the Gram form, only their Gram matrix.
class AwqLayer {
 public:
  // A Linear parent that is its mapping's only balance layer is scored by
  // the Gram form when that needs fewer FLOPs than a forward per candidate
  // (more calibration tokens than the Linear has inputs, roughly) and
  // `options` allow it.
  static absl::StatusOr<std::unique_ptr<AwqLayer>> Create(
      const std::vector<awq::PlannedMapping>& mappings, const awq::AwqOptions& options,
      const model::ModelConfig& config, const model::Weights& weights,
      const std::vector<int64_t>& sample_tokens) {
    auto layer = absl::WrapUnique(new AwqLayer(mappings, options, sample_tokens));
    WRING_ASSIGN_OR_RETURN(const std::vector<awq::GridPoint> grid, awq::GridSearchParams(options));
    const int points = static_cast<int>(grid.size());
    for (const awq::PlannedMapping& m : mappings) {
      bool gram = options.linear_parent_loss != awq::LinearParentLoss::kForward &&
                  awq::HasLinearParentShortcut(m.mapping);
      if (gram && options.linear_parent_loss == awq::LinearParentLoss::kCheaper) {
        WRING_ASSIGN_OR_RETURN(const double with_gram,
                               awq::GridSearchFlops(config, m.mapping, weights, sample_tokens, points, true));
        WRING_ASSIGN_OR_RETURN(const double with_forward,
                               awq::GridSearchFlops(config, m.mapping, weights, sample_tokens, points, false));
        gram = with_gram < with_forward;
      }
      // A parent shared with a mapping that needs its outputs keeps its inputs.
      auto [it, inserted] = layer->gram_parent_.emplace(m.mapping.parent, gram);
      if (!inserted) it->second = it->second && gram;
    }
    return layer;
  }

  absl::Status Observe(const std::string& linear, const torch::Tensor& input) {
    for (size_t i = 0; i < mappings_.size(); ++i) {
      if (mappings_[i].statistic_input == linear) WRING_RETURN_IF_ERROR(stats_[i].Add(input));
    }
    for (const auto& [parent, parent_linear] : parent_input_) {
      if (parent_linear != linear) continue;
      if (gram_parent_.at(parent)) {
        WRING_RETURN_IF_ERROR(grams_[parent].Add(input));
      } else {
        parent_inputs_[parent].push_back(input);
      }
    }
    return absl::OkStatus();
  }

  // AWQModifier's sequential epoch end: each mapping in turn on the weights
  // the previous one left.
  absl::Status Smooth(model::CausalLm& model, int layer, model::Weights& weights,
                      std::vector<AwqMappingQuality>& out) {
    const awq::ParentForward forward = [&model, layer](const std::string& parent,
                                                       const model::Weights& w,
                                                       const torch::Tensor& input) {
      return model.SubmoduleForward(layer, w, parent, input);
    };
    WRING_ASSIGN_OR_RETURN(const std::vector<awq::GridPoint> grid, awq::GridSearchParams(options_));
    for (size_t i = 0; i < mappings_.size(); ++i) {
      const awq::LayerMapping& mapping = mappings_[i].mapping;
      const bool gram = gram_parent_.at(mapping.parent);
      WRING_ASSIGN_OR_RETURN(const double flops,
                             awq::GridSearchFlops(model.config(), mapping, weights, sample_tokens_,
                                                  static_cast<int>(grid.size()), gram));
      const auto start = std::chrono::steady_clock::now();
      WRING_ASSIGN_OR_RETURN(
          awq::MappingResult r,
          gram ? awq::SmoothLinearParentMapping(mapping, options_, stats_[i], grams_[mapping.parent],
                                                weights)
               : awq::SmoothMapping(mapping, options_, stats_[i], parent_inputs_[mapping.parent],
                                    forward, weights));
      AwqMappingQuality q;
      q.search_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      q.search_flops = flops;
      q.loss = gram ? "gram" : "forward";
      q.smooth_layer = r.smooth;
      q.parent = r.parent;
      q.skipped = r.skipped.value_or("");
      q.best_ratio = r.best.ratio;
      q.best_duo_scaling = r.best.duo_scaling;
      q.initial_error = r.initial_error;
      q.best_error = r.best_error;
      q.scales = r.scales;
      out.push_back(std::move(q));
    }
    return absl::OkStatus();
  }

 private:
  AwqLayer(const std::vector<awq::PlannedMapping>& mappings, const awq::AwqOptions& options,
           const std::vector<int64_t>& sample_tokens)
      : mappings_(mappings), options_(options), sample_tokens_(sample_tokens), stats_(mappings.size()) {
    for (const awq::PlannedMapping& m : mappings) parent_input_[m.mapping.parent] = m.parent_input;
  }

  const std::vector<awq::PlannedMapping>& mappings_;
  const awq::AwqOptions& options_;
  // Tokens per calibration sample: every parent sees each sample once.
  const std::vector<int64_t>& sample_tokens_;
  std::vector<awq::ActivationStats> stats_;
  std::map<std::string, std::string> parent_input_;  // parent -> Linear sharing its input
  std::map<std::string, bool> gram_parent_;          // parent -> scored by the Gram form
  std::map<std::string, std::vector<torch::Tensor>> parent_inputs_;
  std::map<std::string, awq::LinearGram> grams_;
};

absl::StatusOr<LayerQuantizers> CreateLayerQuantizers(const CompressionPlan& plan,
                                                      const model::ModelConfig& config, int layer,
                                                      const model::Weights& weights) {
  LayerQuantizers q;
  const std::string prefix = LayerPrefix(layer);
  for (const PlannedModule& module : plan.linears) {
    if (!absl::StartsWith(module.name, prefix)) continue;
    auto weight = weights.find(module.name + ".weight");
    if (weight == weights.end()) {
      return absl::NotFoundError(absl::StrCat("the checkpoint has no weight for planned module '",
                                              module.name, "'"));
    }
    WRING_ASSIGN_OR_RETURN(q.linears[module.name], LinearQuantizer::Create(module, weight->second));
  }
  for (const auto& [name, args] : plan.kv_cache) {
    if (!absl::StartsWith(name, prefix)) continue;
    WRING_ASSIGN_OR_RETURN(q.kv_caches[name],
                           KvCacheQuantizer::Create(name, args, config.dtype,
                                                    config.num_key_value_heads, config.head_dim));
  }
  return q;
}

model::LayerHooks CalibrationHooks(LayerQuantizers& q, AwqLayer* awq) {
  model::LayerHooks hooks;
  hooks.linear_input = [&q, awq](const std::string& name, const torch::Tensor& input) {
    auto it = q.linears.find(name);
    if (it != q.linears.end()) q.Note(it->second->ObserveInput(input));
    if (awq != nullptr) q.Note(awq->Observe(name, input));
    return input;
  };
  hooks.key_value = [&q](const std::string& name, const torch::Tensor& k, const torch::Tensor& v) {
    auto it = q.kv_caches.find(name);
    if (it != q.kv_caches.end()) q.Note(it->second->Observe(k, v));
    return std::make_pair(k, v);
  };
  return hooks;
}

model::LayerHooks QuantizedHooks(LayerQuantizers& q) {
  model::LayerHooks hooks;
  hooks.linear_input = [&q](const std::string& name, const torch::Tensor& input) {
    auto it = q.linears.find(name);
    if (it == q.linears.end()) return input;
    auto quantized = it->second->FakeQuantizeInput(input);
    q.Note(quantized.status());
    return quantized.ok() ? *quantized : input;
  };
  hooks.key_value = [&q](const std::string& name, const torch::Tensor& k, const torch::Tensor& v) {
    auto it = q.kv_caches.find(name);
    if (it == q.kv_caches.end()) return std::make_pair(k, v);
    auto quantized = it->second->FakeQuantize(k, v);
    q.Note(quantized.status());
    return quantized.ok() ? *quantized : std::make_pair(k, v);
  };
  return hooks;
}

absl::StatusOr<std::vector<torch::Tensor>> EmbedAll(model::CausalLm& model,
                                                    const std::vector<torch::Tensor>& ids) {
  std::vector<torch::Tensor> hidden;
  hidden.reserve(ids.size());
  for (const torch::Tensor& sample : ids) {
    WRING_ASSIGN_OR_RETURN(torch::Tensor h, model.Embed(sample));
    hidden.push_back(std::move(h));
  }
  return hidden;
}

class Calibration {
 public:
  Calibration(model::CausalLm& model, const CompressionPlan& plan, Progress& progress)
      : model_(model), plan_(plan), progress_(progress) {}

  absl::StatusOr<CalibrationResult> Run(const TokenSequences& calibration,
                                        const TokenSequences& evaluation) {
    const torch::Device device = model_.device();
    for (const auto& s : calibration) {
      calibration_ids_.push_back(ToTensor(s, device));
      calibration_tokens_.push_back(static_cast<int64_t>(s.size()));
    }
    for (const auto& s : evaluation) evaluation_ids_.push_back(ToTensor(s, device));
    WRING_ASSIGN_OR_RETURN(calibration_hidden_, EmbedAll(model_, calibration_ids_));
    WRING_ASSIGN_OR_RETURN(original_hidden_, EmbedAll(model_, evaluation_ids_));
    WRING_ASSIGN_OR_RETURN(awq_, awq::PlanAwq(plan_, model_.config(), plan_.recipe_name));
    if (awq_.has_value()) {
      awq_->options.linear_parent_loss = plan_.awq_linear_parent_loss;
      for (const std::string& line : awq_->log) progress_.Message(line);
    }
    compressed_hidden_ = original_hidden_;

    const int num_layers = static_cast<int>(model_.config().num_hidden_layers);
    for (int layer = 0; layer < num_layers; ++layer) {
      WRING_RETURN_IF_ERROR(RunLayer(layer));
      progress_.LayerDone(layer);
    }
    WRING_RETURN_IF_ERROR(AddNonLayerTensors());
    WRING_RETURN_IF_ERROR(Evaluate());
    progress_.Finish();
    return std::move(result_);
  }

 private:
  static torch::Tensor ToTensor(const std::vector<int64_t>& ids, const torch::Device& device) {
    return torch::tensor(ids, torch::kInt64).reshape({1, -1}).to(device);
  }

  absl::Status RunLayer(int layer) {
    WRING_ASSIGN_OR_RETURN(model::Weights weights, model_.LoadLayerWeights(layer));
    WRING_ASSIGN_OR_RETURN(LayerQuantizers q,
                           CreateLayerQuantizers(plan_, model_.config(), layer, weights));

    // With AWQ the calibration pass only observes: the next layer's inputs
    // come from the propagation pass through the smoothed weights.
    const model::Weights original_weights = weights;
    std::unique_ptr<AwqLayer> awq_layer;
    if (awq_.has_value() && awq_->layers.count(layer) > 0) {
      WRING_ASSIGN_OR_RETURN(awq_layer,
                             AwqLayer::Create(awq_->layers.at(layer), awq_->options,
                                              model_.config(), weights, calibration_tokens_));
    }
    const model::LayerHooks calibrate = CalibrationHooks(q, awq_layer.get());
    for (size_t i = 0; i < calibration_hidden_.size(); ++i) {
      WRING_ASSIGN_OR_RETURN(torch::Tensor output,
                             model_.DecoderLayerForward(layer, weights, calibration_hidden_[i],
                                                        calibrate));
      if (awq_layer == nullptr) calibration_hidden_[i] = std::move(output);
      WRING_RETURN_IF_ERROR(q.hook_error);
      progress_.Sample(layer, "calibrating", static_cast<int>(i) + 1);
    }
    if (awq_layer != nullptr) {
      WRING_RETURN_IF_ERROR(awq_layer->Smooth(model_, layer, weights, result_.awq));
      awq_layer.reset();  // the cached parent inputs
      // Upstream's propagating pass: quantization disabled, smoothed weights.
      for (size_t i = 0; i < calibration_hidden_.size(); ++i) {
        WRING_ASSIGN_OR_RETURN(calibration_hidden_[i],
                               model_.DecoderLayerForward(layer, weights, calibration_hidden_[i]));
        progress_.Sample(layer, "propagating", static_cast<int>(i) + 1);
      }
    }

    LayerQuality quality;
    quality.layer = layer;
    model::Weights quantized_weights = weights;
    for (auto& [name, quantizer] : q.linears) {
      const std::string weight_name = name + ".weight";
      const torch::Tensor& weight = weights.at(weight_name);
      WRING_RETURN_IF_ERROR(quantizer->Freeze(weight));
      WRING_ASSIGN_OR_RETURN(torch::Tensor fake, quantizer->FakeQuantizedWeight());
      RelativeError weight_error;
      weight_error.Add(fake, weight);
      quality.linears.push_back({name, weight_error.Value()});
      quantized_weights[weight_name] = fake;
      WRING_ASSIGN_OR_RETURN(std::vector<safetensors::TensorToWrite> tensors,
                             quantizer->CompressedTensors());
      for (auto& t : tensors) result_.tensors.push_back(std::move(t));
    }
    for (auto& [name, quantizer] : q.kv_caches) {
      WRING_RETURN_IF_ERROR(quantizer->Freeze());
      WRING_ASSIGN_OR_RETURN(std::vector<safetensors::TensorToWrite> tensors, quantizer->Tensors());
      for (auto& t : tensors) result_.tensors.push_back(std::move(t));
    }
    // Every parameter not replaced by compressed tensors is written as is.
    for (const auto& [name, tensor] : weights) {
      const std::string module = name.substr(0, name.rfind('.'));
      if (absl::EndsWith(name, ".weight") && q.linears.count(module) > 0) continue;
      result_.tensors.push_back({name, tensor.to(torch::kCPU)});
    }

    const model::LayerHooks quantized = QuantizedHooks(q);
    RelativeError own, accumulated;
    for (size_t i = 0; i < original_hidden_.size(); ++i) {
      WRING_ASSIGN_OR_RETURN(torch::Tensor reference,
                             model_.DecoderLayerForward(layer, original_weights, original_hidden_[i]));
      WRING_ASSIGN_OR_RETURN(torch::Tensor local, model_.DecoderLayerForward(
                                                      layer, quantized_weights,
                                                      original_hidden_[i], quantized));
      WRING_ASSIGN_OR_RETURN(compressed_hidden_[i],
                             model_.DecoderLayerForward(layer, quantized_weights,
                                                        compressed_hidden_[i], quantized));
      WRING_RETURN_IF_ERROR(q.hook_error);
      own.Add(local, reference);
      accumulated.Add(compressed_hidden_[i], reference);
      original_hidden_[i] = reference;
      progress_.Sample(layer, "evaluating", static_cast<int>(i) + 1);
    }
    quality.output_relative_error = own.Value();
    quality.accumulated_relative_error = accumulated.Value();
    result_.layers.push_back(std::move(quality));
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
      WRING_ASSIGN_OR_RETURN(torch::Tensor tensor, model_.GetTensor(name));
      result_.tensors.push_back({name, tensor});
    }
    return absl::OkStatus();
  }

  absl::Status Evaluate() {
    Perplexity original, compressed;
    for (size_t i = 0; i < evaluation_ids_.size(); ++i) {
      WRING_ASSIGN_OR_RETURN(torch::Tensor reference, model_.Logits(original_hidden_[i]));
      WRING_ASSIGN_OR_RETURN(torch::Tensor quantized, model_.Logits(compressed_hidden_[i]));
      original.Add(reference, evaluation_ids_[i]);
      compressed.Add(quantized, evaluation_ids_[i]);
    }
    result_.original_perplexity = original.Value();
    result_.compressed_perplexity = compressed.Value();
    result_.evaluation_tokens = original.tokens;
    return absl::OkStatus();
  }

  model::CausalLm& model_;
  const CompressionPlan& plan_;
  Progress& progress_;
  std::vector<torch::Tensor> calibration_ids_, evaluation_ids_;
  std::vector<int64_t> calibration_tokens_;  // per calibration sample
  std::vector<torch::Tensor> calibration_hidden_, original_hidden_, compressed_hidden_;
  absl::optional<awq::AwqPlan> awq_;
  CalibrationResult result_;
};

}  // namespace

absl::StatusOr<CalibrationResult> RunSequentialCalibration(model::CausalLm& model,
                                                           const CompressionPlan& plan,
                                                           const TokenSequences& calibration,
                                                           const TokenSequences& evaluation,
                                                           Progress& progress) {
  if (calibration.empty()) {
    return absl::InvalidArgumentError(
        "no calibration samples: the dataset gave none (check --dataset and --num-samples)");
  }
  return CatchTorchErrors("sequential calibration", [&]() -> absl::StatusOr<CalibrationResult> {
    torch::NoGradGuard no_grad;
    Calibration calibration_run(model, plan, progress);
    return calibration_run.Run(calibration, evaluation);
  });
}

}  // namespace pipeline
}  // namespace backend
}  // namespace wring
