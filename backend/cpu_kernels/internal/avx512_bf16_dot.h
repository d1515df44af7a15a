// The bf16 Linear kernel for CPUs with AVX512-BF16 but without AMX tiles
// (AMD Zen 4 and later, Intel Cooper Lake): the same packed operands as
// the tiles (amx_tiles.h), multiplied by the dot-product instruction, which
// adds the two exact products of a pair to a float32 sum in one step.
#ifndef WRING_BACKEND_CPU_KERNELS_INTERNAL_AVX512_BF16_DOT_H_
#define WRING_BACKEND_CPU_KERNELS_INTERNAL_AVX512_BF16_DOT_H_

#include <cstdint>

namespace wring {
namespace backend {
namespace cpu_kernels {
namespace internal {

// AVX512F and AVX512-BF16 on this CPU (with the OS saving the vector state)
// and WRING_BF16_DOT not 0. Decided once.
bool Avx512Bf16DotWanted();

// One 32 x 32 block of left right^T into c (row stride ldc): `left` is 32
// rows of `k_padded` bf16 (a LeftBlocks block), `right` two groups of 16
// columns as PackWeightTiles lays them out, one after the other. Each
// output is the sum over pairs in index order, each pair's two products
// added by one instruction, so a row's result does not depend on the rows
// beside it. As on the tiles, subnormal inputs and results count as zero.
void DotBlock(const uint16_t* left, const uint16_t* right, int64_t k_padded, float* c, int64_t ldc);

// One 32 x 32 block of a split factor's product (split_bf16_product.h)
// into `block` (row stride 32): `left` is 32 rows of `row_elements` bf16,
// `chunks_from_first` a strip's chunks of 32 rows from chunk `first` to
// `chunks`, each four packed groups of 16 columns (F_hi's two, then
// F_lo's). Per chunk F_hi's 16 pairs are added, then F_lo's.
void SplitDotBlock(const uint16_t* left, int64_t row_elements, const uint16_t* chunks_from_first, int64_t first,
                   int64_t chunks, float* block);

}  // namespace internal
}  // namespace cpu_kernels
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_CPU_KERNELS_INTERNAL_AVX512_BF16_DOT_H_
