// The tensors compressed-tensors 0.18 saves for one quantized Linear /
// Embedding weight, named and typed as its compressors write them.
//
// Upstream's compressors (pack_quantized, naive/int/float quantized) replace
// a module's `weight` (and its weight_scale / weight_zero_point) by the
// compressed state dict; vLLM loads checkpoints by exactly these names,
// dtypes and shapes:
//   pack-quantized   W.weight_packed  int32 (rows, ceil(cols*b/32))
//                    W.weight_scale   weight dtype; (1,), (rows, 1) or
//                                     (rows, cols/group_size)
//                    W.weight_shape   int64 [rows, cols]
//                    W.weight_zero_point  asymmetric only: int32 packed along
//                                     dim 0 for group / channel, the plain
//                                     int8 (1,) tensor for tensor strategy
//   int-quantized,   W.weight         int8 (int) or F8_E4M3 (float)
//   float-quantized, W.weight_scale
//   naive-quantized  W.weight_zero_point  int8, asymmetric only
// Symmetric schemes carry no zero point (upstream's _remove_symmetric_zp).
//
// Scales come from the scheme's weight observer (backend/observe:
// memoryless_minmax or memoryless_mse, after llm-compressor's rewrite of
// minmax / static_minmax / mse), i.e. round-to-nearest quantization, unless
// the caller hands in precomputed qparams (from GPTQ, AWQ, ...). Block
// strategy (FP8_BLOCK) writes weight_scale (ceil(rows/bh), ceil(cols/bw)).
// Static activation parameters (input_scale, k_scale, ...) come from
// calibration (backend/observe) and are named by ActivationQParamTensors.
#ifndef WRING_BACKEND_COMPRESS_COMPRESSED_MODULE_H_
#define WRING_BACKEND_COMPRESS_COMPRESSED_MODULE_H_

#include <torch/torch.h>

#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "backend/quantize/quantize.h"
#include "backend/safetensors/writer.h"
#include "mapping/quantization/compression_format.h"
#include "mapping/quantization/quantization_args.h"
#include "mapping/quantization/quantization_scheme.h"

namespace wring {
namespace backend {
namespace compress {

// The backend's view of validated weight args. Fails (naming the field) for
// what the backend does not compute yet: strategies other than tensor /
// channel / group / block, scale_dtype, actorder "group" (weight_g_idx), a
// non-int8 zero-point dtype, and observers other than the min/max and mse
// families.
absl::StatusOr<quantize::QuantizationArgs> ToBackendWeightArgs(const mapping::QuantizationArgs& args);

// Quantizes `weight` (2-D [rows, cols], bf16 / fp16 / fp32) of module
// `module_name` with `scheme.weights` and returns its compressed tensors in
// `format` (the module's resolved format, see
// mapping::ResolveModuleFormat): pack-, int-, float- or naive-quantized.
// Names are "<module_name>.<suffix>"; the tensor order carries no meaning
// (the safetensors writer keeps it, upstream's library sorts).
// `qparams`, when given, replaces the observer: scale (weight dtype) and
// zero point (int8) shaped for the strategy, e.g. from an mse observer run
// elsewhere or from GPTQ.
absl::StatusOr<std::vector<safetensors::TensorToWrite>> CompressWeight(
    absl::string_view module_name, const torch::Tensor& weight, const mapping::QuantizationScheme& scheme,
    mapping::CompressionFormat format, const std::optional<quantize::QParams>& qparams = std::nullopt);

// The calibrated activation parameters of one module as compressed-tensors
// saves them: "<module_name>.<base_name>_scale" (base_name "input", "output",
// "k", "v"; scale as calibrated, in the module's dtype) and, for asymmetric
// args only, "<module_name>.<base_name>_zero_point" (int8; fp8 zero points as
// F8_E4M3). Linear: base "input"; attention (self_attn): "k" and "v".
absl::StatusOr<std::vector<safetensors::TensorToWrite>> ActivationQParamTensors(
    absl::string_view module_name, absl::string_view base_name, const quantize::QParams& qparams,
    const mapping::QuantizationArgs& args);

}  // namespace compress
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_COMPRESS_COMPRESSED_MODULE_H_
