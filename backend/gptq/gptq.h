// GPTQ's column-wise weight quantization with error feedback, as
// llm-compressor 0.14's GPTQModifier runs it (modifiers/gptq/gptq_quantize.py
// quantize_weight and helpers.py), for a batch of same-shaped Linears.
//
// In upstream's order, per batch item:
//   1. activation ordering (`actorder` weight, alias static): weight columns
//      and both Hessian axes permuted by the Hessian's diagonal, descending;
//      the group of each permuted column stays its original one (g_idx =
//      column // group_size, permuted), so the observer's scales apply
//      unchanged and the checkpoint needs no g_idx (0.14 writes none);
//   2. dead columns (zero Hessian diagonal): diagonal set to 1, weight
//      column zeroed;
//   3. dampening by dampening_frac * mean(diag), Cholesky, cholesky_inverse,
//      and the upper Cholesky factor of the inverse. A Hessian that is not
//      positive definite is replaced by the identity: that module is
//      quantized round-to-nearest with the same scales (rtn_fallback).
//      Batches of >= 16 factorize batched, smaller ones item by item, each
//      with upstream's own reductions;
//   4. blocks of block_size columns: each column is fake-quantized with its
//      row's (group's) scale from the weight observer, its error divided by
//      the inverse's diagonal feeds the rest of the block, and the block's
//      errors feed the columns after it through one matrix product;
//   5. the permutation is undone.
// The scales are the weight observer's, computed from the weight before
// GPTQ (on_sequential_epoch_end observes before compressing); GPTQ changes
// the weight, never the scales.
#ifndef WRING_BACKEND_GPTQ_GPTQ_H_
#define WRING_BACKEND_GPTQ_GPTQ_H_

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/quantize/quantize.h"

namespace wring {
namespace backend {
namespace gptq {

struct GptqOptions {
  int64_t block_size = 128;
  double dampening_frac = 0.01;
  // actorder "weight" or its alias "static" (the default); false: null.
  bool activation_ordering = true;
  // Run the block update as tensor operations (upstream's eager path, any
  // device) even where the fused CPU kernel applies; for tests.
  bool force_tensor_path = false;
};

struct GptqResult {
  // [B, out, in] float32: the fake-quantized weights in their original
  // column order (values of the scale's dtype).
  torch::Tensor quantized;
  // [B] float32: sum over rows and columns of (error / Hinv_ii)^2 / 2, the
  // loss upstream's CompressionLogger logs.
  torch::Tensor losses;
  // Modules whose Hessian could not be factorized (quantized round to
  // nearest instead).
  std::vector<bool> rtn_fallback;
};

// Steps 1-3 for `hessians` [B, in, in] float32, normalized (H / num_samples;
// consumed: factorized in place when float32 and contiguous on `device`).
struct Factorization {
  torch::Tensor perm;  // [B, in] int64; undefined without activation ordering
  torch::Tensor dead;  // [B, in] bool, in the (permuted) column order
  torch::Tensor hinv;  // [B, in, in] float32: upper Cholesky factor of the damped inverse
  std::vector<bool> rtn_fallback;

  int64_t batch() const { return hinv.size(0); }
  // A factorization of one Hessian used for `batch` modules that read the
  // same input (no copy).
  Factorization Expand(int64_t batch) const;
};
// `upstream_batch` is the size of the batch upstream would factorize these
// Hessians in (it picks the batched or per-item path, which reduce the
// diagonal's mean differently); 0 means hessians.size(0).
absl::StatusOr<Factorization> FactorizeHessians(torch::Tensor hessians, const GptqOptions& options,
                                                int64_t upstream_batch = 0);

// Steps 4-5 for `weights` [B, out, in] with a factorization of B items.
absl::StatusOr<GptqResult> QuantizeWeights(const torch::Tensor& weights,
                                           const Factorization& factorization,
                                           const quantize::QParams& qparams,
                                           const quantize::QuantizationArgs& args,
                                           const GptqOptions& options);

// All of it, as upstream's quantize_weight:
// `weights` [B, out, in] (any floating dtype; converted to float32),
// `hessians` [B, in, in] float32, normalized (H / num_samples; consumed:
// factorized in place when already float32 and contiguous), `qparams` the
// observer's scale and zero point stacked over B (scale [B, 1] for tensor,
// [B, out, 1] channel, [B, out, groups] group, [B, row blocks, column
// blocks] block). `args` are the modules' shared weight arguments; tensor
// group (global scales) is not supported.
absl::StatusOr<GptqResult> QuantizeWeights(const torch::Tensor& weights, torch::Tensor hessians,
                                           const quantize::QParams& qparams,
                                           const quantize::QuantizationArgs& args,
                                           const GptqOptions& options);

}  // namespace gptq
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_GPTQ_GPTQ_H_
