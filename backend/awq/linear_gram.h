// The exact shortcut for AWQ mappings whose parent is one Linear that is
// also the only balance layer (v_proj -> o_proj, up_proj -> down_proj).
//
// Upstream scores each grid candidate by running the parent on every cached
// input and taking the mean squared difference to the reference output. For
// a Linear the output difference is X (W' - W)^T (the bias cancels), so
//   sum ||X (W' - W)^T||^2 = tr(D G D^T),  D = W' - W,  G = X^T X.
// G is accumulated once, as the inputs arrive, so neither the inputs nor a
// forward per candidate are needed: per candidate the cost falls from
// 2·tokens·in·out to 2·out·in² multiply-adds, and the cache from
// tokens·in values to in². The loss is evaluated in float32 from the
// exact weight difference, where upstream's rounds the outputs to the model
// dtype first; the two agree to float tolerance (tested against upstream's
// grid losses), so near-ties aside the chosen scales are the same.
#ifndef WRING_BACKEND_AWQ_LINEAR_GRAM_H_
#define WRING_BACKEND_AWQ_LINEAR_GRAM_H_

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "backend/distributed/collectives.h"
#include "backend/gram/input_gram.h"

namespace wring {
namespace backend {
namespace awq {

class LinearGram {
 public:
  // `blas`: D^T D by the loaded BLAS's ssyrk where G is on the CPU; false
  // takes LibTorch's products, as on a GPU (the tests compare both).
  explicit LinearGram(bool blas = true) : blas_(blas) {}

  // `input` [..., in] of any floating dtype; accumulated in float32 on the
  // input's device.
  absl::Status Add(const torch::Tensor& input) {
    Forget();
    return gram_.Add(input);
  }

  int64_t rows() const { return gram_.rows(); }
  int64_t width() const { return gram_.width(); }
  // G [in, in] float32; undefined before the first Add.
  const torch::Tensor& matrix() const { return gram_.matrix(); }
  // Whether every input was finite (a non-finite one makes upstream's
  // reference output non-finite, and it skips the mapping).
  bool finite() const { return gram_.finite(); }
  // Data-parallel workers: every rank ends with the Gram matrix and row
  // count of all ranks' inputs (a non-finite input anywhere stays visible
  // in the sum).
  absl::Status SumOverRanks(distributed::Collectives& collectives, absl::string_view what) {
    Forget();
    return gram_.SumOverRanks(collectives, what);
  }

  // The mean over rows() x out elements of (X trial^T - X current^T)^2,
  // for weights [out, in].
  absl::StatusOr<double> MeanSquaredOutputDifference(const torch::Tensor& current,
                                                     const torch::Tensor& trial) const;
  // The same from D = trial - current [out, in] (float32, as
  // CandidateWeight's kFloat32Difference gives it): <G, D^T D>, from one
  // triangle of the symmetric D^T D (GramLossFlops). Not thread-safe (it
  // caches what it derives from G).
  absl::StatusOr<double> MeanSquaredOutput(const torch::Tensor& difference) const;

 private:
  void Forget() {
    blocks_.clear();
    lower_weights_ = torch::Tensor();
  }
  absl::StatusOr<double> SumByBlas(const torch::Tensor& difference) const;
  double SumByBlocks(const torch::Tensor& difference) const;

  bool blas_;
  gram::InputGram gram_;
  // Where a BLAS ssyrk computes D^T D's lower triangle (a CPU G): G's lower
  // triangle with the off-diagonal doubled (float64, for the dot product's
  // accumulator), and the triangle's buffer.
  mutable torch::Tensor lower_weights_;
  mutable torch::Tensor product_;
  // Otherwise, G's blocks of rows on and right of the diagonal,
  // contiguous, with the diagonal block halved: each candidate's loss is
  // then one dot product per block.
  mutable std::vector<torch::Tensor> blocks_;
};

// Matrix FLOPs (2 per multiply-add) of one MeanSquaredOutput for weights
// [out, in]: one triangle of D^T D where a BLAS ssyrk is loaded
// (out·in·(in + 1)), else blocks of columns on and right of the diagonal,
// a little over half of the full D G product's 2·out·in².
double GramLossFlops(int64_t out, int64_t in);

}  // namespace awq
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_AWQ_LINEAR_GRAM_H_
