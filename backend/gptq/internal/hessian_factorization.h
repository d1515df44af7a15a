// Steps 1-3 of GPTQ (backend/gptq/gptq.h): activation ordering, dead
// columns, dampening and the factorization into the upper Cholesky factor of
// the inverse, with upstream's RTN fallback. Internal to backend/gptq.
#ifndef WRING_BACKEND_GPTQ_INTERNAL_HESSIAN_FACTORIZATION_H_
#define WRING_BACKEND_GPTQ_INTERNAL_HESSIAN_FACTORIZATION_H_

#include <torch/torch.h>

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace wring {
namespace backend {
namespace gptq {
namespace internal {

// apply_activation_ordering's permutation: the Hessian diagonal's order,
// descending; `hessians` [B, in, in] is permuted along both axes in place.
// Returns the permutation [B, in] (int64).
torch::Tensor OrderByActivation(torch::Tensor& hessians);

// factorize_hessian: marks dead columns (returned, [B, in] bool), dampens
// `hessians` and replaces each by the upper Cholesky factor of its inverse,
// or by the identity where the Cholesky fails (then rtn_fallback[b] is set).
// `batched`: upstream's batched path (batches of >= 16) instead of the
// per-item one.
absl::StatusOr<torch::Tensor> FactorizeInPlace(torch::Tensor& hessians, double dampening_frac,
                                               bool batched, std::vector<bool>& rtn_fallback);

}  // namespace internal
}  // namespace gptq
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_GPTQ_INTERNAL_HESSIAN_FACTORIZATION_H_
