#include "backend/cpu_kernels/internal/amx_tiles.h"

#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "backend/cpu_kernels/parallel_for.h"

namespace wring {
namespace backend {
namespace cpu_kernels {
namespace internal {
namespace {

// Linux keeps the 8 KB tile state off until a process asks for it.
constexpr int kArchReqXcompPerm = 0x1023;
constexpr int kXfeatureXtiledata = 18;

struct TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t bytes_per_row[16] = {};
  uint8_t rows[16] = {};
};

bool CpuHasAmxBf16() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool amx_bf16 = (d >> 22) & 1, amx_tile = (d >> 24) & 1;
  return amx_bf16 && amx_tile;
}

bool AmxWanted() {
  const char* amx = std::getenv("WRING_AMX");
  return amx == nullptr || std::strcmp(amx, "0") != 0;
}

// One group of 16 weight rows as tiles, where K is even: each output row
// of the group is one 32-bit word (a pair) from each of the 16 rows.
__attribute__((target("avx512f"))) void PackGroupOfPairs(const uint32_t* rows, int64_t pairs, int64_t valid_rows,
                                                         int64_t pairs_padded, uint32_t* group) {
  const __m512i offsets =
      _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                         _mm512_set1_epi32(static_cast<int>(pairs)));
  const __mmask16 valid = static_cast<__mmask16>((1u << valid_rows) - 1);
  for (int64_t p = 0; p < pairs; ++p) {
    _mm512_storeu_si512(group + p * kTileColumns,
                        _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), valid, offsets, rows + p, 4));
  }
  std::memset(group + pairs * kTileColumns, 0, (pairs_padded - pairs) * kTileColumns * sizeof(uint32_t));
}

}  // namespace

bool AmxTilesGranted() {
  static const bool amx = AmxWanted() && CpuHasAmxBf16() &&
                          syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
  return amx;
}

__attribute__((target("amx-tile,amx-bf16"))) void LoadTileConfig() {
  TileConfig config;
  for (int t = 0; t < 8; ++t) {
    config.rows[t] = kTileColumns;
    config.bytes_per_row[t] = 64;
  }
  _tile_loadconfig(&config);
}

__attribute__((target("amx-tile,amx-bf16"))) void ReleaseTiles() { _tile_release(); }

LeftBlocks LeftOperandBlocks(const torch::Tensor& x) {
  const int64_t m = x.size(0), k = x.size(1);
  LeftBlocks left;
  left.row_elements = (k + kTileBlock - 1) / kTileBlock * kTileBlock;
  const int64_t blocks = (m + kTileBlock - 1) / kTileBlock;
  const bool direct = k == left.row_elements && x.is_contiguous();
  if (direct) {
    if (m % kTileBlock != 0) {
      left.padded = torch::zeros({kTileBlock, k}, x.options());
      left.padded.slice(0, 0, m % kTileBlock).copy_(x.slice(0, m - m % kTileBlock));
    }
  } else {
    left.padded = torch::zeros({blocks * kTileBlock, left.row_elements}, x.options());
    left.padded.slice(0, 0, m).slice(1, 0, k).copy_(x);
  }
  for (int64_t b = 0; b < blocks; ++b) {
    const bool whole = direct && (b + 1) * kTileBlock <= m;
    const at::BFloat16* base = whole ? x.data_ptr<at::BFloat16>() + b * kTileBlock * k
                                     : left.padded.data_ptr<at::BFloat16>() +
                                           (direct ? 0 : b * kTileBlock * left.row_elements);
    left.blocks.push_back(reinterpret_cast<const uint16_t*>(base));
  }
  return left;
}

void PackWeightTiles(const uint16_t* w, int64_t n, int64_t k, int64_t k_padded, int64_t groups,
                     uint16_t* tiles) {
  at::parallel_for(0, groups, 1, [&](int64_t begin, int64_t end) {
    for (int64_t g = begin; g < end; ++g) {
      uint16_t* group = tiles + g * k_padded * kTileColumns;
      const int64_t valid_rows = std::max<int64_t>(0, std::min(kTileColumns, n - g * kTileColumns));
      if (k % 2 == 0 && valid_rows > 0) {
        PackGroupOfPairs(reinterpret_cast<const uint32_t*>(w + g * kTileColumns * k), k / 2, valid_rows,
                         k_padded / 2, reinterpret_cast<uint32_t*>(group));
        continue;
      }
      std::memset(group, 0, k_padded * kTileColumns * sizeof(uint16_t));
      for (int64_t j = 0; j < valid_rows; ++j) {
        const uint16_t* row = w + (g * kTileColumns + j) * k;
        for (int64_t kk = 0; kk < k; ++kk) group[(kk / 2) * 2 * kTileColumns + j * 2 + (kk % 2)] = row[kk];
      }
    }
  });
}

}  // namespace internal
}  // namespace cpu_kernels
}  // namespace backend
}  // namespace wring
