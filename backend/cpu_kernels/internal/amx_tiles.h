// What the AMX kernels of this package share: the tile shapes they use,
// the process's permission to use the tiles, the tile configuration, and
// the operands laid out as the tile instructions read them.
#ifndef WRING_BACKEND_CPU_KERNELS_INTERNAL_AMX_TILES_H_
#define WRING_BACKEND_CPU_KERNELS_INTERNAL_AMX_TILES_H_

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace wring {
namespace backend {
namespace cpu_kernels {
namespace internal {

// One tile: 16 rows of 64 bytes (32 bf16 or 16 float32). The kernels
// compute 32 x 32 output blocks: 2 x 2 accumulator tiles fed by 2 tiles of
// the left operand and 2 of the right, the eight tiles the hardware has;
// each accumulator adds one chunk of 32 products per instruction.
constexpr int64_t kTileBlock = 32;
constexpr int64_t kTileColumns = 16;
// bf16 values in one tile.
constexpr int64_t kTileElements = kTileColumns * kTileBlock;

// AMX-TILE and AMX-BF16 on this CPU, the tile state granted to this
// process, and WRING_AMX not 0. Decided once.
bool AmxTilesGranted();

// Every tile as 16 rows of 64 bytes; once per thread before the kernels.
void LoadTileConfig();
// Hands the tile state back; once per thread after the kernels.
void ReleaseTiles();

// The left operand x [M, K] (bf16) as the tiles read it: one pointer per
// 32-row block to rows of `row_elements` bf16 (a multiple of 32). x's own
// rows where they are contiguous and K needs no padding, else a
// zero-padded copy (`padded` owns it); the last block of fewer than 32 rows
// is always a copy.
struct LeftBlocks {
  std::vector<const uint16_t*> blocks;
  int64_t row_elements = 0;
  torch::Tensor padded;
};
LeftBlocks LeftOperandBlocks(const torch::Tensor& x);

// A right operand w [N, K] (row-major bf16, out = x w^T) as tiles: per 16
// output columns, `k_padded` / 2 rows of 16 pairs (w[n][2p], w[n][2p+1]),
// the pairs the instruction multiplies; zero beyond N and K. `groups`
// groups of 16 columns.
void PackWeightTiles(const uint16_t* w, int64_t n, int64_t k, int64_t k_padded, int64_t groups,
                     uint16_t* tiles);

}  // namespace internal
}  // namespace cpu_kernels
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_CPU_KERNELS_INTERNAL_AMX_TILES_H_
