#include "backend/job/model_families.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mapping/base/status_macros.h"
#include "mapping/model/moe_linearize.h"

namespace wring {
namespace backend {
namespace job {
namespace {

// Why `config` is not a Llama-shaped dense decoder (empty when it is).
std::string NotLlamaShaped(const model::ModelConfig& config) {
  std::string why;
  for (const model::LayerBlocks& blocks : config.layers) {
    if (blocks.mixer == model::TokenMixer::kLinearAttention) why = "Gated DeltaNet linear-attention layers";
    if (blocks.feed_forward == model::FeedForward::kSparseMoe) why = "mixture-of-experts layers";
  }
  if (config.fused_qkv || config.fused_gate_up) why = "fused qkv_proj / gate_up_proj projections";
  if (config.norm_style != model::NormStyle::kWeight) why = "zero-centred (1 + w) norms";
  if (config.attention_output_gate) why = "an attention output gate";
  return why;
}

}  // namespace

absl::Status LinearizeForPlan(mapping::ModelInput& model) {
  return mapping::LinearizeFusedExperts(model).status();
}

absl::Status CheckCompressVerified(const model::ModelConfig& config, const std::string& config_path) {
  // The one list that names families: what families_job_test and the dense
  // job tests verify against oneshot.
  static constexpr const char* kVerified[] = {"llama",        "mistral",          "qwen2",   "qwen3",
                                              "qwen3_moe",    "qwen2_moe",        "mixtral", "qwen3_next",
                                              "qwen3_5_text", "qwen3_5_moe_text", "phi3",    "gemma3_text"};
  for (const char* type : kVerified) {
    if (config.model_type == type) return absl::OkStatus();
  }
  const std::string architecture = config.architectures.empty() ? "" : config.architectures.front() + ", ";
  return absl::UnimplementedError(absl::StrCat(
      config_path, ": `wring compress` does not compress ", architecture, "model_type \"", config.model_type,
      "\" yet: its forward matches transformers, but its compressed checkpoint is not verified against "
      "llm-compressor's oneshot. Verified: ", absl::StrJoin(kVerified, ", "),
      ". Compress this model with llm-compressor itself (`wring check` still checks the recipe against it)"));
}

absl::Status CheckSpinQuantSupported(const model::ModelConfig& config, const std::string& recipe_path) {
  const std::string why = NotLlamaShaped(config);
  if (why.empty()) return absl::OkStatus();
  return absl::UnimplementedError(absl::StrCat(
      recipe_path, ": SpinQuantModifier on model_type \"", config.model_type, "\" (", why,
      "): llm-compressor's SpinQuant mappings cover Llama-shaped dense decoders only, and on this family "
      "its rotations either fail or change what the model computes. Remove the SpinQuantModifier, or "
      "compress a Llama, Mistral, Qwen2 or Qwen3 model"));
}

absl::Status CheckComparedOnDenseOnly(const model::ModelConfig& config, const std::string& recipe_path,
                                      const std::string& modifier_type) {
  const std::string why = NotLlamaShaped(config);
  if (why.empty()) return absl::OkStatus();
  // What families_job_test compares with oneshot beyond the dense decoders.
  struct Verified {
    const char* modifier;
    const char* model_type;
  };
  static constexpr Verified kVerified[] = {{"GPTQModifier", "qwen3_moe"}};
  for (const Verified& v : kVerified) {
    if (modifier_type == v.modifier && config.model_type == v.model_type) return absl::OkStatus();
  }
  return absl::UnimplementedError(absl::StrCat(
      recipe_path, ": ", modifier_type, " on model_type \"", config.model_type, "\" (", why,
      ") is not run by `wring compress` yet: its output has been compared with llm-compressor's "
      "only on Llama-shaped dense decoders. Run this recipe with llm-compressor, or compress a "
      "Llama, Mistral, Qwen2 or Qwen3 model"));
}

absl::Status CheckPassthroughNotTargeted(const model::CausalLm& model, const pipeline::CompressionPlan& plan) {
  for (const std::string& name : model.PassthroughTensorNames()) {
    const std::string module = name.substr(0, name.rfind('.'));
    if (plan.FindLinear(module) == nullptr) continue;
    return absl::UnimplementedError(absl::StrCat(
        "module '", module, "' is targeted for quantization, but it is outside the language model (",
        model.config().module_prefix, "layers), which is all `wring compress` quantizes; add \"re:",
        module.substr(0, module.find('.', module.find('.') + 1)), ".*\" to the modifier's ignore list, as "
        "llm-compressor's examples do for the vision tower"));
  }
  return absl::OkStatus();
}

absl::Status ToSavedLayout(model::CausalLm& model, std::vector<safetensors::TensorToWrite>& tensors,
                           mapping::Json& config) {
  const model::ModelConfig& c = model.config();
  for (safetensors::TensorToWrite& t : tensors) {
    WRING_ASSIGN_OR_RETURN(t.tensor, model.StoredConvention(t.name, t.tensor));
    t.name = model::SavedName(c, t.name);
  }
  for (const std::string& name : model.PassthroughTensorNames()) {
    WRING_ASSIGN_OR_RETURN(torch::Tensor tensor, model.GetTensor(name));
    tensors.push_back({name, std::move(tensor)});
  }
  mapping::Json* quantization = config.contains("quantization_config") ? &config["quantization_config"] : nullptr;
  if (quantization != nullptr && quantization->contains("ignore") && (*quantization)["ignore"].is_array()) {
    for (mapping::Json& entry : (*quantization)["ignore"]) {
      if (entry.is_string()) entry = model::SavedName(c, entry.get<std::string>());
    }
  }
  return absl::OkStatus();
}

}  // namespace job
}  // namespace backend
}  // namespace wring
