// A float32 right-hand factor on AMX tiles (or by AVX512-BF16 dot products
// where the CPU has no tiles), for products whose left operand
// is bf16: F is held as F_hi + F_lo, both bf16 (F_hi = bf16(F), F_lo =
// bf16(F - F_hi)), so x F_hi + x F_lo are exact products summed in float32
// and stand for x F to about 2^-17 of F's entries. AWQ scores a Linear
// parent's candidates as ||W' L - W L||^2 with G = L L^T (awq/
// factored_gram_loss.h): L is fixed per mapping and W' is bf16, which the
// tiles multiply several times faster than float32 units do.
//
// Chunks of 32 rows of F that are zero for a whole 32-column strip are
// skipped, so a triangular F costs half a full one. Every output sums in
// one fixed order (per chunk: x F_hi's 32 products, then x F_lo's), so a
// row's result does not depend on the rows beside it, and reductions run
// in a fixed order for any number of threads.
#ifndef WRING_BACKEND_CPU_KERNELS_SPLIT_BF16_PRODUCT_H_
#define WRING_BACKEND_CPU_KERNELS_SPLIT_BF16_PRODUCT_H_

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"

namespace wring {
namespace backend {
namespace cpu_kernels {

class SplitBf16Factor {
 public:
  // `factor` [K, N], float32 or float64 on the CPU. An error where neither
  // kernel is available (HasBf16Linear) or the factor is not 2-D and finite.
  static absl::StatusOr<SplitBf16Factor> Make(const torch::Tensor& factor);

  int64_t rows() const { return k_; }
  int64_t columns() const { return n_; }
  // Multiply-adds per left row, counting the two parts and skipping the
  // zero chunks.
  double MultiplyAddsPerRow() const;

  // x [M, K] bf16 on the CPU: x F_hi + x F_lo, float32 [M, N].
  absl::StatusOr<torch::Tensor> Multiply(const torch::Tensor& x) const;
  // sum over [M, N] of (x F_hi + x F_lo - reference)^2 in float64;
  // `reference` [M, N] float32 (Multiply of another x, typically).
  absl::StatusOr<double> SquaredDistance(const torch::Tensor& x, const torch::Tensor& reference) const;

  // Writes rows [first, first + count) of a bf16 x [M, K] as bits, row i at
  // out + i * stride; called from several threads at once.
  using RowSource = std::function<void(int64_t first, int64_t count, uint16_t* out, int64_t stride)>;
  // SquaredDistance for an x of `m` rows that `rows` produces 256 at a
  // time, each block multiplied while it is in the core's cache, so x never
  // exists whole (SquaredDistance copies its rows in the same way).
  absl::StatusOr<double> SquaredDistanceOfRows(int64_t m, const RowSource& rows,
                                               const torch::Tensor& reference) const;

 private:
  SplitBf16Factor() = default;
  absl::Status CheckLeft(const torch::Tensor& x) const;
  absl::Status CheckReference(int64_t m, const torch::Tensor& reference) const;
  // The products of x into `out` [M, N].
  void Run(const torch::Tensor& x, float* out) const;

  int64_t k_ = 0, n_ = 0, k_padded_ = 0;
  // Per 32-column strip: its first nonzero chunk of 32 rows, and where its
  // tiles start; from there, per chunk, four tiles: F_hi's two 16-column
  // groups, then F_lo's.
  std::vector<int64_t> first_chunk_, strip_offset_;
  torch::Tensor tiles_;
};

}  // namespace cpu_kernels
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_CPU_KERNELS_SPLIT_BF16_PRODUCT_H_
