#include "backend/gptq/gptq.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "backend/base/torch_errors.h"
#include "backend/gptq/internal/block_update.h"
#include "backend/gptq/internal/hessian_factorization.h"
#include "backend/gptq/internal/permute.h"

namespace wring {
namespace backend {
namespace gptq {
namespace {

using quantize::QuantizationStrategy;

// helpers.py MIN_BATCHED_CHOLESKY_SIZE: smaller batches factorize item by
// item (faster on CUDA), larger ones in one batched call.
constexpr int64_t kMinBatchedCholeskySize = 16;

absl::Status CheckOptions(const GptqOptions& options) {
  if (options.block_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("GPTQModifier.block_size must be positive, got ", options.block_size));
  }
  return absl::OkStatus();
}

absl::Status CheckWeights(const torch::Tensor& weights, const Factorization& factorization,
                          const quantize::QParams& qparams, const quantize::QuantizationArgs& args) {
  if (absl::Status status = quantize::ValidateArgs(args); !status.ok()) return status;
  if (!weights.defined() || weights.dim() != 3 || !weights.is_floating_point()) {
    return absl::InvalidArgumentError("GPTQ: floating weights of shape [batch, out, in] expected");
  }
  if (factorization.batch() != weights.size(0) || factorization.factor.size(-1) != weights.size(2)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "GPTQ: weights [", weights.size(0), ", ", weights.size(1), ", ", weights.size(2),
        "] do not match a factorization of ", factorization.batch(), " Hessians of width ",
        factorization.factor.size(-1)));
  }
  if (!qparams.scale.defined() || qparams.scale.size(0) != weights.size(0)) {
    return absl::InvalidArgumentError("GPTQ: one stacked scale per batch item expected");
  }
  if (args.strategy == QuantizationStrategy::kToken ||
      args.strategy == QuantizationStrategy::kAttnHead) {
    return absl::InvalidArgumentError("GPTQ: token and attn_head strategies do not apply to weights");
  }
  return absl::OkStatus();
}

// helpers.py column_scale_window: each element's scale (and zero point) for
// columns [i1, i2) of the permuted weight, [B, rows, i2 - i1].
std::pair<torch::Tensor, torch::Tensor> ColumnScaleWindow(const quantize::QParams& qparams,
                                                          const torch::Tensor& g_idx,
                                                          const quantize::QuantizationArgs& args,
                                                          int64_t rows, int64_t i1, int64_t i2) {
  const int64_t batch = qparams.scale.size(0);
  const int64_t width = i2 - i1;
  const bool has_zp = qparams.zero_point.defined() && !args.symmetric;
  torch::Tensor scale;
  torch::Tensor zp;
  switch (args.strategy) {
    case QuantizationStrategy::kTensor:
      scale = qparams.scale.reshape({-1, 1, 1});
      if (has_zp) zp = qparams.zero_point.reshape({-1, 1, 1});
      break;
    case QuantizationStrategy::kChannel:
      scale = qparams.scale.slice(-1, 0, 1);
      if (has_zp) zp = qparams.zero_point.slice(-1, 0, 1);
      break;
    case QuantizationStrategy::kGroup: {
      const torch::Tensor idx = g_idx.slice(-1, i1, i2).unsqueeze(-2).expand({batch, rows, width});
      scale = torch::gather(qparams.scale, -1, idx);
      if (has_zp) zp = torch::gather(qparams.zero_point, -1, idx);
      break;
    }
    default: {  // block
      const torch::Tensor row_idx =
          torch::div(torch::arange(rows, g_idx.options()), args.block_rows, "floor")
              .reshape({1, rows, 1})
              .expand({batch, rows, width});
      const torch::Tensor col_idx = g_idx.slice(-1, i1, i2).unsqueeze(-2);
      scale = torch::gather(qparams.scale, -1,
                            col_idx.expand({batch, qparams.scale.size(1), width}));
      scale = torch::gather(scale, -2, row_idx);
      if (has_zp) {
        zp = torch::gather(qparams.zero_point, -1,
                           col_idx.expand({batch, qparams.zero_point.size(1), width}));
        zp = torch::gather(zp, -2, row_idx);
      }
      break;
    }
  }
  scale = scale.expand({batch, rows, width}).contiguous();
  if (has_zp) zp = zp.to(torch::kFloat).expand({batch, rows, width}).contiguous();
  return {scale, zp};
}

}  // namespace

Factorization Factorization::Expand(int64_t batch) const {
  Factorization out;
  if (perm.defined()) out.perm = perm.expand({batch, -1});
  out.dead = dead.expand({batch, -1});
  out.factor = factor.expand({batch, -1, -1});
  out.diagonal = diagonal.expand({batch, -1});
  out.inverse = inverse;
  out.rtn_fallback.assign(batch, rtn_fallback.at(0));
  return out;
}

absl::StatusOr<Factorization> FactorizeHessians(torch::Tensor hessians, const GptqOptions& options,
                                                int64_t upstream_batch) {
  if (absl::Status status = CheckOptions(options); !status.ok()) return status;
  if (!hessians.defined() || hessians.dim() != 3 || hessians.size(1) != hessians.size(2) ||
      hessians.scalar_type() != torch::kFloat) {
    return absl::InvalidArgumentError("GPTQ: float32 Hessians of shape [batch, in, in] expected");
  }
  return CatchTorchErrors("GPTQ factorization", [&]() -> absl::StatusOr<Factorization> {
    Factorization f;
    torch::Tensor h = hessians.contiguous();
    hessians = torch::Tensor();
    if (options.activation_ordering) f.perm = internal::OrderByActivation(h);
    const int64_t batch = upstream_batch > 0 ? upstream_batch : h.size(0);
    absl::StatusOr<internal::FactorDiagonal> factored =
        internal::FactorizeInPlace(h, options.dampening_frac, batch >= kMinBatchedCholeskySize,
                                   options.upstream_factorization, f.rtn_fallback);
    if (!factored.ok()) return factored.status();
    f.dead = factored->dead;
    f.diagonal = factored->diagonal;
    f.factor = h;
    f.inverse = options.upstream_factorization;
    return f;
  });
}

absl::StatusOr<GptqResult> QuantizeWeights(const torch::Tensor& weights,
                                           const Factorization& factorization,
                                           const quantize::QParams& qparams,
                                           const quantize::QuantizationArgs& args,
                                           const GptqOptions& options) {
  if (absl::Status status = CheckOptions(options); !status.ok()) return status;
  if (absl::Status status = CheckWeights(weights, factorization, qparams, args); !status.ok()) {
    return status;
  }
  return CatchTorchErrors("GPTQ", [&]() -> absl::StatusOr<GptqResult> {
    const int64_t batch = weights.size(0);
    const int64_t rows = weights.size(1);
    const int64_t columns = weights.size(2);
    const torch::Device device = factorization.factor.device();
    const torch::Tensor source = weights.to(device);
    quantize::QParams qp{qparams.scale.to(device),
                         qparams.zero_point.defined() ? qparams.zero_point.to(device)
                                                      : torch::Tensor()};
    const torch::Tensor& perm = factorization.perm;
    // The columns [i1, i2) before GPTQ, in the permuted order, dead ones
    // zeroed (a fresh float32 tensor).
    const auto original_columns = [&](int64_t i1, int64_t i2) {
      torch::Tensor columns =
          perm.defined() ? internal::PermuteAsFloat(source, perm.slice(-1, i1, i2))
                         : source.slice(2, i1, i2).to(torch::kFloat, /*non_blocking=*/false, /*copy=*/true);
      columns.masked_fill_(factorization.dead.slice(-1, i1, i2).unsqueeze(1), 0);
      return columns;
    };
    // Column -> group index; with activation ordering, the original group
    // of each permuted column.
    torch::Tensor g_idx;
    if (args.strategy == QuantizationStrategy::kGroup ||
        args.strategy == QuantizationStrategy::kBlock) {
      const int64_t divisor =
          args.strategy == QuantizationStrategy::kGroup ? args.group_size : args.block_cols;
      g_idx = torch::div(torch::arange(columns, torch::dtype(torch::kLong).device(device)), divisor,
                         "floor");
      if (perm.defined()) g_idx = torch::gather(g_idx.unsqueeze(0).expand({batch, -1}), 1, perm);
    }

    // w: each column as the feedback of the columns before it leaves it,
    // then its quantized value.
    torch::Tensor w = original_columns(0, columns);
    const torch::Tensor& factor = factorization.factor;
    torch::Tensor losses = torch::zeros({batch, rows}, w.options());
    for (int64_t i1 = 0; i1 < columns; i1 += options.block_size) {
      const int64_t i2 = std::min(i1 + options.block_size, columns);
      internal::Block block;
      block.weights = w.slice(2, i1, i2).clone();
      block.inverse = factorization.inverse;
      if (!block.inverse) block.feedback = original_columns(i1, i2);
      block.quantized = torch::empty_like(block.weights);  // every column written
      block.errors = torch::empty_like(block.weights);
      block.factor = factor.slice(1, i1, i2).slice(2, i1, i2);
      block.diagonal = factorization.diagonal.slice(1, i1, i2);
      std::tie(block.scale, block.zero_point) = ColumnScaleWindow(qp, g_idx, args, rows, i1, i2);
      if (absl::Status status = internal::UpdateBlock(block, args, options.force_tensor_path);
          !status.ok()) {
        return status;
      }
      w.slice(2, i1, i2).copy_(block.quantized);
      losses.add_(torch::sum(block.errors.square(), 2) / 2);
      if (i2 < columns) {
        // In place: the slice's rows are BLAS's leading dimension, no
        // temporary of the remaining columns' size.
        const torch::Tensor rows_of_block = factor.slice(1, i1, i2).slice(2, i2);
        if (block.inverse) {
          w.slice(2, i2).baddbmm_(block.errors, rows_of_block, /*beta=*/1, /*alpha=*/-1);
        } else {
          w.slice(2, i2).baddbmm_(block.feedback, rows_of_block);
        }
      }
    }
    if (perm.defined()) {
      const torch::Tensor inverse = torch::argsort(perm, static_cast<int64_t>(-1));
      w = internal::PermuteAsFloat(w, inverse);
    }
    GptqResult result;
    result.quantized = w;
    result.losses = losses.sum(1);
    result.rtn_fallback = factorization.rtn_fallback;
    return result;
  });
}

absl::StatusOr<GptqResult> QuantizeWeights(const torch::Tensor& weights, torch::Tensor hessians,
                                           const quantize::QParams& qparams,
                                           const quantize::QuantizationArgs& args,
                                           const GptqOptions& options) {
  if (!weights.defined() || !hessians.defined() || hessians.dim() != 3 || weights.dim() != 3 ||
      hessians.size(0) != weights.size(0)) {
    return absl::InvalidArgumentError("GPTQ: weights and hessians must have shape [batch, ...]");
  }
  absl::StatusOr<Factorization> factorization =
      FactorizeHessians(hessians.to(weights.device()), options);
  if (!factorization.ok()) return factorization.status();
  return QuantizeWeights(weights, *factorization, qparams, args, options);
}

}  // namespace gptq
}  // namespace backend
}  // namespace wring
