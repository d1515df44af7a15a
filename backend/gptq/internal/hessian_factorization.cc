#include "backend/gptq/internal/hessian_factorization.h"

#include <tuple>

#include "backend/gptq/internal/permute.h"

namespace wring {
namespace backend {
namespace gptq {
namespace internal {
namespace {

// cholesky_ex's failure flags. Reference LAPACK (and MKL, upstream's) stops
// at a NaN pivot; OpenBLAS's potrf only tests pivot <= 0 and goes on, so a
// non-finite factor counts as a failure here too. Its diagonal tells:
// L_ii = sqrt(A_ii - sum_j L_ij^2) is NaN or infinite wherever row i is.
torch::Tensor CholeskyFailed(const torch::Tensor& lower, const torch::Tensor& info) {
  const torch::Tensor non_finite =
      torch::isfinite(torch::diagonal(lower, 0, -2, -1)).logical_not().any(-1);
  return info.ne(0).logical_or(non_finite);
}

// J H J = L Lᵀ (J reverses the order)  =>  H = (J L J)(J L J)ᵀ, J L J upper.
// `h` is replaced by J L J; returns the failure flags. One matrix-sized
// temporary: a 14336-wide Hessian is 822 MB, each fresh one costs its page
// faults.
torch::Tensor ReversedCholeskyInPlace(torch::Tensor& h) {
  torch::Tensor lower = h.flip({-2, -1});
  torch::Tensor info = torch::empty(h.sizes().slice(0, h.dim() - 2), h.options().dtype(torch::kInt));
  torch::linalg_cholesky_ex_out(lower, info, lower, /*upper=*/false, /*check_errors=*/false);
  const torch::Tensor failed = CholeskyFailed(lower, info);
  torch::flip_out(h, lower, {-2, -1});
  return failed;
}

// Upstream's three steps; where the first Cholesky fails, the failure flag
// and no factor. torch.linalg.cholesky(upper=True) after cholesky_inverse
// raises upstream when the inverse is not numerically positive definite.
absl::StatusOr<std::tuple<torch::Tensor, torch::Tensor>> UpperFactorOfInverse(const torch::Tensor& h) {
  auto [lower, info] = torch::linalg_cholesky_ex(h, /*upper=*/false, /*check_errors=*/false);
  const torch::Tensor failed = CholeskyFailed(lower, info);
  // Failed items are factorized as the identity (replaced afterwards).
  const torch::Tensor usable =
      failed.any().item<bool>()
          ? torch::where(failed.unsqueeze(-1).unsqueeze(-1), torch::eye(h.size(-1), h.options()), lower)
          : lower;
  auto [upper, inverse_info] = torch::linalg_cholesky_ex(torch::cholesky_inverse(usable), /*upper=*/true,
                                                         /*check_errors=*/false);
  if (inverse_info.ne(0).any().item<bool>()) {
    return absl::InternalError(
        "GPTQ: the inverse of a dampened Hessian is not positive definite (llm-compressor raises "
        "torch.linalg.LinAlgError here); increase GPTQModifier.dampening_frac");
  }
  return std::make_tuple(upper, failed);
}

// `h` replaced by its factor; returns the failure flags.
absl::StatusOr<torch::Tensor> FactorInPlace(torch::Tensor& h, bool upstream) {
  if (!upstream) return ReversedCholeskyInPlace(h);
  absl::StatusOr<std::tuple<torch::Tensor, torch::Tensor>> factor = UpperFactorOfInverse(h);
  if (!factor.ok()) return factor.status();
  h.copy_(std::get<0>(*factor));
  return std::get<1>(*factor);
}

}  // namespace

torch::Tensor OrderByActivation(torch::Tensor& hessians) {
  const torch::Tensor perm =
      torch::argsort(torch::diagonal(hessians, 0, -2, -1), /*dim=*/-1, /*descending=*/true);
  hessians = PermuteAsFloat(hessians, perm, perm);
  return perm;
}

absl::StatusOr<FactorDiagonal> FactorizeInPlace(torch::Tensor& hessians, double dampening_frac,
                                                bool batched, bool upstream,
                                                std::vector<bool>& rtn_fallback) {
  const int64_t batch = hessians.size(0);
  const int64_t columns = hessians.size(-1);
  torch::Tensor diag = torch::diagonal(hessians, 0, -2, -1);
  const torch::Tensor dead = diag.eq(0);
  if (dead.any().item<bool>()) diag.masked_fill_(dead, 1.0);
  rtn_fallback.assign(batch, false);
  const auto identity = [&] { return torch::eye(columns, hessians.options()); };

  if (!batched) {
    for (int64_t index = 0; index < batch; ++index) {
      torch::Tensor h = hessians[index];
      const torch::Tensor damp = torch::mean(torch::diag(h)) * dampening_frac;
      torch::diagonal(h).add_(damp);
      absl::StatusOr<torch::Tensor> failed = FactorInPlace(h, upstream);
      if (!failed.ok()) return failed.status();
      if (failed->item<bool>()) {
        h.copy_(identity());
        rtn_fallback[index] = true;
      }
    }
  } else {
    const torch::Tensor damp = diag.mean(-1) * dampening_frac;
    diag.add_(damp.unsqueeze(-1));
    absl::StatusOr<torch::Tensor> failed = FactorInPlace(hessians, upstream);
    if (!failed.ok()) return failed.status();
    const torch::Tensor bad = failed->nonzero().flatten().to(torch::kCPU);
    if (bad.numel() > 0) {
      hessians.index_copy_(0, bad.to(hessians.device()), identity().expand({bad.numel(), -1, -1}));
      for (int64_t i = 0; i < bad.numel(); ++i) rtn_fallback[bad[i].item<int64_t>()] = true;
    }
  }
  FactorDiagonal out;
  out.dead = dead;
  out.diagonal = torch::diagonal(hessians, 0, -2, -1).clone();
  if (!upstream) hessians.div_(out.diagonal.unsqueeze(-2));
  return out;
}

}  // namespace internal
}  // namespace gptq
}  // namespace backend
}  // namespace wring
