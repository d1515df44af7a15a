// The symmetric product A^T A through the BLAS that LibTorch loaded.
//
// LibTorch has no symmetric rank-k product, and a matrix product computes
// both triangles of a symmetric result; BLAS's ssyrk computes one, half the
// multiply-adds. The BLAS is found at run time (Debian's LibTorch loads
// OpenBLAS through libblas.so.3; another build may bring its own or none),
// so callers keep a LibTorch path for when there is none.
#ifndef WRING_BACKEND_CPU_KERNELS_BLAS_SYRK_H_
#define WRING_BACKEND_CPU_KERNELS_BLAS_SYRK_H_

#include <cstdint>

namespace wring {
namespace backend {
namespace cpu_kernels {

// Whether a BLAS ssyrk is loaded in this process.
bool HasBlasSyrk();

// c = a^T a for `a` [rows, cols] (row-major float32, contiguous): writes
// the lower triangle of `c` [cols, cols] (row-major, c[i * cols + j] for
// j <= i) and leaves the rest alone. False, with `c` untouched, where no
// BLAS ssyrk is loaded or a size does not fit its int arguments.
bool ColumnGramLowerTriangle(const float* a, int64_t rows, int64_t cols, float* c);

}  // namespace cpu_kernels
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_CPU_KERNELS_BLAS_SYRK_H_
