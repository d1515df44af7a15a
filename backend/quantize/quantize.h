// compressed-tensors' quantization arithmetic for weights: the memoryless
// min/max observer, scale / zero-point computation, and (fake) quantization.
//
// Each function reproduces, operation by operation and in the same dtypes,
// compressed-tensors 0.18:
//   ObserveMinMax      llm-compressor observers (flatten_for_calibration +
//                      memoryless_minmax: amin/amax over each slot)
//   CalculateQParams   quantization/utils/helpers.py::calculate_qparams
//   Quantize / Dequantize / FakeQuantize
//                      quantization/lifecycle/forward.py (+ forward_helpers)
// Being op-for-op identical matters because scales are computed in the
// weight's dtype (bf16 rounding at each step), int rounding is half-to-even,
// and the symmetric int scale is absmax / ((qmax - qmin) / 2), so the
// positive extreme maps to qmax + 0.5 and is clamped.
//
// Covered: int (2..8 bits, symmetric / asymmetric) and fp8 e4m3 (emulated on
// LibTorch without float8), strategies tensor / channel / group (groups run
// along the last, input-column dimension), block (2-D weights, zero-padded to
// whole blocks, as FP8_BLOCK's [128, 128]), and for activations token (per
// token, dynamic only) and attn_head (KV cache, scale (heads, 1, 1)). Not
// covered yet: tensor_group (NVFP4 global scales), MX scales, scale_dtype,
// actorder.
#ifndef WRING_BACKEND_QUANTIZE_QUANTIZE_H_
#define WRING_BACKEND_QUANTIZE_QUANTIZE_H_

#include <torch/torch.h>

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace wring {
namespace backend {
namespace quantize {

enum class QuantizationType { kInt, kFloat };

enum class QuantizationStrategy { kTensor, kChannel, kGroup, kBlock, kToken, kAttnHead };

// The subset of compressed-tensors' QuantizationArgs the functions here read.
struct QuantizationArgs {
  int num_bits = 8;
  QuantizationType type = QuantizationType::kInt;
  bool symmetric = true;
  QuantizationStrategy strategy = QuantizationStrategy::kTensor;
  int64_t group_size = 0;  // > 0 exactly when strategy == kGroup
  // block_structure [rows, cols]: > 0 exactly when strategy == kBlock.
  int64_t block_rows = 0;
  int64_t block_cols = 0;
};

// Rejects argument combinations this module does not implement, naming the
// field and what would work.
absl::Status ValidateArgs(const QuantizationArgs& args);

// The quantized range: int b bits -> [-2^(b-1), 2^(b-1) - 1]; fp8 -> +-448.
struct QuantizedRange {
  double min = 0;
  double max = 0;
};
absl::StatusOr<QuantizedRange> CalculateRange(const QuantizationArgs& args);

struct MinMax {
  torch::Tensor min;  // in the observed tensor's dtype, shaped like the scale
  torch::Tensor max;
};

// Per-slot min and max of a weight (rows, cols): tensor -> (1,),
// channel -> (rows, 1), group -> (rows, cols / group_size), block ->
// (ceil(rows / block_rows), ceil(cols / block_cols)) over the zero-padded
// weight. Token and attn_head do not apply to weights.
absl::StatusOr<MinMax> ObserveMinMax(const torch::Tensor& weight, const QuantizationArgs& args);

struct QParams {
  torch::Tensor scale;       // dtype of the observed values
  torch::Tensor zero_point;  // int8 for int args; for fp8 args the e4m3fn
                             // values (native float8 dtype where LibTorch has
                             // it, else the observed dtype holding them)
};

// calculate_qparams: zero is always made representable, scales of 0 become
// the dtype's eps, zero points are rounded (half to even) and clamped to
// their dtype. A zero point that comes out NaN (asymmetric all-zero slot:
// 0/0) is stored as 0, which is what PyTorch's NaN-to-int8 cast produces on
// x86 and CUDA; any in-range value dequantizes that slot to exact zeros.
absl::StatusOr<QParams> CalculateQParams(const torch::Tensor& min_vals, const torch::Tensor& max_vals,
                                         const QuantizationArgs& args);

// ObserveMinMax + CalculateQParams: what a memoryless_minmax weight
// observer produces for `weight`.
absl::StatusOr<QParams> ComputeWeightQParams(const torch::Tensor& weight, const QuantizationArgs& args);

// compute_dynamic_scales_and_zp: qparams of activation `x` computed on the
// fly. token: one per position of the first two dims (x [B, T, H] -> scale
// [B, T, 1]); tensor: (1,); group: [..., ceil(H / group_size)]. Other
// strategies cannot be dynamic.
absl::StatusOr<QParams> ComputeDynamicQParams(const torch::Tensor& x, const QuantizationArgs& args);

// x / scale (+ zero point), clamped to the range and rounded (int: half to
// even; fp8: to the nearest e4m3fn value). The result keeps x's dtype
// unless `dtype` is given (torch::kChar for int values to pack).
absl::StatusOr<torch::Tensor> Quantize(const torch::Tensor& x, const QParams& qparams, const QuantizationArgs& args,
                                       std::optional<torch::Dtype> dtype = std::nullopt);

// (q - zero point) * scale, in the scale's dtype unless `dtype` is given.
absl::StatusOr<torch::Tensor> Dequantize(const torch::Tensor& q, const QParams& qparams,
                                         const QuantizationArgs& args,
                                         std::optional<torch::Dtype> dtype = std::nullopt);

// Quantize then dequantize in one pass, as compressed-tensors' fused
// _quantize_dequantize (no integer intermediate); result in x's dtype.
absl::StatusOr<torch::Tensor> FakeQuantize(const torch::Tensor& x, const QParams& qparams,
                                           const QuantizationArgs& args);

}  // namespace quantize
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_QUANTIZE_QUANTIZE_H_
