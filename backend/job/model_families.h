// The parts of `wring compress` that depend on what kind of model runs
// (mixture of experts, hybrid attention, zero-centred norms, a vision
// tower), kept out of the job's main flow. Each answers from the backend's
// ModelConfig; only CheckCompressVerified names families.
#ifndef WRING_BACKEND_JOB_MODEL_FAMILIES_H_
#define WRING_BACKEND_JOB_MODEL_FAMILIES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "backend/model/causal_lm.h"
#include "backend/model/config.h"
#include "backend/pipeline/compression_plan.h"
#include "backend/safetensors/writer.h"
#include "mapping/base/json.h"
#include "mapping/model/model_input.h"

namespace wring {
namespace backend {
namespace job {

// The module tree the plan is made on, with fused experts linearized as
// llm-compressor's oneshot does (registration order of its LinearExperts2D,
// which is the order of quantization_config's ignore list).
absl::Status LinearizeForPlan(mapping::ModelInput& model);

// OK for the model types whose compressed checkpoints the job tests compare
// with llm-compressor's oneshot (the dense families, Qwen3-MoE, Qwen2-MoE,
// Mixtral, Qwen3-Next, Qwen3.5 and Qwen3.5-MoE's language models, Phi3,
// Gemma3: today every family the backend runs forward). A family added to
// the backend's forward later is Unimplemented, naming its architecture,
// before any weight loads, until it is verified too: unverified output is
// never written.
absl::Status CheckCompressVerified(const model::ModelConfig& config, const std::string& config_path);

// llm-compressor's SpinQuant mappings fit the Llama-shaped dense decoder
// only (its registries name Llama and Cohere2-MoE; everything else silently
// gets Llama's, which does not preserve the function of a mixture of
// experts, hybrid attention, fused projections or zero-centred norms).
// Unimplemented, naming the model type, for any other block layout.
absl::Status CheckSpinQuantSupported(const model::ModelConfig& config, const std::string& recipe_path);

// GPTQModifier and SmoothQuantModifier (`modifier_type`) are compared with
// oneshot on the dense families, and GPTQ on Qwen3-MoE, only so far:
// Unimplemented, naming the modifier and the model type, for any other
// block layout.
absl::Status CheckComparedOnDenseOnly(const model::ModelConfig& config, const std::string& recipe_path,
                                      const std::string& modifier_type);

// Checkpoint tensors the language model does not use (a vision tower) are
// copied unchanged; a recipe that targets one of them for quantization is
// refused (before any weight is read), naming the module and the fix.
absl::Status CheckPassthroughNotTargeted(const model::CausalLm& model, const pipeline::CompressionPlan& plan);

// The tensors and quantization_config as llm-compressor's save_pretrained
// writes them for this model: module names through the family's save-time
// renames (Mixtral's block_sparse_moe), zero-centred norm weights back from
// the calibration convention, the unused checkpoint tensors appended.
absl::Status ToSavedLayout(model::CausalLm& model, std::vector<safetensors::TensorToWrite>& tensors,
                           mapping::Json& config);

}  // namespace job
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_JOB_MODEL_FAMILIES_H_
