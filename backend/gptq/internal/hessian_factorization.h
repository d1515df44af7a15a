// Steps 1-3 of GPTQ (backend/gptq/gptq.h): activation ordering, dead
// columns, dampening and the factorization, with upstream's RTN fallback.
// Internal to backend/gptq.
#ifndef WRING_BACKEND_GPTQ_INTERNAL_HESSIAN_FACTORIZATION_H_
#define WRING_BACKEND_GPTQ_INTERNAL_HESSIAN_FACTORIZATION_H_

#include <torch/torch.h>

#include <vector>

#include "absl/status/statusor.h"

namespace wring {
namespace backend {
namespace gptq {
namespace internal {

// apply_activation_ordering's permutation: the Hessian diagonal's order,
// descending; `hessians` [B, in, in] float32 then refers to a new tensor,
// permuted along both axes. Returns the permutation [B, in] (int64).
torch::Tensor OrderByActivation(torch::Tensor& hessians);

struct FactorDiagonal {
  torch::Tensor dead;      // [B, in] bool: zero Hessian diagonal
  torch::Tensor diagonal;  // [B, in] float32: the factor's diagonal
};

// factorize_hessian: marks dead columns, dampens `hessians` and replaces
// each H by a triangular factor, or by the identity where the Cholesky fails
// (then rtn_fallback[b] is set). `batched`: upstream's batched path (batches
// of >= 16), which reduces the diagonal's mean differently from the
// per-item one.
//   - `upstream`: as llm-compressor, U, the upper Cholesky factor of H⁻¹
//     (Cholesky, cholesky_inverse, Cholesky); an inverse that is not
//     numerically positive definite is an error, as upstream raises.
//   - otherwise: F with H = F Fᵀ, upper triangular (the Cholesky factor of
//     H with rows and columns reversed), each column divided by its diagonal
//     element, so the result has a unit diagonal; F⁻¹ = U.
// The factor's own diagonal comes back in either case.
absl::StatusOr<FactorDiagonal> FactorizeInPlace(torch::Tensor& hessians, double dampening_frac,
                                                bool batched, bool upstream,
                                                std::vector<bool>& rtn_fallback);

}  // namespace internal
}  // namespace gptq
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_GPTQ_INTERNAL_HESSIAN_FACTORIZATION_H_
