// Step 4 of GPTQ (backend/gptq/gptq.h) for one block of columns: the
// columns are fake-quantized one after another, each column's feedback
// times the factor's row updating the columns after it inside the block.
// The feedback is the column before GPTQ minus its quantized value (factor
// F), or, with upstream's factor U, minus the column's error. Two
// implementations with the same arithmetic, operation by operation (no
// fused multiply-adds: this file's library is compiled with
// -ffp-contract=off):
//   - tensor operations, in the manner of upstream's eager
//     gptq_block_update (any device);
//   - a fused CPU kernel that runs tiles of rows through the whole block
//     (rows are independent, so they run in parallel and stay in cache).
// Internal to backend/gptq.
#ifndef WRING_BACKEND_GPTQ_INTERNAL_BLOCK_UPDATE_H_
#define WRING_BACKEND_GPTQ_INTERNAL_BLOCK_UPDATE_H_

#include <torch/torch.h>

#include "absl/status/status.h"
#include "backend/quantize/quantize.h"

namespace wring {
namespace backend {
namespace gptq {
namespace internal {

struct Block {
  // [B, out, width] float32: the columns with the earlier blocks' feedback
  // added; scratch (its values afterwards are unspecified).
  torch::Tensor weights;
  // Factor F only: [B, out, width] float32; in, the columns before GPTQ
  // (permuted, dead columns zeroed); out, those minus their quantized values.
  torch::Tensor feedback;
  torch::Tensor factor;      // [B, width, width] float32: the block's part of F (unit diagonal) or U
  torch::Tensor diagonal;    // [B, width] float32: F's or U's diagonal
  bool inverse = false;      // factor is U (Factorization::inverse)
  torch::Tensor scale;       // [B, out, width], the scale's dtype
  torch::Tensor zero_point;  // [B, out, width] float32; undefined when symmetric
  torch::Tensor quantized;   // Q1 [B, out, width] float32, written
  // Err1 [B, out, width] float32, written: (w - q) * F_ii, or (w - q) / U_ii.
  torch::Tensor errors;
};

// `args`: the weight arguments (type, bits; the strategy is irrelevant here:
// every element has its own scale).
absl::Status UpdateBlock(Block& block, const quantize::QuantizationArgs& args, bool force_tensor_path);

}  // namespace internal
}  // namespace gptq
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_GPTQ_INTERNAL_BLOCK_UPDATE_H_
