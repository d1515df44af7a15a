#include "backend/awq/factored_gram_loss.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "backend/base/torch_errors.h"
#include "backend/cpu_kernels/bf16_linear.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace awq {

bool FactoredGramLoss::Applies(const torch::Tensor& weight) {
  return weight.defined() && weight.dim() == 2 && weight.device().is_cpu() &&
         weight.scalar_type() == torch::kBFloat16 && cpu_kernels::HasBf16Linear();
}

absl::StatusOr<std::optional<FactoredGramLoss>> FactoredGramLoss::Make(const LinearGram& gram,
                                                                       const torch::Tensor& current) {
  if (!Applies(current) || gram.rows() == 0 || !gram.finite() || gram.width() != current.size(1) ||
      !gram.matrix().device().is_cpu()) {
    return std::optional<FactoredGramLoss>();
  }
  return CatchTorchErrors("AWQ factored Gram loss", [&]() -> absl::StatusOr<std::optional<FactoredGramLoss>> {
    const auto [lower, info] = torch::linalg_cholesky_ex(gram.matrix().to(torch::kDouble));
    if (info.item<int64_t>() != 0) return std::optional<FactoredGramLoss>();
    WRING_ASSIGN_OR_RETURN(cpu_kernels::SplitBf16Factor factor, cpu_kernels::SplitBf16Factor::Make(lower));
    WRING_ASSIGN_OR_RETURN(torch::Tensor reference, factor.Multiply(current));
    return std::optional<FactoredGramLoss>(FactoredGramLoss(std::move(factor), std::move(reference), gram.rows()));
  });
}

absl::StatusOr<double> FactoredGramLoss::MeanSquaredOutput(const torch::Tensor& candidate) const {
  if (candidate.dim() != 2 || candidate.sizes() != reference_.sizes() || candidate.scalar_type() != torch::kBFloat16) {
    return absl::InvalidArgumentError(absl::StrCat("AWQ: a bf16 candidate of shape [", reference_.size(0), ", ",
                                                   reference_.size(1), "] for the factored Gram loss"));
  }
  WRING_ASSIGN_OR_RETURN(const double sum, factor_.SquaredDistance(candidate, reference_));
  return sum / (static_cast<double>(rows_) * static_cast<double>(candidate.size(0)));
}

absl::StatusOr<double> FactoredGramLoss::MeanSquaredOutput(const CandidateRows& candidate) const {
  if (candidate.rows() != reference_.size(0) || candidate.columns() != reference_.size(1)) {
    return absl::InvalidArgumentError(absl::StrCat("AWQ: candidate rows of shape [", candidate.rows(), ", ",
                                                   candidate.columns(), "] for the factored Gram loss of [",
                                                   reference_.size(0), ", ", reference_.size(1), "]"));
  }
  WRING_ASSIGN_OR_RETURN(
      const double sum,
      factor_.SquaredDistanceOfRows(
          candidate.rows(),
          [&candidate](int64_t first, int64_t count, uint16_t* out, int64_t stride) {
            candidate.Fill(first, count, out, stride);
          },
          reference_));
  return sum / (static_cast<double>(rows_) * static_cast<double>(candidate.rows()));
}

double FactoredGramLossFlops(int64_t out, int64_t in) {
  // Two bf16 parts; strip s of 32 columns multiplies the chunks from s on.
  const int64_t chunks = (in + 31) / 32;
  double multiply_adds = 0;
  for (int64_t s = 0; s < chunks; ++s) multiply_adds += 2.0 * 32 * 32 * static_cast<double>(chunks - s);
  return 2.0 * static_cast<double>(out) * multiply_adds;
}

}  // namespace awq
}  // namespace backend
}  // namespace wring
