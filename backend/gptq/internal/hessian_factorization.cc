#include "backend/gptq/internal/hessian_factorization.h"

#include <tuple>

#include "absl/strings/str_cat.h"

namespace wring {
namespace backend {
namespace gptq {
namespace internal {
namespace {

// torch.linalg.cholesky(upper=True) after cholesky_inverse raises upstream
// when the inverse is not numerically positive definite.
absl::Status UpperFactorOfInverse(const torch::Tensor& lower, torch::Tensor out) {
  const torch::Tensor inverse = torch::cholesky_inverse(lower);
  auto [upper, info] = torch::linalg_cholesky_ex(inverse, /*upper=*/true, /*check_errors=*/false);
  if (info.ne(0).any().item<bool>()) {
    return absl::InternalError(
        "GPTQ: the inverse of a dampened Hessian is not positive definite (llm-compressor raises "
        "torch.linalg.LinAlgError here); increase GPTQModifier.dampening_frac");
  }
  out.copy_(upper);
  return absl::OkStatus();
}

// cholesky_ex's failure flags. Reference LAPACK (and MKL, upstream's) stops
// at a NaN pivot; OpenBLAS's potrf only tests pivot <= 0 and goes on, so a
// non-finite factor counts as a failure here too.
torch::Tensor CholeskyFailed(const torch::Tensor& lower, const torch::Tensor& info) {
  const torch::Tensor non_finite = torch::isfinite(lower).logical_not().flatten(-2).any(-1);
  return info.ne(0).logical_or(non_finite);
}

}  // namespace

torch::Tensor OrderByActivation(torch::Tensor& hessians) {
  const int64_t columns = hessians.size(-1);
  const torch::Tensor perm =
      torch::argsort(torch::diagonal(hessians, 0, -2, -1), /*dim=*/-1, /*descending=*/true);
  torch::Tensor permuted =
      torch::gather(hessians, -1, perm.unsqueeze(-2).expand({-1, columns, -1}));
  permuted = torch::gather(permuted, -2, perm.unsqueeze(-1).expand({-1, -1, columns}));
  hessians.copy_(permuted);
  return perm;
}

absl::StatusOr<torch::Tensor> FactorizeInPlace(torch::Tensor& hessians, double dampening_frac,
                                               bool batched, std::vector<bool>& rtn_fallback) {
  const int64_t batch = hessians.size(0);
  const int64_t columns = hessians.size(-1);
  torch::Tensor diag = torch::diagonal(hessians, 0, -2, -1);
  const torch::Tensor dead = diag.eq(0);
  if (dead.any().item<bool>()) diag.masked_fill_(dead, 1.0);
  rtn_fallback.assign(batch, false);
  const torch::Tensor identity = torch::eye(columns, hessians.options());

  if (!batched) {
    for (int64_t index = 0; index < batch; ++index) {
      torch::Tensor h = hessians[index];
      const torch::Tensor damp = torch::mean(torch::diag(h)) * dampening_frac;
      torch::diagonal(h).add_(damp);
      auto [lower, info] =
          torch::linalg_cholesky_ex(h, /*upper=*/false, /*check_errors=*/false);
      if (!CholeskyFailed(lower, info).item<bool>()) {
        if (absl::Status s = UpperFactorOfInverse(lower, h); !s.ok()) return s;
      } else {
        h.copy_(identity);
        rtn_fallback[index] = true;
      }
    }
    return dead;
  }

  const torch::Tensor damp = diag.mean(-1) * dampening_frac;
  diag.add_(damp.unsqueeze(-1));
  auto [lower, info] = torch::linalg_cholesky_ex(hessians, /*upper=*/false, /*check_errors=*/false);
  const torch::Tensor bad = CholeskyFailed(lower, info).nonzero().flatten().to(torch::kCPU);
  if (bad.numel() > 0) {
    lower.index_copy_(0, bad.to(lower.device()), identity.expand({bad.numel(), -1, -1}));
    for (int64_t i = 0; i < bad.numel(); ++i) rtn_fallback[bad[i].item<int64_t>()] = true;
  }
  if (absl::Status s = UpperFactorOfInverse(lower, hessians); !s.ok()) return s;
  return dead;
}

}  // namespace internal
}  // namespace gptq
}  // namespace backend
}  // namespace wring
