#include "backend/pipeline/module_quantizer.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "backend/base/torch_errors.h"
#include "backend/compress/compressed_module.h"
#include "backend/observe/activation_calibrator.h"
#include "backend/observe/args.h"
#include "backend/observe/kv_cache_calibrator.h"
#include "backend/observe/observer.h"
#include "backend/quantize/quantize.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace pipeline {
namespace {

absl::Status NotFrozen(const std::string& name) {
  return absl::FailedPreconditionError(absl::StrCat(name, ": used before Freeze()"));
}

class ObservedLinear final : public LinearQuantizer {
 public:
  ObservedLinear(const PlannedModule& module, std::optional<observe::ObservedArgs> weight_args,
                 std::unique_ptr<observe::ActivationCalibrator> inputs)
      : LinearQuantizer(module.name),
        module_(module),
        weight_args_(std::move(weight_args)),
        inputs_(std::move(inputs)) {}

  absl::Status ObserveInput(const torch::Tensor& input) override {
    if (inputs_ == nullptr) return absl::OkStatus();
    return inputs_->Observe(input);
  }

  const std::optional<observe::ObservedArgs>& weight_args() const override { return weight_args_; }

  absl::StatusOr<quantize::QParams> ObserveWeight(const torch::Tensor& weight) override {
    if (!weight_args_.has_value()) {
      return absl::FailedPreconditionError(absl::StrCat(name(), ": its scheme has no weights"));
    }
    WRING_ASSIGN_OR_RETURN(weight_qparams_,
                           observe::ComputeWeightQParams(weight, weight_args_->quantize,
                                                         weight_args_->observer,
                                                         weight_args_->observer_kwargs));
    weight_observed_ = true;
    return *weight_qparams_;
  }

  std::vector<observe::Observer*> ActivationObservers() const override {
    if (inputs_ == nullptr) return {};
    return inputs_->Observers();
  }

  absl::StatusOr<std::optional<quantize::QParams>> ComputeWeightQParams(
      const torch::Tensor& weight) const override {
    if (!weight_args_.has_value()) return std::optional<quantize::QParams>();
    // Fixed before GPTQ changed the weight.
    if (weight_observed_) return weight_qparams_;
    WRING_ASSIGN_OR_RETURN(quantize::QParams qparams,
                           observe::ComputeWeightQParams(weight, weight_args_->quantize,
                                                         weight_args_->observer,
                                                         weight_args_->observer_kwargs));
    return std::optional<quantize::QParams>(std::move(qparams));
  }

  absl::Status FreezeWith(const torch::Tensor& weight,
                          std::optional<quantize::QParams> weight_qparams) override {
    weight_ = weight;
    if (weight_args_.has_value() != weight_qparams.has_value()) {
      return absl::InternalError(absl::StrCat(name(), ": weight qparams ",
                                              weight_qparams.has_value() ? "given to" : "missing for",
                                              " a module ",
                                              weight_args_.has_value() ? "with" : "without",
                                              " a weight scheme"));
    }
    weight_qparams_ = std::move(weight_qparams);
    if (inputs_ != nullptr && !inputs_->is_dynamic()) {
      WRING_ASSIGN_OR_RETURN(input_qparams_, inputs_->Freeze());
    }
    frozen_ = true;
    return absl::OkStatus();
  }

  // Computed on each call, not kept: held for every Linear until the layer
  // ends, the fake-quantized weights would be a second copy of the layer.
  absl::StatusOr<torch::Tensor> FakeQuantizedWeight() const override {
    if (!frozen_) return NotFrozen(name());
    if (!weight_args_.has_value()) return weight_;
    return quantize::FakeQuantize(weight_, *weight_qparams_, weight_args_->quantize);
  }

  absl::StatusOr<torch::Tensor> FakeQuantizeInput(const torch::Tensor& input) const override {
    if (!frozen_) return NotFrozen(name());
    if (inputs_ == nullptr) return input;
    return inputs_->FakeQuantize(input);
  }

  absl::StatusOr<std::vector<safetensors::TensorToWrite>> CompressedTensors() const override {
    if (!frozen_) return NotFrozen(name());
    std::vector<safetensors::TensorToWrite> tensors;
    if (weight_qparams_.has_value()) {
      WRING_ASSIGN_OR_RETURN(tensors, compress::CompressWeight(name(), weight_, module_.scheme,
                                                               module_.format, weight_qparams_));
    } else {
      tensors.push_back({absl::StrCat(name(), ".weight"), weight_});
    }
    if (input_qparams_.has_value()) {
      WRING_ASSIGN_OR_RETURN(std::vector<safetensors::TensorToWrite> scales,
                             compress::ActivationQParamTensors(name(), "input", *input_qparams_,
                                                               *module_.scheme.input_activations));
      for (auto& t : scales) tensors.push_back(std::move(t));
    }
    return tensors;
  }

 private:
  PlannedModule module_;
  std::optional<observe::ObservedArgs> weight_args_;
  std::unique_ptr<observe::ActivationCalibrator> inputs_;
  bool frozen_ = false;
  bool weight_observed_ = false;
  torch::Tensor weight_;
  std::optional<quantize::QParams> weight_qparams_;
  std::optional<quantize::QParams> input_qparams_;
};

class ObservedKvCache final : public KvCacheQuantizer {
 public:
  ObservedKvCache(std::string name, const mapping::QuantizationArgs& args,
                  std::unique_ptr<observe::KvCacheCalibrator> calibrator)
      : name_(std::move(name)), args_(args), calibrator_(std::move(calibrator)) {}

  absl::Status Observe(const torch::Tensor& key, const torch::Tensor& value) override {
    WRING_RETURN_IF_ERROR(calibrator_->ObserveKey(key));
    return calibrator_->ObserveValue(value);
  }

  std::vector<observe::Observer*> Observers() const override { return calibrator_->Observers(); }

  absl::Status Freeze() override {
    if (!calibrator_->is_dynamic()) {
      WRING_ASSIGN_OR_RETURN(qparams_, calibrator_->Freeze());
    }
    frozen_ = true;
    return absl::OkStatus();
  }

  absl::StatusOr<std::pair<torch::Tensor, torch::Tensor>> FakeQuantize(
      const torch::Tensor& key, const torch::Tensor& value) const override {
    if (!frozen_) return NotFrozen(name_);
    WRING_ASSIGN_OR_RETURN(torch::Tensor k, calibrator_->FakeQuantizeKey(key));
    WRING_ASSIGN_OR_RETURN(torch::Tensor v, calibrator_->FakeQuantizeValue(value));
    return std::make_pair(k, v);
  }

  absl::StatusOr<std::vector<safetensors::TensorToWrite>> Tensors() const override {
    if (!frozen_) return NotFrozen(name_);
    std::vector<safetensors::TensorToWrite> tensors;
    if (!qparams_.has_value()) return tensors;
    WRING_ASSIGN_OR_RETURN(tensors,
                           compress::ActivationQParamTensors(name_, "k", qparams_->key, args_));
    WRING_ASSIGN_OR_RETURN(std::vector<safetensors::TensorToWrite> values,
                           compress::ActivationQParamTensors(name_, "v", qparams_->value, args_));
    for (auto& t : values) tensors.push_back(std::move(t));
    return tensors;
  }

 private:
  std::string name_;
  mapping::QuantizationArgs args_;
  std::unique_ptr<observe::KvCacheCalibrator> calibrator_;
  bool frozen_ = false;
  std::optional<observe::KvCacheQParams> qparams_;
};

}  // namespace

absl::Status LinearQuantizer::Freeze(const torch::Tensor& weight) {
  WRING_ASSIGN_OR_RETURN(std::optional<quantize::QParams> weight_qparams,
                         ComputeWeightQParams(weight));
  return FreezeWith(weight, std::move(weight_qparams));
}

absl::StatusOr<std::unique_ptr<LinearQuantizer>> LinearQuantizer::Create(const PlannedModule& module,
                                                                          const torch::Tensor& weight) {
  std::optional<observe::ObservedArgs> weight_args;
  if (module.scheme.weights.has_value()) {
    WRING_ASSIGN_OR_RETURN(weight_args, observe::FromMappingArgs(*module.scheme.weights, "weights"));
  }
  std::unique_ptr<observe::ActivationCalibrator> inputs;
  if (module.scheme.input_activations.has_value()) {
    WRING_ASSIGN_OR_RETURN(inputs, observe::ActivationCalibrator::Create(
                                       *module.scheme.input_activations,
                                       weight.scalar_type(), weight.size(1)));
  }
  return std::unique_ptr<LinearQuantizer>(
      new ObservedLinear(module, std::move(weight_args), std::move(inputs)));
}

absl::StatusOr<std::unique_ptr<KvCacheQuantizer>> KvCacheQuantizer::Create(
    const std::string& attention_name, const mapping::QuantizationArgs& args,
    torch::Dtype attention_dtype, int64_t num_kv_heads, int64_t head_dim) {
  WRING_ASSIGN_OR_RETURN(std::unique_ptr<observe::KvCacheCalibrator> calibrator,
                         observe::KvCacheCalibrator::Create(args, attention_dtype, num_kv_heads,
                                                            head_dim));
  return std::unique_ptr<KvCacheQuantizer>(new ObservedKvCache(attention_name, args, std::move(calibrator)));
}

}  // namespace pipeline
}  // namespace backend
}  // namespace wring
