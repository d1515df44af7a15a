#include "backend/gram/input_gram.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "backend/base/torch_errors.h"
#include "backend/cpu_kernels/bf16_linear.h"

namespace wring {
namespace backend {
namespace gram {
namespace {

// Unscaled bf16 rows on a CPU with AMX tiles or AVX512-BF16: x^T x there.
// The products of bf16 values are exact in float32, and the kernel sums
// them over the rows in Bf16LinearToFloat32's fixed order at ~8x (tiles) or
// ~1.5x (dot products) sgemm's rate (an MoE layer
// adds a Gram matrix of every calibration token for each expert's
// down_proj). Undefined where they do not apply.
torch::Tensor ProductOnTiles(const torch::Tensor& rows, double input_scale) {
  if (input_scale != 1.0 || rows.scalar_type() != torch::kBFloat16 || !rows.device().is_cpu() ||
      !cpu_kernels::HasBf16Linear()) {
    return torch::Tensor();
  }
  const torch::Tensor features_first = rows.t().contiguous();
  absl::StatusOr<torch::Tensor> sums =
      cpu_kernels::Bf16LinearToFloat32(features_first, features_first, torch::Tensor());
  return sums.ok() ? *std::move(sums) : torch::Tensor();
}

}  // namespace

absl::Status InputGram::Add(const torch::Tensor& input) {
  return CatchTorchErrors("input Gram matrix", [&]() -> absl::Status {
    if (input.dim() == 0) return absl::InvalidArgumentError("Gram matrix: a scalar input");
    const torch::Tensor rows = input.reshape({-1, input.size(-1)});
    const int64_t width = rows.size(1);
    if (gram_.defined() && gram_.size(0) != width) {
      return absl::InvalidArgumentError(
          absl::StrCat("Gram matrix: inputs of widths ", gram_.size(0), " and ", width));
    }
    // Upstream counts a 2-D input as one sample and every other input by its
    // leading dimension, whether or not it has rows.
    samples_ += input.dim() <= 2 ? 1 : input.size(0);
    if (rows.size(0) == 0) {
      if (!gram_.defined()) gram_ = torch::zeros({width, width}, rows.options().dtype(torch::kFloat32));
      return absl::OkStatus();
    }
    torch::Tensor product = ProductOnTiles(rows, input_scale_);
    if (!product.defined()) {
      torch::Tensor x = rows.to(torch::kFloat32);
      if (input_scale_ != 1.0) x = x * input_scale_;
      product = x.t().mm(x);
    }
    gram_ = gram_.defined() ? gram_.add_(product) : product;
    rows_ += rows.size(0);
    return absl::OkStatus();
  });
}

torch::Tensor InputGram::TakeMatrix() {
  torch::Tensor out = std::move(gram_);
  gram_ = torch::Tensor();
  return out;
}

bool InputGram::finite() const {
  return !gram_.defined() || torch::isfinite(gram_).all().item<bool>();
}

absl::Status InputGram::SumOverRanks(distributed::Collectives& collectives,
                                     absl::string_view what) {
  if (!collectives.is_distributed()) return absl::OkStatus();
  // A rank that saw no input has no matrix yet: agree on the width first.
  torch::Tensor width = torch::tensor({gram_.defined() ? gram_.size(0) : int64_t{0}}, torch::kInt64);
  absl::Status status = collectives.AllReduce({width}, distributed::ReduceOp::kMax, what);
  if (!status.ok()) return status;
  const int64_t in = width.item<int64_t>();
  if (in == 0) return absl::OkStatus();
  if (!gram_.defined()) gram_ = torch::zeros({in, in}, torch::kFloat32);
  if (gram_.size(0) != in) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": Gram matrices of different widths on different ranks"));
  }
  torch::Tensor counts = torch::tensor({rows_, samples_}, torch::kInt64);
  status = collectives.AllReduce({gram_, counts}, distributed::ReduceOp::kSum, what);
  if (!status.ok()) return status;
  rows_ = counts[0].item<int64_t>();
  samples_ = counts[1].item<int64_t>();
  return absl::OkStatus();
}

}  // namespace gram
}  // namespace backend
}  // namespace wring
