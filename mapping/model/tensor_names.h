// Derives a model's module tree from its checkpoint's tensor names (and
// shapes, when the safetensors headers were read), for users who have the
// checkpoint but cannot run Python to dump named_modules().
//
// Rules (every inference is recorded in ModelInput::notes):
// - Modules: `a.b.weight` is a parameter of module `a.b`; every prefix is a
//   module; a module whose children are indices ("0", "1") is a ModuleList.
// - Classes, with shapes:
//   * a `weight` of rank 2 -> Linear (in = shape[1], out = shape[0]), except
//     embedding names (embed_tokens, wte, wpe, word_embeddings, ...) ->
//     Embedding, and a `gate` beside an `experts` sibling -> "TopKRouter"
//     (transformers 5 routers are not Linear, so W4A16's "Linear" target
//     does not take them);
//   * a `weight` of rank 1 -> "RMSNorm" ("LayerNorm" when it has a bias);
//   * a `weight` of rank 3 / 4 -> Conv1d / Conv2d;
//   * 3-D `gate_up_proj`/`up_proj` + `down_proj` parameters held directly
//     -> "FusedExperts" (what moe_linearize.h expands);
//   * `weight_packed` / `qweight` (quantized checkpoints) -> Linear with
//     unknown features;
//   * anything else -> "Module".
// - Without shapes (an index alone), names decide: embedding names ->
//   Embedding, *norm / ln_* -> RMSNorm, `gate` beside `experts` ->
//   TopKRouter, names containing "conv" -> Conv1d, any other holder of a
//   `weight` -> Linear with features -1.
// - The root's class is config.architectures[0] (or "" when unknown).
// - Order: checkpoints store names alphabetically, so named_modules() order
//   is not in the input. Siblings are ordered: indices numerically first,
//   then common Hugging Face attribute names in their usual registration
//   order (model, embed_tokens, layers, self_attn, q/k/v/o_proj, mlp,
//   gate/up/down_proj, input_layernorm, ..., norm, lm_head), then the rest
//   alphabetically with digit runs compared numerically. Parameters follow
//   their module in that order (weight, bias, then the rest as given).
// - Tied embeddings: when config.tie_word_embeddings is true and the
//   checkpoint has no lm_head, an `lm_head` Linear is added after the
//   embedding's shape, since the model registers one.
#ifndef WRING_MAPPING_MODEL_TENSOR_NAMES_H_
#define WRING_MAPPING_MODEL_TENSOR_NAMES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "mapping/base/json.h"
#include "mapping/model/model_input.h"

namespace wring {
namespace mapping {

struct NamedTensor {
  std::string name;
  std::vector<int64_t> shape;
  bool shape_known = true;  // false for names that come from an index only
};

// `config` is config.json's content (or an empty object). `source` names the
// input in messages. source_kind is "safetensors" when every shape is known,
// else "safetensors-index".
absl::StatusOr<ModelInput> ModelFromTensorNames(absl::Span<const NamedTensor> tensors,
                                                const Json& config, absl::string_view source);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_MODEL_TENSOR_NAMES_H_
