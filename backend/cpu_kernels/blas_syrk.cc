#include "backend/cpu_kernels/blas_syrk.h"

#include <dlfcn.h>

#include <cstddef>
#include <limits>

namespace wring {
namespace backend {
namespace cpu_kernels {
namespace {

// The Fortran BLAS interface (LP64 ints, as Debian's libblas.so.3
// alternatives and LibTorch's BLAS builds use), with the hidden lengths of
// the character arguments that gfortran-built BLAS expect last.
using Ssyrk = void (*)(const char* uplo, const char* trans, const int* n, const int* k, const float* alpha,
                       const float* a, const int* lda, const float* beta, float* c, const int* ldc,
                       size_t uplo_length, size_t trans_length);

Ssyrk LoadedSsyrk() {
  static const Ssyrk ssyrk = reinterpret_cast<Ssyrk>(dlsym(RTLD_DEFAULT, "ssyrk_"));
  return ssyrk;
}

}  // namespace

bool HasBlasSyrk() { return LoadedSsyrk() != nullptr; }

bool ColumnGramLowerTriangle(const float* a, int64_t rows, int64_t cols, float* c) {
  const Ssyrk ssyrk = LoadedSsyrk();
  constexpr int64_t kMaxInt = std::numeric_limits<int>::max();
  if (ssyrk == nullptr || rows <= 0 || cols <= 0 || rows > kMaxInt || cols > kMaxInt) return false;
  // Row-major a [rows, cols] is the column-major cols x rows matrix a^T;
  // its product with its transpose, (a^T)(a^T)^T = a^T a, column-major
  // upper triangle = row-major lower triangle.
  const int n = static_cast<int>(cols), k = static_cast<int>(rows);
  const float one = 1.0f, zero = 0.0f;
  ssyrk("U", "N", &n, &k, &one, a, &n, &zero, c, &n, 1, 1);
  return true;
}

}  // namespace cpu_kernels
}  // namespace backend
}  // namespace wring
