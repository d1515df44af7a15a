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
//   3. dampening by dampening_frac * mean(diag), then the factorization.
//      Upstream takes L = cholesky(H), cholesky_inverse, and U, the upper
//      Cholesky factor of H⁻¹ (four n³/3 steps); wring takes one Cholesky,
//      of H with rows and columns reversed, which gives the upper
//      triangular F with H = F Fᵀ. Then U = F⁻¹, and step 4 needs only F:
//      with D = W - Q (the weight before GPTQ minus its quantized value),
//      upstream's errors are Err = D U⁻¹ = D F, so column j is quantized
//      from W_j + Σ_{i<j} D_i F_ij / F_jj, its error (w_j - q_j) F_jj. The
//      same quantities, rounded differently in float32 (about as far from
//      upstream's as OpenBLAS's factorization is from MKL's, but GPTQ's
//      error feedback spreads a flipped rounding), at a quarter of the
//      factorization's work; GptqOptions::upstream_factorization takes
//      upstream's three steps instead. A Hessian whose Cholesky fails is
//      replaced by the identity: that module is quantized round-to-nearest
//      with the same scales (rtn_fallback), as upstream does. Batches of
//      >= 16 are dampened batched, smaller ones item by item, each with
//      upstream's own reductions;
//   4. blocks of block_size columns: each column is fake-quantized with its
//      row's (group's) scale from the weight observer, D_j F_ij / F_jj
//      feeds the later columns of the block, and the block's D feeds the
//      columns after it through one matrix product;
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
  // Step 3 as upstream computes it (Cholesky, cholesky_inverse, Cholesky:
  // about twice the work) instead of one Cholesky of the reversed Hessian:
  // the same quantities, rounded as upstream rounds them, for bit-for-bit
  // comparisons (`wring compress --gptq_upstream_factorization`).
  bool upstream_factorization = false;
};

struct GptqResult {
  // [B, out, in] float32: the fake-quantized weights in their original
  // column order (values of the scale's dtype).
  torch::Tensor quantized;
  // [B] float32: sum over rows and columns of ((w - q) / Hinv_ii)^2 / 2
  // (= ((w - q) F_ii)^2 / 2), the loss upstream's CompressionLogger logs.
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
  // [B, in, in] float32, upper triangular: F with each column divided by
  // its diagonal element (a unit diagonal), where H = F Fᵀ (step 3); or,
  // with `inverse`, U, the upper Cholesky factor of H⁻¹, as upstream.
  torch::Tensor factor;
  torch::Tensor diagonal;  // [B, in] float32: F's (or U's) diagonal
  bool inverse = false;
  std::vector<bool> rtn_fallback;

  int64_t batch() const { return factor.size(0); }
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
