// Permuting weights and Hessians for activation ordering (backend/gptq/gptq.h
// step 1). Internal to backend/gptq.
#ifndef WRING_BACKEND_GPTQ_INTERNAL_PERMUTE_H_
#define WRING_BACKEND_GPTQ_INTERNAL_PERMUTE_H_

#include <torch/torch.h>

namespace wring {
namespace backend {
namespace gptq {
namespace internal {

// x [B, rows, n] with its columns in the order `columns` [B, k] gives (and,
// where `rows` [B, r] is defined, its rows in that order), as a new float32
// tensor: out[b, i, j] = x[b, rows[b, i], columns[b, j]]. On the CPU, for
// float32 or bf16 x, one pass row by row converting as it copies (a gather
// with an int64 index per element took ~1 s for a 14336-wide Hessian);
// elsewhere torch::gather.
torch::Tensor PermuteAsFloat(const torch::Tensor& x, const torch::Tensor& columns,
                             const torch::Tensor& rows = torch::Tensor());

}  // namespace internal
}  // namespace gptq
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_GPTQ_INTERNAL_PERMUTE_H_
