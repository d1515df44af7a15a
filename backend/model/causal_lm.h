// A Hugging Face decoder-only causal LM of any family config.h describes,
// read from its checkpoint directory one decoder layer at a time.
//
// Compression calibrates layer by layer (llm-compressor's sequential
// pipeline), so the whole model never has to sit on the device: Embed turns
// token ids into hidden states, DecoderLayerForward runs one layer with the
// weights LoadLayerWeights (or the caller, e.g. after quantizing them)
// provides, and Logits applies the final norm and lm_head. The math mirrors
// transformers' eager attention path in the model dtype (see
// internal/decoder_math.h and internal/blocks.h); LayerHooks expose what
// llm-compressor's hooks observe: every Linear's input (experts linearized
// as oneshot does) and the attention's key/value states.
#ifndef WRING_BACKEND_MODEL_CAUSAL_LM_H_
#define WRING_BACKEND_MODEL_CAUSAL_LM_H_

#include <torch/torch.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/model/config.h"
#include "backend/safetensors/reader.h"

namespace wring {
namespace backend {
namespace model {
namespace internal {
class CheckpointLayout;
}  // namespace internal

// Full parameter name ("model.layers.3.mlp.down_proj.weight") -> tensor on
// the model's device, in the model dtype.
using Weights = std::map<std::string, torch::Tensor>;

// A sparse MoE block's routing: the top-k weights, and per expert its
// top-k slots and token rows, with the tokens gathered for it and their
// weights once the forward has needed them.
struct MoeRouting {
  torch::Tensor top_weights;  // [N, top_k]
  std::vector<torch::Tensor> slots, token_rows, expert_tokens, expert_weights;
};

// A routing kept from one forward for the next: AWQ's grid search runs the
// same block on the same input once per candidate while the router stays as
// it is. Filled and checked by the block itself; a caller only creates one
// and hands it over in LayerHooks.
struct MoeRoutingCache {
  std::string block;            // the block's layer prefix
  torch::Tensor tokens;         // [N, hidden], the input the routing is for
  torch::Tensor router_weight;  // the router weight it used
  int64_t router_version = -1;  // and that weight's version counter
  MoeRouting routing;
};

struct LayerHooks {
  // Called with each Linear's (and MoE router's) input just before its
  // matmul; returns the tensor actually fed to it (same shape). Identity when unset. q/k/v
  // projections and gate/up projections are called separately, like
  // forward-pre-hooks on each nn.Linear.
  std::function<torch::Tensor(const std::string& linear_name, const torch::Tensor& input)> linear_input;
  // Called with the key and value states after RoPE and before the GQA
  // repeat ([B, kv_heads, T, head_dim]), as transformers' cache.update sees
  // them; returns the pair attention actually uses (same shapes). Identity
  // when unset. attention_name is e.g. "model.layers.3.self_attn".
  std::function<std::pair<torch::Tensor, torch::Tensor>(const std::string& attention_name, const torch::Tensor& key,
                                                        const torch::Tensor& value)>
      key_value;
  // Called with the query and key states after RoPE ([B, heads, T,
  // head_dim] and [B, kv_heads, T, head_dim]), before key_value; returns the
  // pair attention uses (same shapes). Identity when unset.
  std::function<std::pair<torch::Tensor, torch::Tensor>(const std::string& attention_name, const torch::Tensor& query,
                                                        const torch::Tensor& key)>
      query_key;
  // The weight a Linear multiplies by in place of its stored one, or an
  // undefined tensor for the stored one; same shape. For a half-precision
  // model on the CPU it may be float32 holding the dtype's values: the CPU
  // matmul computes in float32 anyway, so no conversion is made. AWQ's grid
  // search hands each candidate weight here as the forward reaches it.
  std::function<absl::StatusOr<torch::Tensor>(const std::string& linear_name)> linear_weight;
  // llm-compressor's moe_calibrate_all_experts: every expert's Linears see
  // every token of the layer (so their hooks do), while the layer output
  // still uses only each token's routed experts.
  bool moe_calibrate_all_experts = false;
  // When set, a sparse MoE block takes its routing from here if the cache
  // holds one for equal tokens and the same, unchanged router weight, and
  // stores the first one it computes. Never used while linear_input is set
  // or linear_weight replaces the router, which could see or change it.
  std::shared_ptr<MoeRoutingCache> moe_routing;
};

// The most rows (tokens) a forward stacks from several samples
// (CausalLm::DecoderLayerForwardSamples, AWQ's token-wise parents): enough
// for every routed expert of a sparse block to see a few hundred tokens per
// matrix product, few enough that a dense MLP's intermediate activations
// stay a few hundred megabytes.
inline constexpr int64_t kMaxStackedRows = 4096;

// Consecutive runs [begin, end) of `samples` (each [..., features], one
// feature width) whose rows together stay within `max_rows`; a sample
// larger than that is a run of its own, and so is one of another width.
std::vector<std::pair<size_t, size_t>> StackableRuns(const std::vector<torch::Tensor>& samples,
                                                     int64_t max_rows = kMaxStackedRows);

// One run's samples as a single [rows, features] tensor, and a result of
// that back into one piece per sample, each shaped like its sample but with
// the result's feature width. Throw (c10::Error) on mismatched shapes.
torch::Tensor StackRows(const std::vector<torch::Tensor>& samples);
std::vector<torch::Tensor> SplitRows(const torch::Tensor& stacked, const std::vector<torch::Tensor>& samples);

// Whether a Linear with this (stored) weight computes in float32 from a
// float32 copy of it, so that LayerHooks::linear_weight may hand it float32
// values directly: a bf16 or fp16 weight on the CPU, but for a bf16 one
// where the AMX tiles multiply it (cpu_kernels/bf16_linear.h).
bool LinearComputesInFloat32(const torch::Tensor& weight);

class CausalLm {
 public:
  ~CausalLm();
  // Reads <model_dir>/config.json and opens the safetensors checkpoint
  // (model.safetensors or a sharded index). Checks the embedding, final norm,
  // (untied) lm_head and every decoder layer's tensors (names, shapes,
  // dtypes; experts per expert, fused or in Mixtral's names) against the
  // config from the headers, before any weight is read. Rejects checkpoints
  // that already carry a quantization_config.
  static absl::StatusOr<std::unique_ptr<CausalLm>> Open(const std::string& model_dir, torch::Device device);

  const ModelConfig& config() const { return config_; }
  const std::string& model_dir() const { return model_dir_; }
  torch::Device device() const { return device_; }

  // Decoder layer `layer`'s parameters (names as DecoderLayerModules gives
  // them), copied to the device in the model dtype (floating checkpoint
  // tensors of another dtype are cast, as from_pretrained(dtype="auto")
  // does). The error lists every missing or unexpected tensor and every
  // shape or dtype that does not fit the config.
  absl::StatusOr<Weights> LoadLayerWeights(int layer);
  // Once a layer is done: lets the kernel reclaim the memory pages of its
  // tensors in the mapped checkpoint (they are read again if used).
  void ReleaseLayerPages(int layer);

  // [B, T] integer token ids (any device) -> [B, T, hidden] on the device.
  absl::StatusOr<torch::Tensor> Embed(const torch::Tensor& input_ids);

  // One decoder layer on hidden [B, T, hidden] (model dtype, on the device),
  // positions 0..T-1 with a causal mask (sliding where the config says so).
  // `weights` must hold the layer's parameters with the config's shapes.
  absl::StatusOr<torch::Tensor> DecoderLayerForward(int layer, const Weights& weights, const torch::Tensor& hidden,
                                                    const LayerHooks& hooks = {});

  // DecoderLayerForward without hooks of several samples (one of
  // StackableRuns' runs): each sample's token mixer on its own, the
  // feed-forward block once on all their tokens stacked, whose tokens are
  // independent, so a sparse block's experts see several samples' tokens per
  // matrix product. The outputs of one DecoderLayerForward per sample, up to
  // the BLAS's accumulation order.
  absl::StatusOr<std::vector<torch::Tensor>> DecoderLayerForwardSamples(int layer, const Weights& weights,
                                                                        const std::vector<torch::Tensor>& hidden);

  // One part of decoder layer `layer` on its own input, as AWQ evaluates a
  // mapping's parent: "<layer>.self_attn" or "<layer>.linear_attn" on the
  // input norm's output, "<layer>.mlp" (dense or sparse) on the feed-forward
  // norm's output, a gated MLP inside it ("<layer>.mlp.shared_expert",
  // "<layer>.mlp.experts.3"), or a Linear ("<layer>.self_attn.o_proj") on
  // its input.
  absl::StatusOr<torch::Tensor> SubmoduleForward(int layer, const Weights& weights, const std::string& module,
                                                 const torch::Tensor& input, const LayerHooks& hooks = {});

  // Replaces a stored tensor outside the decoder layers (embedding, final
  // norm, lm_head) for Embed, Logits and GetTensor, e.g. after a rotation
  // was fused into it. Overriding lm_head.weight of a tied model unties it.
  void OverrideTensor(const std::string& name, torch::Tensor value);

  // Applied by LoadLayerWeights to every layer it loads (e.g. fusing norms
  // and rotations), so every pass sees the transformed weights.
  using LayerWeightsTransform = std::function<absl::Status(int layer, Weights& weights)>;
  void SetLayerWeightsTransform(LayerWeightsTransform transform) { layer_transform_ = std::move(transform); }

  // Applied to a Linear's input in every DecoderLayerForward and
  // SubmoduleForward before LayerHooks::linear_input sees it (e.g. SpinQuant's
  // online R4 rotation, which upstream registers as a forward-pre-hook
  // prepended to the quantization hooks, so observers see rotated inputs).
  // Returns the input unchanged for Linears it does not transform.
  using LinearInputTransform =
      std::function<absl::StatusOr<torch::Tensor>(const std::string& linear, const torch::Tensor& input)>;
  void SetLinearInputTransform(LinearInputTransform transform) { input_transform_ = std::move(transform); }

  // Applied to the query and key states after RoPE in every forward, before
  // LayerHooks::query_key and key_value see them (SpinQuant's R3: upstream's
  // q_attn / k_cache transforms, registered before the kv-cache observers).
  using AttentionStateTransform = std::function<absl::StatusOr<std::pair<torch::Tensor, torch::Tensor>>(
      const std::string& attention, const torch::Tensor& query, const torch::Tensor& key)>;
  void SetAttentionStateTransform(AttentionStateTransform transform) { state_transform_ = std::move(transform); }

  // llm-compressor's norm_calibration_context, which oneshot holds for the
  // whole calibration: zero-centred norms (Gemma, Qwen3-Next, Qwen3.5) run as
  // standard norms whose weight is (1 + w) rounded to the model dtype, so AWQ
  // smooths them like any norm; they are written back as (weight - 1)
  // (StoredConvention). Layers loaded afterwards and the final norm use it;
  // a no-op for families without zero-centred norms.
  void UseCalibrationNorms();
  // `value` of checkpoint tensor `name` as the checkpoint convention stores
  // it: undoes UseCalibrationNorms for zero-centred norm weights, else
  // returns `value`.
  absl::StatusOr<torch::Tensor> StoredConvention(const std::string& name, const torch::Tensor& value) const;

  // Final norm and lm_head (the embedding when tied): [B, T, hidden] ->
  // [B, T, vocab] in the model dtype, as transformers returns them.
  absl::StatusOr<torch::Tensor> Logits(const torch::Tensor& hidden);

  // Embed, every layer (each loaded in turn), Logits.
  absl::StatusOr<torch::Tensor> Forward(const torch::Tensor& input_ids);

  // The checkpoint tensors outside decoder layers that the model uses:
  // <prefix>embed_tokens.weight, <prefix>norm.weight and, when untied,
  // lm_head.weight.
  std::vector<std::string> NonLayerTensorNames() const;

  // Checkpoint tensors the language model does not use (a vision tower):
  // to be written unchanged.
  const std::vector<std::string>& PassthroughTensorNames() const;

  // Any checkpoint tensor as stored (CPU, checkpoint dtype), e.g. to copy
  // unquantized tensors to the output.
  absl::StatusOr<torch::Tensor> GetTensor(const std::string& name);

 private:
  // `hooks` with input_transform_ and state_transform_ run first; their
  // first failure is stored in `error` (hooks cannot return a status).
  LayerHooks WithModelTransforms(const LayerHooks& hooks, absl::Status& error) const;
  CausalLm(std::string model_dir, torch::Device device, ModelConfig config,
           std::unique_ptr<safetensors::SafetensorsCheckpoint> checkpoint);
  std::string EmbedName() const { return config_.module_prefix + "embed_tokens.weight"; }
  std::string NormName() const { return config_.module_prefix + "norm.weight"; }

  absl::Status CheckNonLayerTensors();
  absl::StatusOr<torch::Tensor> StoredTensor(const std::string& name);
  absl::Status CheckLayerWeights(int layer, const Weights& weights, const torch::Device& device,
                                 absl::string_view operation) const;
  // A checkpoint tensor with `expected` shape, on the device in the model dtype.
  absl::StatusOr<torch::Tensor> LoadToDevice(const std::string& name, const std::vector<int64_t>& expected);
  absl::Status CheckHidden(const torch::Tensor& hidden, absl::string_view operation) const;

  std::string model_dir_;
  torch::Device device_;
  ModelConfig config_;
  std::unique_ptr<safetensors::SafetensorsCheckpoint> checkpoint_;
  std::unique_ptr<internal::CheckpointLayout> layout_;
  bool calibration_norms_ = false;
  // Whether `name` is the weight of a zero-centred norm.
  bool IsZeroCenteredNormWeight(const std::string& name) const;
  std::map<std::string, torch::Tensor> overrides_;
  LayerWeightsTransform layer_transform_;
  LinearInputTransform input_transform_;
  AttentionStateTransform state_transform_;
};

}  // namespace model
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_MODEL_CAUSAL_LM_H_
