// Steps 1-3 of GPTQ (backend/gptq/gptq.h): activation ordering, dead
// columns, dampening and the factorization into the upper Cholesky factor of
// the inverse, with upstream's RTN fallback. Internal to backend/gptq.
#ifndef WRING_BACKEND_GPTQ_INTERNAL_HESSIAN_FACTORIZATION_H_
#define WRING_BACKEND_GPTQ_INTERNAL_HESSIAN_FACTORIZATION_H_

#include <torch/torch.h>

#include <vector>

#include "absl/status/status.h"

namespace wring {
namespace backend {
namespace gptq {
namespace internal {

// apply_activation_ordering: permutes `weights` [B, out, in] columns and
// both axes of `hessians` [B, in, in] in place by the Hessian diagonal,
// descending. Returns the permutation [B, in] (int64).
torch::Tensor ApplyActivationOrdering(torch::Tensor& weights, torch::Tensor& hessians);

// factorize_hessian: zeroes dead columns of `weights`, dampens `hessians`
// and replaces each by the upper Cholesky factor of its inverse, or by the
// identity where the Cholesky fails (then rtn_fallback[b] is set).
absl::Status FactorizeHessians(torch::Tensor& weights, torch::Tensor& hessians,
                               double dampening_frac, std::vector<bool>& rtn_fallback);

}  // namespace internal
}  // namespace gptq
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_GPTQ_INTERNAL_HESSIAN_FACTORIZATION_H_
