// Which on-disk compression format compressed-tensors picks for a quantized
// module (compressors/format.py): the first entry of
// COMPRESSION_FORMAT_PRIORITY whose compressor accepts the module's type and
// scheme, and the single model-level format summarizing all modules.
#ifndef WRING_MAPPING_QUANTIZATION_FORMAT_INFERENCE_H_
#define WRING_MAPPING_QUANTIZATION_FORMAT_INFERENCE_H_

#include <vector>

#include "mapping/quantization/compression_format.h"
#include "mapping/quantization/quantization_scheme.h"
#include "mapping/tree/module_tree.h"

namespace wring {
namespace mapping {

// COMPRESSION_FORMAT_PRIORITY: mxfp4-pack, mxfp8, nvfp4-pack, int, pack,
// float, naive, dense.
const std::vector<CompressionFormat>& CompressionFormatPriority();

// Upstream tests `type(module) in (Linear, Embedding)`: the exact classes,
// not subclasses.
bool IsCompressibleModuleType(const Module& module);

// infer_module_format(type(module), scheme), ignoring scheme.format.
CompressionFormat InferModuleFormat(bool compressible_module_type,
                                    const QuantizationScheme& scheme);

// The format a quantized module ends up with in infer_model_format: a global
// override wins, then the scheme's own `format`, then inference.
CompressionFormat ResolveModuleFormat(bool compressible_module_type,
                                      const QuantizationScheme& scheme,
                                      const absl::optional<CompressionFormat>& override_format);

// _flatten_formats over the modules' formats: dense when there is none
// (dense modules are left out), the one format, else mixed-precision.
CompressionFormat SummarizeModelFormat(const std::vector<CompressionFormat>& module_formats);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_QUANTIZATION_FORMAT_INFERENCE_H_
