// The `quantization_config` object llm-compressor writes into config.json
// when it saves a compressed model (the compressed-tensors release
// tools/reference pins).
//
// Upstream rebuilds this object from the schemes attached to the modules
// (QuantizationConfig.from_pretrained + infer_model_format) instead of
// copying the recipe, so the result depends on the model tree: config groups
// are the distinct schemes in named_modules() order, and `ignore` lists the
// concrete names of unquantized modules whose class was quantized elsewhere
// (the recipe's own ignore patterns are not saved). ModelCompressor.
// update_config then adds version / quant_method / sparsity_config /
// transform_config and json.dump(sort_keys=True) orders every object's keys.
#ifndef WRING_BACKEND_COMPRESS_QUANTIZATION_CONFIG_H_
#define WRING_BACKEND_COMPRESS_QUANTIZATION_CONFIG_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "mapping/base/json.h"
#include "mapping/check/reference_versions.h"
#include "mapping/quantization/apply.h"
#include "mapping/quantization/compression_format.h"
#include "mapping/tree/module_tree.h"

namespace wring {
namespace backend {
namespace compress {

struct QuantizationConfigOptions {
  // save_pretrained(quantization_format=...): one format for every
  // quantized module instead of the inferred ones.
  absl::optional<mapping::CompressionFormat> override_format;
  // compressed_tensors.__version__ of the release wring reproduces.
  std::string version = mapping::kCompressedTensorsVersion;
  // The attention modules carry compressed-tensors' hooked attention
  // implementation (SpinQuant's R3 installs it for its q_attn transform).
  // from_pretrained then counts an attention holding the kv-cache scheme as
  // attention quantization: its scheme becomes a config group too.
  bool hooked_attention = false;
};

// compressed-tensors' get_vllm_module_type: MoE gate / router classes
// (names containing Router, Gating, or Gate not followed by a lower-case
// letter, but not ExpertMLP) count as "Linear" for the ignore list; other
// classes keep their name.
std::string VllmModuleType(absl::string_view class_name);

// The quantization_config object, keys sorted recursively, for a model whose
// modules hold `assignments` (as AssignSchemes produced them on `tree`)
// after compression. nullopt when no module is quantized, where upstream
// leaves config.json without a quantization_config.
absl::optional<mapping::Json> BuildQuantizationConfig(
    const mapping::ModuleTree& tree, const mapping::SchemeAssignments& assignments,
    const QuantizationConfigOptions& options = {});

// A copy of `value` with every object's keys in ascending code-point order,
// as Python's json.dump(sort_keys=True) writes them.
mapping::Json SortKeysRecursively(const mapping::Json& value);

}  // namespace compress
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_COMPRESS_QUANTIZATION_CONFIG_H_
