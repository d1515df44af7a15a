#include "backend/cpu_kernels/bf16_linear.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "backend/cpu_kernels/internal/amx_tiles.h"
#include "backend/cpu_kernels/parallel_for.h"

namespace wring {
namespace backend {
namespace cpu_kernels {
namespace {

using internal::kTileColumns;
constexpr int64_t kBlock = internal::kTileBlock;
// Rows of x per task: with 32 weight columns and up to a few thousand K,
// both operands of a task stay in the core's L2.
constexpr int64_t kRowsPerTask = 256;

// The operands as the tiles read them (internal::LeftOperandBlocks and
// internal::PackWeightTiles).
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

}  // namespace

bool HasAmxBf16Linear() { return internal::AmxTilesGranted(); }

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
    const int64_t strips = (n + kBlock - 1) / kBlock;
    const torch::Tensor w = weight.contiguous();
    torch::Tensor tiles = torch::empty({strips * kBlock * k_padded}, torch::kInt16);
    internal::PackWeightTiles(reinterpret_cast<const uint16_t*>(w.data_ptr()), n, k, k_padded, strips * 2,
                              reinterpret_cast<uint16_t*>(tiles.data_ptr()));
    const internal::LeftBlocks left = internal::LeftOperandBlocks(x);
    Operands ops;
    ops.x_blocks = left.blocks;
    ops.weight_tiles = reinterpret_cast<const uint16_t*>(tiles.data_ptr());
    ops.rows = m;
    ops.columns = n;
    ops.k_padded = k_padded;
    ops.out = out.data_ptr<float>();
    // Tasks: (rows of x, 32 output columns), columns fastest, so a thread's
    // consecutive tasks share its rows of x.
    const int64_t row_tasks = (m + kRowsPerTask - 1) / kRowsPerTask;
    at::parallel_for(0, row_tasks * strips, 1, [&](int64_t begin, int64_t end) {
      internal::LoadTileConfig();
      for (int64_t task = begin; task < end; ++task) {
        const int64_t first = (task / strips) * kRowsPerTask;
        MultiplyBlocks(ops, first, std::min(first + kRowsPerTask, m), task % strips);
      }
      internal::ReleaseTiles();
    });
  }
  if (bias.defined()) out.add_(bias.to(torch::kFloat32));
  return out;
}

}  // namespace cpu_kernels
}  // namespace backend
}  // namespace wring
