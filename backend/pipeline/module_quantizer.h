// The QuantizationMixin lifecycle for one module, as the sequential pipeline
// drives it: observe during calibration, freeze, then fake-quantize (for the
// quality report) and compress (for the checkpoint).
//
// llm-compressor attaches observers and calibration hooks at
// calibration start, observes weights and updates every qparam at each
// sequential epoch end (the end of a decoder layer), and freezes at
// calibration end. Quantization stays disabled during calibration, so the
// activations observed and propagated are the unquantized model's.
#ifndef WRING_BACKEND_PIPELINE_MODULE_QUANTIZER_H_
#define WRING_BACKEND_PIPELINE_MODULE_QUANTIZER_H_

#include <torch/torch.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "backend/observe/args.h"
#include "backend/observe/observer.h"
#include "backend/pipeline/compression_plan.h"
#include "backend/quantize/quantize.h"
#include "backend/safetensors/writer.h"
#include "mapping/quantization/quantization_args.h"

namespace wring {
namespace backend {
namespace pipeline {

// A Linear layer with a weight and/or input-activation scheme.
class LinearQuantizer {
 public:
  // `weight` fixes the dtype and column count of the activation parameters.
  static absl::StatusOr<std::unique_ptr<LinearQuantizer>> Create(const PlannedModule& module,
                                                                 const torch::Tensor& weight);
  virtual ~LinearQuantizer() = default;

  const std::string& name() const { return name_; }

  // calibrate_input_hook: a static input scheme's observer sees `input`.
  virtual absl::Status ObserveInput(const torch::Tensor& input) = 0;
  // The static input scheme's observer (empty otherwise), whose statistics
  // data-parallel workers combine before Freeze.
  virtual std::vector<observe::Observer*> ActivationObservers() const = 0;
  // Sequential epoch end + freeze: weight qparams from `weight` (unless
  // ObserveWeight fixed them), activation qparams from what was observed.
  absl::Status Freeze(const torch::Tensor& weight);
  // The two halves of Freeze, for module-parallel workers: the weight
  // qparams (nullopt without a weight scheme; the fixed ones after
  // ObserveWeight), computed by one rank ...
  virtual absl::StatusOr<std::optional<quantize::QParams>> ComputeWeightQParams(
      const torch::Tensor& weight) const = 0;
  // ... and the freeze every rank does with them.
  virtual absl::Status FreezeWith(const torch::Tensor& weight,
                                  std::optional<quantize::QParams> weight_qparams) = 0;
  // The weight arguments; nullopt when the scheme leaves the weight alone.
  virtual const std::optional<observe::ObservedArgs>& weight_args() const = 0;
  // A modifier that quantizes the weight itself (GPTQ): the weight
  // observer's qparams from `weight`, fixed; Freeze then keeps them for the
  // weight it is given (the modifier's quantized one), as upstream observes
  // the weight before GPTQ changes it.
  virtual absl::StatusOr<quantize::QParams> ObserveWeight(const torch::Tensor& weight) = 0;
  // After Freeze: what the quantized module computes with.
  virtual absl::StatusOr<torch::Tensor> FakeQuantizedWeight() const = 0;
  virtual absl::StatusOr<torch::Tensor> FakeQuantizeInput(const torch::Tensor& input) const = 0;
  // After Freeze: the tensors replacing `<name>.weight` in the checkpoint.
  virtual absl::StatusOr<std::vector<safetensors::TensorToWrite>> CompressedTensors() const = 0;

 protected:
  explicit LinearQuantizer(std::string name) : name_(std::move(name)) {}

 private:
  std::string name_;
};

// An attention module's kv_cache_scheme: k_scale / v_scale from the key and
// value states after RoPE.
class KvCacheQuantizer {
 public:
  // `attention_dtype`: the dtype of the attention module's parameters.
  static absl::StatusOr<std::unique_ptr<KvCacheQuantizer>> Create(
      const std::string& attention_name, const mapping::QuantizationArgs& args,
      torch::Dtype attention_dtype, int64_t num_kv_heads, int64_t head_dim);
  virtual ~KvCacheQuantizer() = default;

  virtual absl::Status Observe(const torch::Tensor& key, const torch::Tensor& value) = 0;
  // The key and value observers of a static scheme (empty otherwise).
  virtual std::vector<observe::Observer*> Observers() const = 0;
  virtual absl::Status Freeze() = 0;
  virtual absl::StatusOr<std::pair<torch::Tensor, torch::Tensor>> FakeQuantize(
      const torch::Tensor& key, const torch::Tensor& value) const = 0;
  virtual absl::StatusOr<std::vector<safetensors::TensorToWrite>> Tensors() const = 0;
};

}  // namespace pipeline
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_PIPELINE_MODULE_QUANTIZER_H_
