// llm-compressor's SpinQuantModifier on a CausalLm, reproducing what
// on_calibration_start does to the weights (llmcompressor 0.14 /
// compressed-tensors 0.19), so the calibration pipeline sees exactly the
// model upstream calibrates:
//
//   1. untie_word_embeddings: a tied lm_head becomes its own copy of the
//      embedding (config.json then says tie_word_embeddings: false);
//   2. center_embeddings: every embedding row minus its mean, in float64
//      (note: with RMSNorm this changes the model's outputs; upstream does it
//      anyway, so wring does too);
//   3. fuse_norm_linears for each NormMapping set (input_layernorm -> q/k/v,
//      post_attention_layernorm -> gate/up, model.norm -> lm_head): Linear
//      weight * norm weight over input columns in float64, rounded to the
//      model dtype; the norm weight becomes ones;
//   4. apply_transform_config: schemes in R1, R2, R3, R4 order, each
//      scheme's apply entries in order, modules in named_modules() order (the
//      mapping core's PlanTransforms gives exactly this order; each fusion
//      rounds to the model dtype, so the order matters bit-wise):
//        R1 (block transform_block_size, else hidden size): weight_output on
//           embed_tokens (W @ T), o_proj and down_proj (T^T @ W, biases too);
//           inverse weight_input on q/k/v, up/gate and lm_head (W @ T);
//        R2 (block head_dim): weight_output on v_proj (rows, per head, with
//           the bias), inverse weight_input on o_proj (columns, per head);
//        R4 (block transform_block_size, else intermediate size): online on
//           down_proj's input (x @ T in the scheme's precision), inverse
//           weight_input fused into down_proj;
//        R3 (block head_dim): online on every attention's query and key
//           states after RoPE (q_attn, k_cache), before the kv cache's
//           observer; nothing is fused.
//      Fused (offline) transforms are computed in float64 whatever the
//      recipe's `precision` says (TransformScheme: "Fused (offline) rotations
//      are always performed in float64"); `precision` only sets the online
//      R4 matrix's dtype. Hadamard types divide by sqrt(block size);
//      random-matrix is applied as drawn (inverse: torch.linalg.inv in
//      float64). Block-diagonal application is _multihead_matmul's.
//
// Matrices are created per scheme in first-use order from a fresh default
// generator, keyed by (size, dtype), as each TransformFactory does (see
// hadamard.h); all of them are built in Create, so layer load order does not
// matter. randomize / learnable are rejected upstream and here.
#ifndef WRING_BACKEND_SPINQUANT_SPINQUANT_H_
#define WRING_BACKEND_SPINQUANT_SPINQUANT_H_

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/model/causal_lm.h"
#include "mapping/base/json.h"
#include "mapping/model/model_input.h"
#include "mapping/proto/recipe.pb.h"

namespace wring {
namespace backend {
namespace spinquant {

class SpinQuant {
 public:
  // on_initialize for `modifier` on `model` (its config.json tree): infers
  // the mappings, builds the TransformConfig, resolves the norm sets and
  // transform placements with the mapping core and builds every matrix.
  // Fails like upstream for sizes without a matrix, naming the module.
  static absl::StatusOr<std::unique_ptr<SpinQuant>> Create(const mapping::ModelInput& model,
                                                           const recipe::SpinQuantModifier& modifier);

  // Steps 1-4 on `model`: the embedding, final norm and lm_head are replaced
  // with OverrideTensor now; decoder layers are transformed as they are
  // loaded (SetLayerWeightsTransform), and online transforms run on their
  // Linears' inputs in every forward (SetLinearInputTransform). `this` must
  // outlive `model`'s use.
  absl::Status Apply(model::CausalLm& model) const;

  // Steps 3-4 on the tensors in `weights` (one decoder layer, or the
  // non-layer tensors). Every module of a norm set must be present together.
  absl::Status TransformWeights(model::Weights& weights) const;

  // The online transforms (R4's down_proj input, R3's query and key
  // states): whether there are any, the tensor a Linear's forward must see
  // instead of `input` (unchanged for Linears without one), and the query
  // and key states an attention must use, in their own dtypes.
  bool has_online_transforms() const { return !online_order_.empty(); }
  absl::StatusOr<torch::Tensor> OnlineInput(const std::string& linear, const torch::Tensor& input) const;
  absl::StatusOr<std::pair<torch::Tensor, torch::Tensor>> OnlineQueryKey(const std::string& attention,
                                                                         const torch::Tensor& query,
                                                                         const torch::Tensor& key) const;
  // What save_pretrained writes for the online transforms:
  // "<module>.<scheme>_<location>.weight", the unnormalized matrix in the scheme's
  // precision. Upstream registers the later modules' matrices as tied to the
  // first module's, so only the first is listed here (checked against
  // upstream with one decoder layer only).
  std::vector<std::pair<std::string, torch::Tensor>> OnlineTransformTensors() const;

  // The TransformConfig's model_dump(), for quantization_config's
  // "transform_config" in config.json.
  const mapping::Json& transform_config() const { return transform_config_json_; }

  // What compressed-tensors' update_config writes when nothing is quantized:
  // quantization_config = {quant_method, sparsity_config, transform_config,
  // version}.
  mapping::Json QuantizationConfigWithoutQuantization() const;

  struct Operation;  // internal: a norm fusion or a transform on one tensor

 private:
  SpinQuant() = default;

  std::vector<std::pair<std::string, std::string>> norm_fusions_;  // (linear, norm)
  std::vector<std::string> norms_;
  std::vector<std::shared_ptr<const Operation>> transforms_;       // application order
  std::vector<std::pair<std::string, std::shared_ptr<const Operation>>> online_order_;
  std::map<std::string, std::shared_ptr<const Operation>> online_;  // linear -> transform
  std::map<std::string, std::shared_ptr<const Operation>> query_;   // attention -> transform
  std::map<std::string, std::shared_ptr<const Operation>> key_;     // attention -> transform
  std::string embedding_;                                            // module name
  mapping::Json transform_config_json_;
};

}  // namespace spinquant
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_SPINQUANT_SPINQUANT_H_
