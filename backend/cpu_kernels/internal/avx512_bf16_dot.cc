#include "backend/cpu_kernels/internal/avx512_bf16_dot.h"

#include <immintrin.h>

#include <cstdlib>
#include <cstring>

#include "backend/cpu_kernels/internal/amx_tiles.h"

namespace wring {
namespace backend {
namespace cpu_kernels {
namespace internal {
namespace {

// Rows per register block: 8 rows x 2 groups of 16 columns is 16 float32
// accumulators, enough independent sums to cover the instruction's
// latency, and leaves registers for the two weight vectors.
constexpr int64_t kRows = 8;

bool DotWanted() {
  const char* dot = std::getenv("WRING_BF16_DOT");
  return dot == nullptr || std::strcmp(dot, "0") != 0;
}

__attribute__((target("avx512f,avx512bf16"))) void DotRows(const uint16_t* left, const uint32_t* right0,
                                                           const uint32_t* right1, int64_t pairs, float* c,
                                                           int64_t ldc) {
  __m512 sums[kRows][2];
  // Unrolled, so that the sums live in registers rather than in memory.
#pragma GCC unroll 8
  for (int64_t r = 0; r < kRows; ++r) sums[r][0] = sums[r][1] = _mm512_setzero_ps();
  for (int64_t p = 0; p < pairs; ++p) {
    const __m512bh w0 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(right0 + p * kTileColumns));
    const __m512bh w1 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(right1 + p * kTileColumns));
#pragma GCC unroll 8
    for (int64_t r = 0; r < kRows; ++r) {
      int32_t pair;
      std::memcpy(&pair, left + r * 2 * pairs + 2 * p, sizeof(pair));
      const __m512bh x = reinterpret_cast<__m512bh>(_mm512_set1_epi32(pair));
      sums[r][0] = _mm512_dpbf16_ps(sums[r][0], x, w0);
      sums[r][1] = _mm512_dpbf16_ps(sums[r][1], x, w1);
    }
  }
#pragma GCC unroll 8
  for (int64_t r = 0; r < kRows; ++r) {
    _mm512_storeu_ps(c + r * ldc, sums[r][0]);
    _mm512_storeu_ps(c + r * ldc + kTileColumns, sums[r][1]);
  }
}

}  // namespace

bool Avx512Bf16DotWanted() {
  static const bool wanted = DotWanted() && __builtin_cpu_supports("avx512f") &&
                             __builtin_cpu_supports("avx512bf16");
  return wanted;
}

void DotBlock(const uint16_t* left, const uint16_t* right, int64_t k_padded, float* c, int64_t ldc) {
  const int64_t pairs = k_padded / 2;
  const uint32_t* right0 = reinterpret_cast<const uint32_t*>(right);
  const uint32_t* right1 = right0 + pairs * kTileColumns;
  for (int64_t m = 0; m < kTileBlock; m += kRows) {
    DotRows(left + m * k_padded, right0, right1, pairs, c + m * ldc, ldc);
  }
}

}  // namespace internal
}  // namespace cpu_kernels
}  // namespace backend
}  // namespace wring
