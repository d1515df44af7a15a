// Where each decoder-layer parameter of a model lives in its checkpoint.
//
// The model's parameters have the names of the modules llm-compressor
// calibrates (DecoderLayerModules: experts linearized,
// "mlp.experts.<e>.gate_proj.weight"). Checkpoints written by transformers 5
// store experts in one of three layouts, detected per layer:
//   per expert: mlp.experts.<e>.{gate,up,down}_proj.weight   (2-D)
//   fused:      mlp.experts.gate_up_proj [E, 2I, H] (gate rows first),
//               mlp.experts.down_proj [E, H, I]              (3-D)
//   Mixtral's:  block_sparse_moe.experts.<e>.{w1,w3,w2}.weight (gate, up,
//               down) and block_sparse_moe.gate.weight
// Every other parameter is stored under its own name. Building the layout
// checks every layer's names, shapes and dtypes from the headers alone, so a
// checkpoint that does not fit config.json is refused before any weight is
// read, with every problem named.
#ifndef WRING_BACKEND_MODEL_INTERNAL_CHECKPOINT_LAYOUT_H_
#define WRING_BACKEND_MODEL_INTERNAL_CHECKPOINT_LAYOUT_H_

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/model/config.h"

namespace wring {
namespace backend {
namespace model {
namespace internal {

struct TensorSource {
  std::string stored_name;
  std::vector<int64_t> shape;  // of the parameter
  // >= 0: the parameter is rows [rows_begin, rows_end) of expert `expert`
  // (index along dim 0) of a fused 3-D tensor.
  int64_t expert = -1;
  int64_t rows_begin = 0;
  int64_t rows_end = 0;
};

class CheckpointLayout {
 public:
  // A stored tensor, for its shape and dtype (memory-mapped: no data is read).
  using Lookup = std::function<absl::StatusOr<torch::Tensor>(const std::string& name)>;

  // `names`: every tensor in the checkpoint. Errors (InvalidArgument) list
  // every problem, per decoder layer, prefixed with `model_dir`.
  static absl::StatusOr<CheckpointLayout> Build(const ModelConfig& config, const std::vector<std::string>& names,
                                                const Lookup& lookup, const std::string& model_dir);

  // Parameter name -> where it is stored, for decoder layer `layer`.
  const std::map<std::string, TensorSource>& Layer(int layer) const { return layers_.at(layer); }

  // Stored tensors outside the decoder layers that the language model does
  // not use (a vision tower, ...), in checkpoint order: copied unchanged.
  const std::vector<std::string>& PassthroughNames() const { return passthrough_; }

  // The parameter `source` describes, cut from its stored tensor.
  static torch::Tensor Extract(const torch::Tensor& stored, const TensorSource& source);

 private:
  std::vector<std::map<std::string, TensorSource>> layers_;
  std::vector<std::string> passthrough_;
};

// The decoder layer a stored tensor belongs to (from "<module_prefix>layers.<i>."), or -1.
int LayerOfTensor(const ModelConfig& config, const std::string& name);

}  // namespace internal
}  // namespace model
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_MODEL_INTERNAL_CHECKPOINT_LAYOUT_H_
