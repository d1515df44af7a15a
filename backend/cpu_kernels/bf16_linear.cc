#include "backend/cpu_kernels/bf16_linear.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "backend/cpu_kernels/internal/amx_tiles.h"
#include "backend/cpu_kernels/internal/avx512_bf16_dot.h"
#include "backend/cpu_kernels/parallel_for.h"

namespace wring {
namespace backend {
namespace cpu_kernels {
namespace {

using internal::kTileColumns;
constexpr int64_t kBlock = internal::kTileBlock;
// Rows of the left operand per task: with 32 right-operand rows and up to
// a few thousand K, both operands of a task stay in the core's L2.
constexpr int64_t kRowsPerTask = 256;

// left right^T as the kernels read it (internal::LeftOperandBlocks and
// internal::PackWeightTiles): a [rows, columns] float32 result, written
// as it is or transposed ([columns, rows]).
struct Operands {
  std::vector<const uint16_t*> left_blocks;
  const uint16_t* right_tiles = nullptr;
  int64_t rows = 0, columns = 0, k_padded = 0;
  bool transposed = false;
  float* out = nullptr;
};

// One 32 x 32 block of the result, as a kernel stored it (row stride
// kBlock), into the output.
void StoreBlock(const Operands& ops, const float* block, int64_t m0, int64_t n0) {
  const int64_t rows = std::min(kBlock, ops.rows - m0), columns = std::min(kBlock, ops.columns - n0);
  if (!ops.transposed) {
    for (int64_t r = 0; r < rows; ++r) {
      std::memcpy(ops.out + (m0 + r) * ops.columns + n0, block + r * kBlock, columns * sizeof(float));
    }
    return;
  }
  for (int64_t c = 0; c < columns; ++c) {
    float* to = ops.out + (n0 + c) * ops.rows + m0;
    for (int64_t r = 0; r < rows; ++r) to[r] = block[r * kBlock + c];
  }
}

// One 32 x 32 block on the tiles: `left` 32 rows of `k_padded` bf16, `right`
// two packed groups of 16 columns one after the other (as internal::DotBlock
// takes them), into c (row stride ldc).
__attribute__((target("amx-tile,amx-bf16"))) void TileBlock(const uint16_t* left, const uint16_t* right,
                                                              int64_t k_padded, float* c, int64_t ldc) {
  const uint16_t* x1 = left + kTileColumns * k_padded;
  const uint16_t* w1 = right + k_padded * kTileColumns;
  const int64_t x_bytes = k_padded * 2;
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int64_t kk = 0; kk < k_padded; kk += kBlock) {
    _tile_loadd(4, left + kk, x_bytes);
    _tile_loadd(5, x1 + kk, x_bytes);
    _tile_loadd(6, right + kk * kTileColumns, 64);
    _tile_loadd(7, w1 + kk * kTileColumns, 64);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, c, ldc * 4);
  _tile_stored(1, c + kTileColumns, ldc * 4);
  _tile_stored(2, c + kTileColumns * ldc, ldc * 4);
  _tile_stored(3, c + kTileColumns * ldc + kTileColumns, ldc * 4);
}

// Rows [first_row, end_row) of one 32-column strip, block by block, on the
// tiles or by AVX512-BF16 dot products; whole blocks of an untransposed
// result straight into the output, the others through StoreBlock.
void MultiplyBlocks(const Operands& ops, bool on_tiles, int64_t first_row, int64_t end_row, int64_t strip) {
  const int64_t n0 = strip * kBlock;
  const uint16_t* right = ops.right_tiles + (n0 / kTileColumns) * ops.k_padded * kTileColumns;
  alignas(64) float edge[kBlock * kBlock];
  for (int64_t m0 = first_row; m0 < end_row; m0 += kBlock) {
    const bool direct = !ops.transposed && m0 + kBlock <= ops.rows && n0 + kBlock <= ops.columns;
    float* c = direct ? ops.out + m0 * ops.columns + n0 : edge;
    const int64_t ldc = direct ? ops.columns : kBlock;
    if (on_tiles) {
      TileBlock(ops.left_blocks[m0 / kBlock], right, ops.k_padded, c, ldc);
    } else {
      internal::DotBlock(ops.left_blocks[m0 / kBlock], right, ops.k_padded, c, ldc);
    }
    if (!direct) StoreBlock(ops, edge, m0, n0);
  }
}

// left [rows, K] times right [columns, K] transposed, both bf16 on the
// CPU, into `out` ([rows, columns], or [columns, rows] when `transposed`).
void PackedProduct(const torch::Tensor& left, const torch::Tensor& right, bool transposed, float* out) {
  const int64_t rows = left.size(0), k = left.size(1), columns = right.size(0);
  const int64_t k_padded = (k + kBlock - 1) / kBlock * kBlock;
  const int64_t strips = (columns + kBlock - 1) / kBlock;
  const torch::Tensor r = right.contiguous();
  torch::Tensor tiles = torch::empty({strips * kBlock * k_padded}, torch::kInt16);
  internal::PackWeightTiles(reinterpret_cast<const uint16_t*>(r.data_ptr()), columns, k, k_padded, strips * 2,
                            reinterpret_cast<uint16_t*>(tiles.data_ptr()));
  const internal::LeftBlocks blocks = internal::LeftOperandBlocks(left);
  Operands ops;
  ops.left_blocks = blocks.blocks;
  ops.right_tiles = reinterpret_cast<const uint16_t*>(tiles.data_ptr());
  ops.rows = rows;
  ops.columns = columns;
  ops.k_padded = k_padded;
  ops.transposed = transposed;
  ops.out = out;
  // Tasks: (rows of the left operand, 32 columns), columns fastest, so a
  // thread's consecutive tasks share its rows of the left operand.
  const int64_t row_tasks = (rows + kRowsPerTask - 1) / kRowsPerTask;
  const bool on_tiles = HasAmxBf16Linear();
  at::parallel_for(0, row_tasks * strips, 1, [&](int64_t begin, int64_t end) {
    if (on_tiles) internal::LoadTileConfig();
    for (int64_t task = begin; task < end; ++task) {
      const int64_t first = (task / strips) * kRowsPerTask;
      MultiplyBlocks(ops, on_tiles, first, std::min(first + kRowsPerTask, rows), task % strips);
    }
    if (on_tiles) internal::ReleaseTiles();
  });
}

}  // namespace

bool HasAmxBf16Linear() { return internal::AmxTilesGranted(); }

bool HasBf16Linear() { return HasAmxBf16Linear() || internal::Avx512Bf16DotWanted(); }

absl::StatusOr<torch::Tensor> Bf16LinearToFloat32(const torch::Tensor& x, const torch::Tensor& weight,
                                                  const torch::Tensor& bias) {
  if (x.dim() != 2 || weight.dim() != 2 || x.size(1) != weight.size(1) || x.scalar_type() != torch::kBFloat16 ||
      weight.scalar_type() != torch::kBFloat16 || !x.device().is_cpu() || !weight.device().is_cpu() ||
      (bias.defined() && (bias.dim() != 1 || bias.size(0) != weight.size(0)))) {
    return absl::InvalidArgumentError("bf16 linear: x [M, K] and weight [N, K], both bf16 on the CPU");
  }
  if (!HasBf16Linear()) {
    return absl::FailedPreconditionError("bf16 linear: neither AMX tiles nor AVX512-BF16 here");
  }
  const int64_t m = x.size(0), k = x.size(1), n = weight.size(0);
  torch::Tensor out = torch::empty({m, n}, x.options().dtype(torch::kFloat32));
  if (m > 0 && n > 0 && k == 0) out.zero_();
  if (m > 0 && n > 0 && k > 0) {
    // The right operand is packed into tiles, the left one read as it is
    // stored. Each sum is the same either way round (each product's factors
    // commute and the chunks add in the same order), so the smaller matrix
    // is packed: for a few rows of x (an expert's routed tokens) the rows
    // rather than the weight, the result then written transposed, which
    // costs about what packing costs per element.
    const bool pack_x = m < n && m * n < (n - m) * k;
    if (pack_x) {
      PackedProduct(weight, x, /*transposed=*/true, out.data_ptr<float>());
    } else {
      PackedProduct(x, weight, /*transposed=*/false, out.data_ptr<float>());
    }
  }
  if (bias.defined()) out.add_(bias.to(torch::kFloat32));
  return out;
}

}  // namespace cpu_kernels
}  // namespace backend
}  // namespace wring
