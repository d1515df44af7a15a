#include "backend/quantize/quantize.h"

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "backend/base/torch_errors.h"
#include "backend/compat/torch_compat.h"
#include "backend/cpu_kernels/fake_quantize.h"
#include "backend/quantize/internal/fused_quantize.h"

namespace wring {
namespace backend {
namespace quantize {
namespace {

std::string ShapeText(torch::IntArrayRef shape) { return absl::StrCat("[", absl::StrJoin(shape, ", "), "]"); }

bool IsFloat8(const QuantizationArgs& args) { return args.type == QuantizationType::kFloat; }

// torch.finfo(dtype).eps, the value calculate_qparams puts in place of a
// zero scale (no scale_dtype here, so it is the scale's own dtype).
double Epsilon(torch::Dtype dtype) {
  switch (dtype) {
    case torch::kBFloat16: return cpu_kernels::ScaleEpsilon<cpu_kernels::RoundBf16>();
    case torch::kHalf: return cpu_kernels::ScaleEpsilon<cpu_kernels::RoundHalf>();
    case torch::kDouble: return std::numeric_limits<double>::epsilon();
    default: return cpu_kernels::ScaleEpsilon<cpu_kernels::RoundFloat>();
  }
}

// Range endpoints as compressed-tensors builds them: 0-d float32 tensors
// (torch.tensor(python float)), so that type promotion matches.
struct RangeTensors {
  torch::Tensor min;
  torch::Tensor max;
};
RangeTensors MakeRangeTensors(const QuantizedRange& range, const torch::Device& device) {
  const auto options = torch::TensorOptions().dtype(torch::kFloat).device(device);
  return {torch::scalar_tensor(range.min, options), torch::scalar_tensor(range.max, options)};
}

absl::Status CheckFloatingTensor(const torch::Tensor& t, absl::string_view what) {
  if (!t.defined() || !t.is_floating_point()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " must be a floating-point tensor"));
  }
  return absl::OkStatus();
}

// torch::clamp, which LibTorch 1.13 lacks for fp16 on the CPU. Clamping only
// selects values, so doing it in fp32 and casting back gives exactly the
// fp16 result. Bounds are tensors or scalars.
template <typename Bound>
torch::Tensor Clamp(const torch::Tensor& t, const Bound& lo, const Bound& hi) {
  if (t.scalar_type() == torch::kHalf && t.device().is_cpu()) {
    return torch::clamp(t.to(torch::kFloat), lo, hi).to(torch::kHalf);
  }
  return torch::clamp(t, lo, hi);
}

// torch::round (half to even), likewise missing for fp16 on the CPU in
// LibTorch 1.13; rounding to an integer is exact in fp32 for every fp16.
torch::Tensor Round(const torch::Tensor& t) {
  if (t.scalar_type() == torch::kHalf && t.device().is_cpu()) {
    return torch::round(t.to(torch::kFloat)).to(torch::kHalf);
  }
  return torch::round(t);
}

// round_to_quantized_type_args: clamp to the range, round to the target
// type, and return in the input's dtype.
absl::StatusOr<torch::Tensor> RoundToQuantizedType(const torch::Tensor& scaled, const QuantizationArgs& args,
                                                   const RangeTensors& range) {
  torch::Tensor clamped = Clamp(scaled, range.min, range.max);
  if (!IsFloat8(args)) return Round(clamped).to(scaled.scalar_type());  // half to even
  absl::StatusOr<torch::Tensor> rounded = compat::RoundToFloat8E4M3(clamped);
  if (!rounded.ok()) return rounded.status();
  return rounded->to(scaled.scalar_type());
}

enum class Steps { kQuantize, kDequantize, kBoth };

// _quantize / _dequantize / _quantize_dequantize for scale and zero point
// already broadcastable against x.
absl::StatusOr<torch::Tensor> ApplyQuantizeOp(const torch::Tensor& x, const torch::Tensor& scale,
                                              const torch::Tensor& zero_point, const QuantizationArgs& args,
                                              const RangeTensors& range, std::optional<torch::Dtype> dtype,
                                              Steps steps) {
  const bool has_zero_point = zero_point.defined();
  if (steps == Steps::kDequantize) {
    torch::Tensor value = x.to(scale.scalar_type());
    if (has_zero_point) value = value - zero_point.to(scale.scalar_type());
    value = value * scale;
    return dtype ? value.to(*dtype) : value;
  }
  torch::Tensor scaled = x / scale;
  if (has_zero_point) scaled = scaled + zero_point.to(x.scalar_type());
  absl::StatusOr<torch::Tensor> quantized = RoundToQuantizedType(scaled, args, range);
  if (!quantized.ok()) return quantized.status();
  if (steps == Steps::kQuantize) return dtype ? quantized->to(*dtype) : *quantized;
  torch::Tensor value = quantized->to(scale.scalar_type());
  if (has_zero_point) value = value - zero_point.to(scale.scalar_type());
  return value * scale;
}

absl::Status CheckGroupColumns(int64_t columns, int64_t group_size) {
  if (columns >= group_size && columns % group_size != 0) {
    return absl::InvalidArgumentError(absl::StrCat("tensor column shape must be divisble by the given group_size ",
                                                   group_size, " but got ", columns));
  }
  if (columns < group_size) {
    // compressed-tensors fails here inside torch's unflatten.
    return absl::InvalidArgumentError(absl::StrCat("group_size ", group_size, " is larger than the tensor's ",
                                                   columns, " columns; use a smaller group_size or leave this "
                                                   "layer unquantized (add it to `ignore`)"));
  }
  return absl::OkStatus();
}

// maybe_pad_tensor_for_block_quant: zeros appended to the last two dims up to
// whole blocks, so partial blocks keep honest qparams.
torch::Tensor PadToBlocks(const torch::Tensor& x, const QuantizationArgs& args) {
  const int64_t pad_rows = (args.block_rows - x.size(-2) % args.block_rows) % args.block_rows;
  const int64_t pad_cols = (args.block_cols - x.size(-1) % args.block_cols) % args.block_cols;
  if (pad_rows == 0 && pad_cols == 0) return x;
  return torch::constant_pad_nd(x, {0, pad_cols, 0, pad_rows}, 0);
}

// A padded (rows, cols) tensor as (block_rows_count, block_cols_count,
// block_rows, block_cols): each block's elements in the last two dims.
torch::Tensor ToBlocks(const torch::Tensor& padded, const QuantizationArgs& args) {
  return padded.reshape({padded.size(0) / args.block_rows, args.block_rows, padded.size(1) / args.block_cols,
                         args.block_cols})
      .transpose(1, 2);
}

absl::Status CheckBlockInput(const torch::Tensor& x, absl::string_view operation) {
  if (x.dim() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(operation, ": block strategy needs a 2-D tensor, got shape ",
                                                   ShapeText(x.sizes())));
  }
  return absl::OkStatus();
}

// _process_block: pad, quantize block by block, restore, crop.
absl::StatusOr<torch::Tensor> ProcessBlocks(const torch::Tensor& x, const QParams& qparams,
                                            const QuantizationArgs& args, const RangeTensors& bounds,
                                            std::optional<torch::Dtype> dtype, Steps steps) {
  const torch::Tensor padded = PadToBlocks(x, args);
  const torch::Tensor zero_point = qparams.zero_point;
  absl::StatusOr<torch::Tensor> blocks = ApplyQuantizeOp(
      ToBlocks(padded, args), qparams.scale.unsqueeze(-1).unsqueeze(-1),
      zero_point.defined() ? zero_point.unsqueeze(-1).unsqueeze(-1) : zero_point, args, bounds, dtype, steps);
  if (!blocks.ok()) return blocks.status();
  torch::Tensor output = blocks->transpose(1, 2).reshape(padded.sizes());
  if (output.sizes() != x.sizes()) {
    output = output.slice(0, 0, x.size(0)).slice(1, 0, x.size(1));
  }
  return output;
}

// _process_quantization for tensor / channel / group.
absl::StatusOr<torch::Tensor> Process(const torch::Tensor& x, const QParams& qparams, const QuantizationArgs& args,
                                      std::optional<torch::Dtype> dtype, Steps steps, absl::string_view operation) {
  if (absl::Status status = ValidateArgs(args); !status.ok()) return status;
  if (!x.defined()) return absl::InvalidArgumentError(absl::StrCat(operation, ": undefined input tensor"));
  if (steps != Steps::kDequantize) {
    if (absl::Status status = CheckFloatingTensor(x, absl::StrCat(operation, ": the input")); !status.ok()) {
      return status;
    }
  }
  if (absl::Status status = CheckFloatingTensor(qparams.scale, absl::StrCat(operation, ": the scale"));
      !status.ok()) {
    return status;
  }
  if (x.dim() == 0) return absl::InvalidArgumentError(absl::StrCat(operation, ": the input must not be a scalar"));
  if (args.strategy == QuantizationStrategy::kGroup) {
    if (absl::Status status = CheckGroupColumns(x.size(-1), args.group_size); !status.ok()) return status;
  }
  if (args.strategy == QuantizationStrategy::kBlock) {
    if (absl::Status status = CheckBlockInput(x, operation); !status.ok()) return status;
  }
  absl::StatusOr<QuantizedRange> range = CalculateRange(args);
  if (!range.ok()) return range.status();
  return CatchTorchErrors(operation, [&]() -> absl::StatusOr<torch::Tensor> {
    const bool by_rows = args.strategy == QuantizationStrategy::kGroup || args.strategy == QuantizationStrategy::kChannel;
    if (by_rows && args.type == QuantizationType::kInt && steps != Steps::kDequantize && x.dim() == 2) {
      const int64_t group = args.strategy == QuantizationStrategy::kGroup ? args.group_size : x.size(1);
      if (std::optional<torch::Tensor> fused = internal::FusedQuantize(
              x, qparams.scale, qparams.zero_point, group, range->min, range->max, steps == Steps::kBoth, dtype)) {
        return *std::move(fused);
      }
    }
    const RangeTensors bounds = MakeRangeTensors(*range, x.device());
    if (args.strategy == QuantizationStrategy::kBlock) {
      return ProcessBlocks(x, qparams, args, bounds, dtype, steps);
    }
    torch::Tensor scale = qparams.scale;
    torch::Tensor zero_point = qparams.zero_point;
    // tensor, channel, token and attn_head broadcast as they are.
    if (args.strategy != QuantizationStrategy::kGroup) {
      return ApplyQuantizeOp(x, scale, zero_point, args, bounds, dtype, steps);
    }
    const torch::Dtype output_dtype = dtype.value_or(x.scalar_type());
    while (scale.dim() < 2) {
      scale = scale.unsqueeze(1);
      if (zero_point.defined()) zero_point = zero_point.unsqueeze(1);
    }
    const int64_t columns = x.size(-1);
    std::vector<int64_t> grouped_shape(x.sizes().begin(), x.sizes().end() - 1);
    grouped_shape.push_back(columns / args.group_size);
    grouped_shape.push_back(args.group_size);
    absl::StatusOr<torch::Tensor> output =
        ApplyQuantizeOp(x.reshape(grouped_shape), scale.unsqueeze(-1),
                        zero_point.defined() ? zero_point.unsqueeze(-1) : zero_point, args, bounds, dtype, steps);
    if (!output.ok()) return output.status();
    return output->flatten(-2).to(output_dtype);
  });
}

}  // namespace

absl::Status ValidateArgs(const QuantizationArgs& args) {
  if (args.type == QuantizationType::kInt && (args.num_bits < 2 || args.num_bits > 8)) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_bits: int quantization supports 2 to 8 bits here, got ", args.num_bits));
  }
  if (args.type == QuantizationType::kFloat && args.num_bits != 8) {
    return absl::UnimplementedError(
        absl::StrCat("num_bits: float quantization is implemented for 8 bits (fp8 e4m3) only, got ", args.num_bits));
  }
  if (args.strategy == QuantizationStrategy::kGroup && args.group_size <= 0) {
    return absl::InvalidArgumentError("strategy group requires group_size to be set to a positive value");
  }
  if (args.strategy != QuantizationStrategy::kGroup && args.group_size > 0) {
    return absl::InvalidArgumentError("group_size requires strategy to be set to 'group'");
  }
  const bool has_block_structure = args.block_rows != 0 || args.block_cols != 0;
  if (args.strategy == QuantizationStrategy::kBlock && (args.block_rows <= 0 || args.block_cols <= 0)) {
    return absl::InvalidArgumentError(
        "strategy block requires block_structure [rows, cols] of positive values, e.g. [128, 128]");
  }
  if (args.strategy != QuantizationStrategy::kBlock && has_block_structure) {
    return absl::InvalidArgumentError("block_structure requires strategy to be set to 'block'");
  }
  return absl::OkStatus();
}

absl::StatusOr<QuantizedRange> CalculateRange(const QuantizationArgs& args) {
  if (absl::Status status = ValidateArgs(args); !status.ok()) return status;
  if (IsFloat8(args)) return QuantizedRange{-compat::kFloat8E4M3Max, compat::kFloat8E4M3Max};
  const double half = std::ldexp(1.0, args.num_bits - 1);
  return QuantizedRange{-half, half - 1};
}

absl::StatusOr<MinMax> ObserveMinMax(const torch::Tensor& weight, const QuantizationArgs& args) {
  if (absl::Status status = ValidateArgs(args); !status.ok()) return status;
  if (absl::Status status = CheckFloatingTensor(weight, "ObserveMinMax: the weight"); !status.ok()) return status;
  if (weight.numel() == 0) return absl::InvalidArgumentError("ObserveMinMax: the weight is empty");
  if (args.strategy == QuantizationStrategy::kToken || args.strategy == QuantizationStrategy::kAttnHead) {
    return absl::InvalidArgumentError(absl::StrCat("ObserveMinMax: ",
                                                   args.strategy == QuantizationStrategy::kToken ? "Token"
                                                                                                 : "Attention head",
                                                   " quantization cannot be applied to weights"));
  }
  if (args.strategy != QuantizationStrategy::kTensor && weight.dim() != 2) {
    return absl::InvalidArgumentError(absl::StrCat("ObserveMinMax: channel, group and block strategies need a "
                                                   "2-D weight, got shape ",
                                                   ShapeText(weight.sizes())));
  }
  if (args.strategy == QuantizationStrategy::kGroup) {
    if (absl::Status status = CheckGroupColumns(weight.size(1), args.group_size); !status.ok()) return status;
  }
  return CatchTorchErrors("ObserveMinMax", [&]() -> absl::StatusOr<MinMax> {
    // flatten_for_calibration's (observations, *qparam_shape, elements)
    // layouts without the leading observation dim, which has size 1 for
    // weights; min/max over it changes nothing.
    torch::Tensor slots;
    switch (args.strategy) {
      case QuantizationStrategy::kTensor:
        slots = weight.reshape({1, -1});
        break;
      case QuantizationStrategy::kChannel:
        slots = weight.unsqueeze(-2);  // (rows, 1, cols)
        break;
      case QuantizationStrategy::kGroup:
        slots = weight.reshape({weight.size(0), weight.size(1) / args.group_size, args.group_size});
        break;
      case QuantizationStrategy::kBlock:
        slots = ToBlocks(PadToBlocks(weight, args), args).flatten(-2);
        break;
      default:
        return absl::InternalError("ObserveMinMax: unexpected strategy");
    }
    return MinMax{torch::amin(slots, {-1}), torch::amax(slots, {-1})};
  });
}

absl::StatusOr<QParams> CalculateQParams(const torch::Tensor& min_vals, const torch::Tensor& max_vals,
                                         const QuantizationArgs& args) {
  if (absl::Status status = ValidateArgs(args); !status.ok()) return status;
  if (absl::Status status = CheckFloatingTensor(min_vals, "CalculateQParams: min_vals"); !status.ok()) return status;
  if (absl::Status status = CheckFloatingTensor(max_vals, "CalculateQParams: max_vals"); !status.ok()) return status;
  if (min_vals.sizes() != max_vals.sizes() || min_vals.scalar_type() != max_vals.scalar_type()) {
    return absl::InvalidArgumentError(absl::StrCat("CalculateQParams: min_vals ", ShapeText(min_vals.sizes()),
                                                   " and max_vals ", ShapeText(max_vals.sizes()),
                                                   " must have the same shape and dtype"));
  }
  absl::StatusOr<QuantizedRange> range = CalculateRange(args);
  if (!range.ok()) return range.status();
  return CatchTorchErrors("CalculateQParams", [&]() -> absl::StatusOr<QParams> {
    // Zero must stay representable.
    const torch::Tensor min_v = torch::minimum(min_vals, torch::zeros_like(min_vals));
    const torch::Tensor max_v = torch::maximum(max_vals, torch::zeros_like(max_vals));
    const RangeTensors bounds = MakeRangeTensors(*range, min_v.device());
    const double bit_range = range->max - range->min;  // 15, 255, 896: exact

    torch::Tensor scales;
    torch::Tensor zero_points;
    if (args.symmetric) {
      const torch::Tensor max_val_pos = torch::maximum(torch::abs(min_v), torch::abs(max_v));
      // Not absmax / qmax: the positive extreme lands on qmax + 0.5.
      scales = max_val_pos / (bit_range / 2);
      zero_points = torch::zeros(scales.sizes(), min_v.options());
    } else {
      scales = (max_v - min_v) / bit_range;
      zero_points = bounds.min - (min_v / scales);
      zero_points = Clamp(zero_points, bounds.min, bounds.max);
    }

    const torch::Tensor eps = torch::scalar_tensor(Epsilon(scales.scalar_type()), scales.options());
    scales = torch::where(scales == 0, eps, scales);

    if (IsFloat8(args)) {
      zero_points = Clamp<double>(zero_points, -compat::kFloat8E4M3Max, compat::kFloat8E4M3Max);
      if (const std::optional<torch::Dtype> float8 = compat::NativeFloat8E4M3Dtype()) {
        zero_points = zero_points.to(*float8);
      } else {
        absl::StatusOr<torch::Tensor> rounded = compat::RoundToFloat8E4M3(zero_points);
        if (!rounded.ok()) return rounded.status();
        zero_points = *rounded;
      }
    } else {
      // zp_dtype int8 (num_bits <= 8): clamp to its limits, round half to
      // even, cast. NaN (0/0 in an all-zero asymmetric slot) has no defined
      // int8 value; 0 is what PyTorch's cast yields on x86 and CUDA.
      zero_points = Round(Clamp<double>(zero_points, -128, 127));
      zero_points = torch::where(torch::isnan(zero_points), torch::zeros_like(zero_points), zero_points);
      zero_points = zero_points.to(torch::kChar);
    }

    if (scales.dim() == 0) {
      scales = scales.reshape({1});
      zero_points = zero_points.reshape({1});
    }
    return QParams{scales, zero_points};
  });
}

absl::StatusOr<QParams> ComputeWeightQParams(const torch::Tensor& weight, const QuantizationArgs& args) {
  absl::StatusOr<MinMax> observed = ObserveMinMax(weight, args);
  if (!observed.ok()) return observed.status();
  return CalculateQParams(observed->min, observed->max, args);
}

absl::StatusOr<QParams> ComputeDynamicQParams(const torch::Tensor& x, const QuantizationArgs& args) {
  if (absl::Status status = ValidateArgs(args); !status.ok()) return status;
  if (absl::Status status = CheckFloatingTensor(x, "ComputeDynamicQParams: the input"); !status.ok()) return status;
  if (x.numel() == 0) return absl::InvalidArgumentError("ComputeDynamicQParams: the input is empty");
  const QuantizationStrategy strategy = args.strategy;
  if (strategy != QuantizationStrategy::kToken && strategy != QuantizationStrategy::kTensor &&
      strategy != QuantizationStrategy::kGroup) {
    return absl::InvalidArgumentError(
        "ComputeDynamicQParams: dynamic quantization is only supported for the token, tensor and group "
        "strategies");
  }
  if (strategy == QuantizationStrategy::kToken && x.dim() < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ComputeDynamicQParams: token strategy needs at least [batch, tokens], got shape ", ShapeText(x.sizes())));
  }
  if (strategy == QuantizationStrategy::kGroup && x.size(-1) % args.group_size != 0) {
    return absl::InvalidArgumentError(absl::StrCat("ComputeDynamicQParams: the last dimension ", x.size(-1),
                                                   " is not divisible by group_size ", args.group_size));
  }
  absl::StatusOr<MinMax> observed = CatchTorchErrors("ComputeDynamicQParams", [&]() -> absl::StatusOr<MinMax> {
    switch (strategy) {
      case QuantizationStrategy::kToken: {
        std::vector<int64_t> reduce_dims;
        for (int64_t dim = 2; dim < x.dim(); ++dim) reduce_dims.push_back(dim);
        // Upstream passes the empty dim tuple on as "reduce everything".
        if (reduce_dims.empty()) return MinMax{torch::amin(x), torch::amax(x)};
        return MinMax{torch::amin(x, reduce_dims, /*keepdim=*/true), torch::amax(x, reduce_dims, /*keepdim=*/true)};
      }
      case QuantizationStrategy::kTensor:
        return MinMax{torch::amin(x), torch::amax(x)};
      default: {
        std::vector<int64_t> grouped(x.sizes().begin(), x.sizes().end() - 1);
        grouped.push_back(x.size(-1) / args.group_size);
        grouped.push_back(args.group_size);
        const torch::Tensor groups = x.reshape(grouped);
        return MinMax{torch::amin(groups, {-1}), torch::amax(groups, {-1})};
      }
    }
  });
  if (!observed.ok()) return observed.status();
  return CalculateQParams(observed->min, observed->max, args);
}

absl::StatusOr<torch::Tensor> Quantize(const torch::Tensor& x, const QParams& qparams, const QuantizationArgs& args,
                                       std::optional<torch::Dtype> dtype) {
  return Process(x, qparams, args, dtype, Steps::kQuantize, "Quantize");
}

absl::StatusOr<torch::Tensor> Dequantize(const torch::Tensor& q, const QParams& qparams,
                                         const QuantizationArgs& args, std::optional<torch::Dtype> dtype) {
  if (!qparams.scale.defined()) return absl::InvalidArgumentError("Dequantize: undefined scale");
  return Process(q, qparams, args, dtype.value_or(qparams.scale.scalar_type()), Steps::kDequantize, "Dequantize");
}

absl::StatusOr<torch::Tensor> FakeQuantize(const torch::Tensor& x, const QParams& qparams,
                                           const QuantizationArgs& args) {
  return Process(x, qparams, args, std::nullopt, Steps::kBoth, "FakeQuantize");
}

}  // namespace quantize
}  // namespace backend
}  // namespace wring
