#include "backend/cpu_kernels/bf16_linear.h"

#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "backend/cpu_kernels/parallel_for.h"

namespace wring {
namespace backend {
namespace cpu_kernels {
namespace {

// One tile: 16 rows of 64 bytes (32 bf16 or 16 float32). A block of output
// is 32 x 32 floats: 2 x 2 accumulator tiles fed by 2 tiles of x and 2 of
// the weight, the eight tiles the hardware has.
constexpr int64_t kBlock = 32;
constexpr int64_t kTileColumns = 16;
// Rows of x per task: with 32 weight columns and up to a few thousand K,
// both operands of a task stay in the core's L2.
constexpr int64_t kRowsPerTask = 256;

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

// The operands as the tiles read them. x: row-major [rows, k_padded], one
// pointer per 32-row block (the caller's rows where they are contiguous and
// K needs no padding, else a zero-padded copy). Weight: per 16 output columns, K/2 rows
// of 16 pairs (w[n][2p], w[n][2p+1]), the pairs the instruction multiplies.
struct Operands {
  std::vector<const uint16_t*> x_blocks;
  const uint16_t* weight_tiles = nullptr;
  int64_t rows = 0, columns = 0, k_padded = 0;
  float* out = nullptr;
};

__attribute__((target("amx-tile,amx-bf16"))) void MultiplyBlocks(const Operands& ops, int64_t first_row,
                                                                   int64_t end_row, int64_t strip) {
  const int64_t k = ops.k_padded, n0 = strip * kBlock;
  const int64_t strip_elements = k * kTileColumns;  // one 16-column group
  const uint16_t* w0 = ops.weight_tiles + (n0 / kTileColumns) * strip_elements;
  const uint16_t* w1 = w0 + strip_elements;
  const int64_t x_bytes = k * 2;
  alignas(64) float edge[kBlock * kBlock];
  for (int64_t m0 = first_row; m0 < end_row; m0 += kBlock) {
    const uint16_t* x0 = ops.x_blocks[m0 / kBlock];
    const uint16_t* x1 = x0 + kTileColumns * k;
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int64_t kk = 0; kk < k; kk += kBlock) {
      _tile_loadd(4, x0 + kk, x_bytes);
      _tile_loadd(5, x1 + kk, x_bytes);
      _tile_loadd(6, w0 + kk * kTileColumns, 64);
      _tile_loadd(7, w1 + kk * kTileColumns, 64);
      _tile_dpbf16ps(0, 4, 6);
      _tile_dpbf16ps(1, 4, 7);
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    }
    const bool whole = m0 + kBlock <= ops.rows && n0 + kBlock <= ops.columns;
    float* c = whole ? ops.out + m0 * ops.columns + n0 : edge;
    const int64_t ldc = whole ? ops.columns : kBlock;
    _tile_stored(0, c, ldc * 4);
    _tile_stored(1, c + kTileColumns, ldc * 4);
    _tile_stored(2, c + kTileColumns * ldc, ldc * 4);
    _tile_stored(3, c + kTileColumns * ldc + kTileColumns, ldc * 4);
    if (!whole) {
      const int64_t rows = std::min(kBlock, ops.rows - m0), columns = std::min(kBlock, ops.columns - n0);
      for (int64_t r = 0; r < rows; ++r) {
        std::memcpy(ops.out + (m0 + r) * ops.columns + n0, edge + r * kBlock, columns * sizeof(float));
      }
    }
  }
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

// One group of 16 weight rows as tiles, where K is even: each output row
// of the group is one 32-bit word (a pair) from each of the 16 rows.
__attribute__((target("avx512f"))) void PackGroupOfPairs(const uint32_t* rows, int64_t pairs, int64_t valid_rows,
                                                         int64_t pairs_padded, uint32_t* group) {
  const __m512i offsets = _mm512_mullo_epi32(
      _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), _mm512_set1_epi32(static_cast<int>(pairs)));
  const __mmask16 valid = static_cast<__mmask16>((1u << valid_rows) - 1);
  for (int64_t p = 0; p < pairs; ++p) {
    _mm512_storeu_si512(group + p * kTileColumns,
                        _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), valid, offsets, rows + p, 4));
  }
  std::memset(group + pairs * kTileColumns, 0, (pairs_padded - pairs) * kTileColumns * sizeof(uint32_t));
}

// The weight [N, K] (row-major) as tiles: zero beyond N and K.
void PackWeightTiles(const uint16_t* w, int64_t n, int64_t k, int64_t k_padded, int64_t groups, uint16_t* tiles) {
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

}  // namespace

bool HasAmxBf16Linear() {
  static const bool amx = AmxWanted() && CpuHasAmxBf16() &&
                          syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
  return amx;
}

absl::StatusOr<torch::Tensor> Bf16LinearToFloat32(const torch::Tensor& x, const torch::Tensor& weight,
                                                  const torch::Tensor& bias) {
  if (x.dim() != 2 || weight.dim() != 2 || x.size(1) != weight.size(1) || x.scalar_type() != torch::kBFloat16 ||
      weight.scalar_type() != torch::kBFloat16 || !x.device().is_cpu() || !weight.device().is_cpu() ||
      (bias.defined() && (bias.dim() != 1 || bias.size(0) != weight.size(0)))) {
    return absl::InvalidArgumentError("bf16 linear: x [M, K] and weight [N, K], both bf16 on the CPU");
  }
  if (!HasAmxBf16Linear()) return absl::FailedPreconditionError("bf16 linear: no AMX tiles here");
  const int64_t m = x.size(0), k = x.size(1), n = weight.size(0);
  torch::Tensor out = torch::empty({m, n}, x.options().dtype(torch::kFloat32));
  if (m > 0 && n > 0 && k == 0) out.zero_();
  if (m > 0 && n > 0 && k > 0) {
    const int64_t k_padded = (k + kBlock - 1) / kBlock * kBlock;
    const int64_t strips = (n + kBlock - 1) / kBlock, blocks = (m + kBlock - 1) / kBlock;
    const torch::Tensor w = weight.contiguous();
    torch::Tensor tiles = torch::empty({strips * kBlock * k_padded}, torch::kInt16);
    PackWeightTiles(reinterpret_cast<const uint16_t*>(w.data_ptr()), n, k, k_padded, strips * 2,
                    reinterpret_cast<uint16_t*>(tiles.data_ptr()));
    // x as it is where its rows are contiguous and K a whole number of
    // chunks, but for a zero-padded last block of fewer than 32 rows.
    Operands ops;
    torch::Tensor padded;
    const bool direct = k == k_padded && x.is_contiguous();
    if (direct) {
      if (m % kBlock != 0) {
        padded = torch::zeros({kBlock, k_padded}, x.options());
        padded.slice(0, 0, m % kBlock).copy_(x.slice(0, m - m % kBlock));
      }
    } else {
      padded = torch::zeros({blocks * kBlock, k_padded}, x.options());
      padded.slice(0, 0, m).slice(1, 0, k).copy_(x);
    }
    for (int64_t b = 0; b < blocks; ++b) {
      const bool whole = direct && (b + 1) * kBlock <= m;
      const at::BFloat16* base =
          whole ? x.data_ptr<at::BFloat16>() + b * kBlock * k
                : padded.data_ptr<at::BFloat16>() + (direct ? 0 : b * kBlock * k_padded);
      ops.x_blocks.push_back(reinterpret_cast<const uint16_t*>(base));
    }
    ops.weight_tiles = reinterpret_cast<const uint16_t*>(tiles.data_ptr());
    ops.rows = m;
    ops.columns = n;
    ops.k_padded = k_padded;
    ops.out = out.data_ptr<float>();
    // Tasks: (rows of x, 32 output columns), columns fastest, so a thread's
    // consecutive tasks share its rows of x.
    const int64_t row_tasks = (m + kRowsPerTask - 1) / kRowsPerTask;
    at::parallel_for(0, row_tasks * strips, 1, [&](int64_t begin, int64_t end) {
      LoadTileConfig();
      for (int64_t task = begin; task < end; ++task) {
        const int64_t first = (task / strips) * kRowsPerTask;
        MultiplyBlocks(ops, first, std::min(first + kRowsPerTask, m), task % strips);
      }
      ReleaseTiles();
    });
  }
  if (bias.defined()) out.add_(bias.to(torch::kFloat32));
  return out;
}

}  // namespace cpu_kernels
}  // namespace backend
}  // namespace wring
