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

using RowSums = __m512[kRows][2];

// Adds `pairs` pairs of kRows rows of `left` (row stride `row_elements`)
// times two groups of 16 packed columns to `sums`, pair by pair. Inlined
// and unrolled, so that the sums live in registers rather than in memory.
__attribute__((target("avx512f,avx512bf16"), always_inline)) inline void AddPairs(
    RowSums& sums, const uint16_t* left, int64_t row_elements, const uint32_t* right0, const uint32_t* right1,
    int64_t pairs) {
  for (int64_t p = 0; p < pairs; ++p) {
    const __m512bh w0 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(right0 + p * kTileColumns));
    const __m512bh w1 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(right1 + p * kTileColumns));
#pragma GCC unroll 8
    for (int64_t r = 0; r < kRows; ++r) {
      int32_t pair;
      std::memcpy(&pair, left + r * row_elements + 2 * p, sizeof(pair));
      const __m512bh x = reinterpret_cast<__m512bh>(_mm512_set1_epi32(pair));
      sums[r][0] = _mm512_dpbf16_ps(sums[r][0], x, w0);
      sums[r][1] = _mm512_dpbf16_ps(sums[r][1], x, w1);
    }
  }
}

__attribute__((target("avx512f,avx512bf16"), always_inline)) inline void ZeroSums(RowSums& sums) {
#pragma GCC unroll 8
  for (int64_t r = 0; r < kRows; ++r) sums[r][0] = sums[r][1] = _mm512_setzero_ps();
}

__attribute__((target("avx512f,avx512bf16"), always_inline)) inline void StoreSums(const RowSums& sums, float* c,
                                                                                    int64_t ldc) {
#pragma GCC unroll 8
  for (int64_t r = 0; r < kRows; ++r) {
    _mm512_storeu_ps(c + r * ldc, sums[r][0]);
    _mm512_storeu_ps(c + r * ldc + kTileColumns, sums[r][1]);
  }
}

__attribute__((target("avx512f,avx512bf16"))) void DotRows(const uint16_t* left, const uint32_t* right0,
                                                           const uint32_t* right1, int64_t pairs, float* c,
                                                           int64_t ldc) {
  RowSums sums;
  ZeroSums(sums);
  AddPairs(sums, left, 2 * pairs, right0, right1, pairs);
  StoreSums(sums, c, ldc);
}

__attribute__((target("avx512f,avx512bf16"))) void SplitDotRows(const uint16_t* left, int64_t row_elements,
                                                                const uint32_t* chunk, int64_t first,
                                                                int64_t chunks, float* c) {
  constexpr int64_t kPairs = kTileBlock / 2, kGroup = kTileElements / 2;  // pairs per chunk, words per group
  RowSums sums;
  ZeroSums(sums);
  for (int64_t k = first; k < chunks; ++k, chunk += 4 * kGroup) {
    AddPairs(sums, left + k * kTileBlock, row_elements, chunk, chunk + kGroup, kPairs);
    AddPairs(sums, left + k * kTileBlock, row_elements, chunk + 2 * kGroup, chunk + 3 * kGroup, kPairs);
  }
  StoreSums(sums, c, kTileBlock);
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

void SplitDotBlock(const uint16_t* left, int64_t row_elements, const uint16_t* chunks_from_first, int64_t first,
                   int64_t chunks, float* block) {
  for (int64_t m = 0; m < kTileBlock; m += kRows) {
    SplitDotRows(left + m * row_elements, row_elements, reinterpret_cast<const uint32_t*>(chunks_from_first),
                 first, chunks, block + m * kTileBlock);
  }
}

}  // namespace internal
}  // namespace cpu_kernels
}  // namespace backend
}  // namespace wring
