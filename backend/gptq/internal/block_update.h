// Step 4 of GPTQ (backend/gptq/gptq.h) for one block of columns: the
// columns are fake-quantized one after another, each column's error (divided
// by the inverse Hessian's diagonal) updating the columns after it inside the
// block. Two implementations with the same arithmetic, operation by
// operation (no fused multiply-adds: this file's library is compiled with
// -ffp-contract=off):
//   - tensor operations, as upstream's eager gptq_block_update (any device);
//   - a fused CPU kernel that runs each weight row through the whole block
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
  torch::Tensor weights;          // W1 [B, out, width] float32, updated in place
  torch::Tensor hinv;             // Hinv1 [B, width, width] float32
  torch::Tensor scale;            // [B, out, width], the scale's dtype
  torch::Tensor zero_point;       // [B, out, width] float32; undefined when symmetric
  torch::Tensor quantized;        // Q1 [B, out, width] float32, written
  torch::Tensor errors;           // Err1 [B, out, width] float32, written
};

// `args`: the weight arguments (type, bits; the strategy is irrelevant here:
// every element has its own scale).
absl::Status UpdateBlock(Block& block, const quantize::QuantizationArgs& args, bool force_tensor_path);

}  // namespace internal
}  // namespace gptq
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_GPTQ_INTERNAL_BLOCK_UPDATE_H_
