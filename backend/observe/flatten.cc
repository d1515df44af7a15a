#include "backend/observe/flatten.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "backend/base/torch_errors.h"

namespace wring {
namespace backend {
namespace observe {
namespace {

using quantize::QuantizationStrategy;

std::string ShapeText(torch::IntArrayRef shape) { return absl::StrCat("[", absl::StrJoin(shape, ", "), "]"); }

absl::string_view StrategyWord(QuantizationStrategy strategy) {
  switch (strategy) {
    case QuantizationStrategy::kTensor: return "Tensor";
    case QuantizationStrategy::kChannel: return "Channel";
    case QuantizationStrategy::kGroup: return "Group";
    case QuantizationStrategy::kBlock: return "Block";
    case QuantizationStrategy::kToken: return "Token";
    case QuantizationStrategy::kAttnHead: return "Attention head";
  }
  return "?";
}

absl::Status CannotApply(QuantizationStrategy strategy, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(StrategyWord(strategy), " quantization cannot be applied to ", what));
}

absl::Status NeedRank(const torch::Tensor& value, int64_t rank, absl::string_view what) {
  if (value.dim() == rank) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("FlattenForCalibration: ", what, " must be ", rank, "-D, got shape ", ShapeText(value.sizes())));
}

absl::StatusOr<torch::Tensor> FlattenWeight(const torch::Tensor& value, const quantize::QuantizationArgs& args) {
  switch (args.strategy) {
    case QuantizationStrategy::kTensor:
      return value.reshape({1, 1, -1});
    case QuantizationStrategy::kChannel:
      if (absl::Status s = NeedRank(value, 2, "a channel-quantized weight"); !s.ok()) return s;
      return value.unsqueeze(-2).unsqueeze(0);
    case QuantizationStrategy::kGroup: {
      if (absl::Status s = NeedRank(value, 2, "a group-quantized weight"); !s.ok()) return s;
      if (value.size(1) % args.group_size != 0) {
        return absl::InvalidArgumentError(absl::StrCat("FlattenForCalibration: weight columns ", value.size(1),
                                                       " are not divisible by group_size ", args.group_size));
      }
      return value.reshape({1, value.size(0), value.size(1) / args.group_size, args.group_size});
    }
    case QuantizationStrategy::kBlock: {
      if (absl::Status s = NeedRank(value, 2, "a block-quantized weight"); !s.ok()) return s;
      const int64_t pad_rows = (args.block_rows - value.size(0) % args.block_rows) % args.block_rows;
      const int64_t pad_cols = (args.block_cols - value.size(1) % args.block_cols) % args.block_cols;
      torch::Tensor padded = value;
      if (pad_rows != 0 || pad_cols != 0) padded = torch::constant_pad_nd(value, {0, pad_cols, 0, pad_rows}, 0);
      return padded
          .reshape({padded.size(0) / args.block_rows, args.block_rows, padded.size(1) / args.block_cols,
                    args.block_cols})
          .transpose(1, 2)
          .flatten(-2, -1)
          .unsqueeze(0);
    }
    default:
      return CannotApply(args.strategy, "weights");
  }
}

absl::StatusOr<torch::Tensor> FlattenActivation(const torch::Tensor& value, const quantize::QuantizationArgs& args) {
  switch (args.strategy) {
    case QuantizationStrategy::kTensor:
      return value.reshape({-1, 1, value.size(-1)});
    case QuantizationStrategy::kToken:
      return value;  // token qparams are computed dynamically, never observed
    case QuantizationStrategy::kGroup: {
      if (value.dim() < 3) {
        return absl::InvalidArgumentError(absl::StrCat(
            "FlattenForCalibration: group activations must be [batch, tokens, hidden], got shape ",
            ShapeText(value.sizes())));
      }
      if (value.size(-1) % args.group_size != 0) {
        return absl::InvalidArgumentError(absl::StrCat("FlattenForCalibration: hidden size ", value.size(-1),
                                                       " is not divisible by group_size ", args.group_size));
      }
      torch::Tensor merged = value.flatten(0, 1);
      std::vector<int64_t> shape(merged.sizes().begin(), merged.sizes().end() - 1);
      shape.push_back(merged.size(-1) / args.group_size);
      shape.push_back(args.group_size);
      return merged.reshape(shape);
    }
    default:
      return CannotApply(args.strategy, "activations");
  }
}

absl::StatusOr<torch::Tensor> FlattenAttention(const torch::Tensor& value, const quantize::QuantizationArgs& args) {
  if (absl::Status s = NeedRank(value, 4, "attention states [batch, heads, tokens, head_dim]"); !s.ok()) return s;
  switch (args.strategy) {
    case QuantizationStrategy::kTensor:
      return value.transpose(1, 2).flatten(0, 1).flatten(-2, -1).unsqueeze(-2);
    case QuantizationStrategy::kAttnHead:
      return value.transpose(1, 2).flatten(0, 1).unsqueeze(-2).unsqueeze(-2);
    default:
      return CannotApply(args.strategy, "attention");
  }
}

}  // namespace

absl::StatusOr<ObservedValue> ObservedValueFromBaseName(absl::string_view base_name) {
  if (base_name == "weight") return ObservedValue::kWeight;
  if (base_name == "input" || base_name == "output") return ObservedValue::kActivation;
  if (base_name == "q" || base_name == "k" || base_name == "v") return ObservedValue::kAttention;
  return absl::InvalidArgumentError(absl::StrCat("Unknown quantization base name: ", base_name));
}

absl::StatusOr<torch::Tensor> FlattenForCalibration(const torch::Tensor& value, ObservedValue kind,
                                                    const quantize::QuantizationArgs& args) {
  if (!value.defined() || value.dim() == 0) {
    return absl::InvalidArgumentError("FlattenForCalibration: the observed value must be a defined, non-scalar tensor");
  }
  return CatchTorchErrors("FlattenForCalibration", [&]() -> absl::StatusOr<torch::Tensor> {
    switch (kind) {
      case ObservedValue::kWeight: return FlattenWeight(value, args);
      case ObservedValue::kActivation: return FlattenActivation(value, args);
      case ObservedValue::kAttention: return FlattenAttention(value, args);
    }
    return absl::InternalError("FlattenForCalibration: unknown kind");
  });
}

}  // namespace observe
}  // namespace backend
}  // namespace wring
