// The Gram-matrix loss of a bf16 Linear parent on AMX tiles or AVX512-BF16.
//
// LinearGram scores a candidate W' by tr(D G D^T), D = W' - W, from D^T D
// in float32 (BLAS ssyrk, one core's float32 units). With G = L L^T (a
// Cholesky factor, float64) the same sum is
//   ||D L||^2 = ||W' L - W L||^2,
// where L and W L are fixed for the mapping and W' is the bf16 candidate
// itself, so each candidate is one product on the tiles against L held as
// two bf16 parts, its zero upper triangle skipped
// (cpu_kernels::SplitBf16Factor): twice ssyrk's multiply-adds at several
// times the rate on the tiles, and at about 2.3 times it by AVX512-BF16
// dot products. The sum agrees with LinearGram's to about 1e-5 of the
// loss (the parts stand for L to 2^-17), far inside the bf16 rounding of
// upstream's own outputs.
#ifndef WRING_BACKEND_AWQ_FACTORED_GRAM_LOSS_H_
#define WRING_BACKEND_AWQ_FACTORED_GRAM_LOSS_H_

#include <torch/torch.h>

#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "backend/awq/candidate_weight.h"
#include "backend/awq/linear_gram.h"
#include "backend/cpu_kernels/split_bf16_product.h"

namespace wring {
namespace backend {
namespace awq {

class FactoredGramLoss {
 public:
  // Whether the loss can serve a Linear of this weight: bf16 on the CPU,
  // AMX tiles or AVX512-BF16 here (cpu_kernels::HasBf16Linear).
  static bool Applies(const torch::Tensor& weight);

  // For `gram`'s inputs and the parent's current weight [out, in]; nullopt
  // where it does not apply or G is not positive definite (fewer
  // independent inputs than its width): LinearGram's own loss serves then.
  static absl::StatusOr<std::optional<FactoredGramLoss>> Make(const LinearGram& gram,
                                                              const torch::Tensor& current);

  // LinearGram::MeanSquaredOutput for the bf16 candidate W' [out, in].
  absl::StatusOr<double> MeanSquaredOutput(const torch::Tensor& candidate) const;
  // The same from the candidate's rows, made a block at a time as the
  // product takes them (the whole W' is never written out).
  absl::StatusOr<double> MeanSquaredOutput(const CandidateRows& candidate) const;

 private:
  FactoredGramLoss(cpu_kernels::SplitBf16Factor factor, torch::Tensor reference, int64_t rows)
      : factor_(std::move(factor)), reference_(std::move(reference)), rows_(rows) {}

  cpu_kernels::SplitBf16Factor factor_;
  torch::Tensor reference_;  // W L, float32 [out, in]
  int64_t rows_;             // inputs behind G
};

// Matrix FLOPs (2 per multiply-add) of one FactoredGramLoss::MeanSquaredOutput
// for weights [out, in].
double FactoredGramLossFlops(int64_t out, int64_t in);

}  // namespace awq
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_AWQ_FACTORED_GRAM_LOSS_H_
