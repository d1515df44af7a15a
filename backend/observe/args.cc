#include "backend/observe/args.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace observe {

absl::StatusOr<ObservedArgs> FromMappingArgs(const mapping::QuantizationArgs& args, absl::string_view field) {
  auto unsupported = [&](absl::string_view what) {
    return absl::UnimplementedError(absl::StrCat(field, ": ", what));
  };
  ObservedArgs out;
  quantize::QuantizationArgs& q = out.quantize;
  q.num_bits = args.num_bits;
  q.type = args.type == mapping::QuantizationType::kInt ? quantize::QuantizationType::kInt
                                                        : quantize::QuantizationType::kFloat;
  q.symmetric = args.symmetric;
  switch (args.strategy) {
    case mapping::QuantizationStrategy::kTensor:
      q.strategy = quantize::QuantizationStrategy::kTensor;
      break;
    case mapping::QuantizationStrategy::kChannel:
      q.strategy = quantize::QuantizationStrategy::kChannel;
      break;
    case mapping::QuantizationStrategy::kGroup:
      if (!args.group_size) return absl::InvalidArgumentError(absl::StrCat(field, ": group strategy without group_size"));
      q.strategy = quantize::QuantizationStrategy::kGroup;
      q.group_size = *args.group_size;
      break;
    case mapping::QuantizationStrategy::kBlock:
      if (args.block_structure.size() != 2) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, ": block strategy needs block_structure [rows, cols], e.g. [128, 128]"));
      }
      q.strategy = quantize::QuantizationStrategy::kBlock;
      q.block_rows = args.block_structure[0];
      q.block_cols = args.block_structure[1];
      break;
    case mapping::QuantizationStrategy::kToken:
      q.strategy = quantize::QuantizationStrategy::kToken;
      break;
    case mapping::QuantizationStrategy::kAttnHead:
      q.strategy = quantize::QuantizationStrategy::kAttnHead;
      break;
    case mapping::QuantizationStrategy::kTensorGroup:
      return unsupported("strategy \"tensor_group\" (NVFP4 global scales) is not implemented yet");
  }
  if (args.dynamic == mapping::DynamicMode::kLocal) {
    return unsupported("dynamic \"local\" is not implemented yet (it needs tensor_group)");
  }
  out.dynamic = args.dynamic == mapping::DynamicMode::kDynamic;
  if (args.scale_dtype) {
    return unsupported(absl::StrCat("scale_dtype \"", *args.scale_dtype, "\" is not implemented yet; leave it unset"));
  }
  const bool is_int = q.type == quantize::QuantizationType::kInt;
  const std::string expected_zp_dtype = is_int ? "int8" : "float8_e4m3fn";
  if (!args.zp_dtype.empty() && args.zp_dtype != expected_zp_dtype) {
    return unsupported(absl::StrCat("zp_dtype \"", args.zp_dtype, "\" is not implemented; ",
                                    mapping::QuantizationTypeName(args.type), " args use ", expected_zp_dtype));
  }
  if (args.actorder && mapping::IsGroupActorder(*args.actorder)) {
    return unsupported("actorder \"group\" (weight_g_idx) is not implemented yet");
  }
  out.observer = args.observer ? std::optional<std::string>(*args.observer) : std::nullopt;
  out.observer_kwargs = args.observer_kwargs;
  WRING_RETURN_IF_ERROR(quantize::ValidateArgs(q));
  return out;
}

}  // namespace observe
}  // namespace backend
}  // namespace wring
