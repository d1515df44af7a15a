#include "backend/compress/compressed_module.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "backend/base/torch_errors.h"
#include "backend/observe/args.h"
#include "backend/observe/observer.h"
#include "backend/pack/pack.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace compress {

namespace {

using mapping::CompressionFormat;
using safetensors::TensorToWrite;

absl::Status Unsupported(absl::string_view what) {
  return absl::UnimplementedError(absl::StrCat("CompressWeight: ", what));
}

absl::Status CheckWeight(absl::string_view module_name, const torch::Tensor& weight) {
  if (!weight.defined()) {
    return absl::InvalidArgumentError(absl::StrCat("CompressWeight: ", module_name, ".weight is undefined"));
  }
  if (weight.dim() != 2) {
    return absl::InvalidArgumentError(absl::StrCat("CompressWeight: ", module_name,
                                                   ".weight must be 2-D [rows, cols], got ", weight.dim(),
                                                   " dimensions"));
  }
  const torch::Dtype dtype = weight.scalar_type();
  if (dtype != torch::kBFloat16 && dtype != torch::kFloat16 && dtype != torch::kFloat32) {
    return absl::InvalidArgumentError(absl::StrCat("CompressWeight: ", module_name,
                                                   ".weight must be bfloat16, float16 or float32, got ",
                                                   std::string(c10::toString(dtype))));
  }
  return absl::OkStatus();
}

std::string Named(absl::string_view module_name, absl::string_view suffix) {
  return absl::StrCat(module_name, ".", suffix);
}

}  // namespace

absl::StatusOr<quantize::QuantizationArgs> ToBackendWeightArgs(const mapping::QuantizationArgs& args) {
  // The conversion and its limits are observe's; weights add their own.
  WRING_ASSIGN_OR_RETURN(observe::ObservedArgs observed, observe::FromMappingArgs(args, "weights"));
  const quantize::QuantizationStrategy strategy = observed.quantize.strategy;
  if (strategy == quantize::QuantizationStrategy::kToken ||
      strategy == quantize::QuantizationStrategy::kAttnHead) {
    return Unsupported(absl::StrCat("weights.strategy \"", mapping::QuantizationStrategyName(args.strategy),
                                    "\" is not implemented yet; use tensor, channel, group or block"));
  }
  if (observed.dynamic) return Unsupported("dynamic weight quantization (weights.dynamic) is not supported");
  if (args.observer) {
    const std::string resolved = observe::ResolveObserverName(*args.observer, observe::ObservedValue::kWeight);
    if (absl::Status status = observe::ParseObserverOptions(resolved, args.observer_kwargs).status(); !status.ok()) {
      return Unsupported(absl::StrCat("weights.observer: ", status.message()));
    }
  }
  if (!args.symmetric && args.type != mapping::QuantizationType::kInt) {
    return Unsupported(absl::StrCat("asymmetric weights need int type, got type \"",
                                    mapping::QuantizationTypeName(args.type), "\""));
  }
  return observed.quantize;
}

absl::StatusOr<std::vector<TensorToWrite>> CompressWeight(absl::string_view module_name,
                                                          const torch::Tensor& weight,
                                                          const mapping::QuantizationScheme& scheme,
                                                          CompressionFormat format,
                                                          const std::optional<quantize::QParams>& given_qparams) {
  if (!scheme.weights) {
    return absl::InvalidArgumentError(
        absl::StrCat("CompressWeight: the scheme of ", module_name, " does not quantize weights"));
  }
  WRING_RETURN_IF_ERROR(CheckWeight(module_name, weight));
  WRING_ASSIGN_OR_RETURN(const quantize::QuantizationArgs args, ToBackendWeightArgs(*scheme.weights));
  const bool is_int = args.type == quantize::QuantizationType::kInt;
  switch (format) {
    case CompressionFormat::kPackQuantized:
      if (!is_int) return Unsupported("pack-quantized needs int weights (weights.type \"int\")");
      break;
    case CompressionFormat::kIntQuantized:
    case CompressionFormat::kFloatQuantized:
    case CompressionFormat::kNaiveQuantized:
      break;
    default:
      return Unsupported(absl::StrCat("format \"", mapping::CompressionFormatName(format),
                                      "\" is not implemented; supported: pack-quantized, int-quantized, "
                                      "float-quantized, naive-quantized"));
  }

  return CatchTorchErrors(
      absl::StrCat("CompressWeight(", module_name, ")"),
      [&]() -> absl::StatusOr<std::vector<TensorToWrite>> {
        quantize::QParams qparams;
        if (given_qparams) {
          qparams = *given_qparams;
          if (!qparams.scale.defined() || (!args.symmetric && !qparams.zero_point.defined())) {
            return absl::InvalidArgumentError(absl::StrCat("CompressWeight(", module_name,
                                                           "): the given qparams lack a scale or, for "
                                                           "asymmetric weights, a zero point"));
          }
        } else {
          const auto& observer = scheme.weights->observer;  // absl::optional
          WRING_ASSIGN_OR_RETURN(
              qparams, observe::ComputeWeightQParams(
                           weight, args, observer ? std::optional<std::string>(*observer) : std::nullopt,
                           scheme.weights->observer_kwargs));
        }
        std::vector<TensorToWrite> tensors;
        torch::Tensor zero_point;  // written only for asymmetric args
        if (format == CompressionFormat::kPackQuantized) {
          WRING_ASSIGN_OR_RETURN(torch::Tensor values, quantize::Quantize(weight, qparams, args, torch::kChar));
          WRING_ASSIGN_OR_RETURN(torch::Tensor packed,
                                 pack::PackToInt32(values, args.num_bits, pack::PackedDim::kColumns));
          tensors.push_back({Named(module_name, "weight_packed"), std::move(packed)});
          if (!args.symmetric) {
            // Upstream packs only group / channel zero points (along rows);
            // a tensor-strategy zero point stays the int8 (1,) tensor.
            if (args.strategy != quantize::QuantizationStrategy::kGroup &&
                args.strategy != quantize::QuantizationStrategy::kChannel) {
              zero_point = qparams.zero_point;
            } else {
              WRING_ASSIGN_OR_RETURN(zero_point,
                                     pack::PackToInt32(qparams.zero_point, args.num_bits, pack::PackedDim::kRows));
            }
          }
        } else if (is_int) {
          WRING_ASSIGN_OR_RETURN(torch::Tensor values, quantize::Quantize(weight, qparams, args, torch::kChar));
          tensors.push_back({Named(module_name, "weight"), std::move(values)});
          if (!args.symmetric) zero_point = qparams.zero_point;
        } else {
          // Values already rounded to e4m3fn, held in the weight's dtype; the
          // writer stores them as F8_E4M3.
          WRING_ASSIGN_OR_RETURN(torch::Tensor values, quantize::Quantize(weight, qparams, args));
          TensorToWrite entry{Named(module_name, "weight"), std::move(values)};
          entry.as_float8_e4m3 = true;
          tensors.push_back(std::move(entry));
        }
        tensors.push_back({Named(module_name, "weight_scale"), qparams.scale.contiguous()});
        if (zero_point.defined()) {
          tensors.push_back({Named(module_name, "weight_zero_point"), zero_point.contiguous()});
        }
        if (format == CompressionFormat::kPackQuantized) {
          tensors.push_back({Named(module_name, "weight_shape"),
                             torch::tensor(std::vector<int64_t>{weight.size(0), weight.size(1)}, torch::kLong)});
        }
        return tensors;
      });
}

absl::StatusOr<std::vector<TensorToWrite>> ActivationQParamTensors(absl::string_view module_name,
                                                                   absl::string_view base_name,
                                                                   const quantize::QParams& qparams,
                                                                   const mapping::QuantizationArgs& args) {
  if (base_name != "input" && base_name != "output" && base_name != "k" && base_name != "v" && base_name != "q") {
    return absl::InvalidArgumentError(absl::StrCat("ActivationQParamTensors: unknown base name \"", base_name,
                                                   "\"; use input, output, q, k or v"));
  }
  if (!qparams.scale.defined() || !qparams.scale.is_floating_point()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ActivationQParamTensors: ", module_name, ".", base_name, "_scale is missing"));
  }
  std::vector<TensorToWrite> tensors;
  tensors.push_back({Named(module_name, absl::StrCat(base_name, "_scale")), qparams.scale.contiguous()});
  if (args.symmetric) return tensors;  // _remove_symmetric_zp
  if (!qparams.zero_point.defined()) {
    return absl::InvalidArgumentError(absl::StrCat("ActivationQParamTensors: asymmetric ", module_name, ".",
                                                   base_name, " needs a zero point"));
  }
  TensorToWrite zero_point{Named(module_name, absl::StrCat(base_name, "_zero_point")),
                           qparams.zero_point.contiguous()};
  // fp8 zero points held as floating values (LibTorch without float8).
  zero_point.as_float8_e4m3 = args.type == mapping::QuantizationType::kFloat && qparams.zero_point.is_floating_point();
  tensors.push_back(std::move(zero_point));
  return tensors;
}

}  // namespace compress
}  // namespace backend
}  // namespace wring
