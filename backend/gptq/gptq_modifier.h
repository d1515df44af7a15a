// GPTQModifier as a modifier of the sequential pipeline
// (pipeline/layer_modifier.h): the QuantizationMixin consumer that updates
// weights itself instead of letting observers freeze them.
//
// The job creates it while preparing the run, so its refusals come before
// any weight loads. In each decoder layer it accumulates the Hessian of
// every Linear it targets during the calibration pass (hessians.h), and at
// the layer's sequential epoch end, in recipe order with the other
// modifiers, it fixes each module's weight qparams from the weight as it is
// then (the weight observer, as upstream's on_sequential_epoch_end), runs
// GPTQ (quantize_modules.h) and replaces the weights by the fake-quantized
// ones; the pipeline propagates the next layer's inputs through them and
// compresses them with the fixed qparams. Its report lists every module's
// loss as upstream's CompressionLogger logs it and the modules that fell
// back to round-to-nearest.
#ifndef WRING_BACKEND_GPTQ_GPTQ_MODIFIER_H_
#define WRING_BACKEND_GPTQ_GPTQ_MODIFIER_H_

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/gptq/gptq.h"
#include "backend/gptq/quantize_modules.h"
#include "backend/pipeline/compression_plan.h"
#include "backend/pipeline/layer_modifier.h"
#include "mapping/proto/recipe.pb.h"

namespace wring {
namespace backend {
namespace gptq {

struct ModuleLoss {
  std::string name;
  int layer = 0;
  double loss = 0;
  bool rtn_fallback = false;
};

class GptqModifier final : public pipeline::LayerModifier {
 public:
  // `modifier` is one of plan.gptq (the modifier keeps what it needs of
  // `plan`). Fails (naming `recipe_name` and the field) where upstream
  // raises before calibrating or where wring cannot run it.
  // `upstream_factorization`: GptqOptions::upstream_factorization.
  static absl::StatusOr<std::unique_ptr<GptqModifier>> Create(const pipeline::CompressionPlan& plan,
                                                              const recipe::GptqModifier& modifier,
                                                              const std::string& recipe_name,
                                                              bool upstream_factorization = false);

  std::string name() const override { return "GPTQModifier"; }
  absl::StatusOr<std::unique_ptr<pipeline::LayerCalibration>> StartLayer(
      const pipeline::LayerContext& context, const model::Weights& weights) override;
  pipeline::ModifierReport Report() const override;
  // Hessians (and their sample counts) are summed over the workers.
  bool CombinesAcrossWorkers() const override { return true; }

  // The Linears this modifier quantizes, in named_modules() order.
  const std::vector<std::string>& targets() const { return targets_; }
  const GptqOptions& options() const { return options_; }
  const BatchedQuantization& batching() const { return batching_; }
  // Every module quantized so far, in module order, and what upstream
  // would log while quantizing ("Quantizing N module(s): [...]").
  const std::vector<ModuleLoss>& modules() const { return modules_; }
  const std::vector<std::string>& log() const { return log_; }
  // _log_rtn_fallback_summary's warning; empty when none fell back.
  std::string RtnFallbackWarning() const;

 private:
  friend class GptqLayer;
  GptqModifier(std::vector<std::string> targets, std::set<std::string> ordered,
               GptqOptions options, BatchedQuantization batching)
      : targets_(std::move(targets)), ordered_(std::move(ordered)), options_(options),
        batching_(batching) {}

  std::vector<std::string> targets_;
  // The targets whose scheme asks for activation ordering.
  std::set<std::string> ordered_;
  GptqOptions options_;
  BatchedQuantization batching_;
  std::vector<ModuleLoss> modules_;
  std::vector<std::string> log_;
};

}  // namespace gptq
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_GPTQ_GPTQ_MODIFIER_H_
