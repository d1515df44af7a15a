// bf16 Linear layers on CPUs with Intel AMX tiles (Sapphire Rapids and
// later) or with AVX512-BF16 (AMD Zen 4 and later, Intel Cooper Lake).
//
// A bf16 model's Linear on the CPU is the exact products of bf16 values
// summed in float32 and rounded to bf16 once (PyTorch 2's CPU matmul).
// wring computes it as a float32 product (OpenBLAS sgemm), as exact as the
// hardware allows and faster than LibTorch 1.13's bf16 path on AVX-512
// alone. AMX multiplies bf16 matrices several times faster than a core's
// float32 units (one core: ~150 GFLOP/s by sgemm); there the same float32
// sums come from the tiles. PyTorch reaches them through oneDNN, whose
// kernels split the inner dimension by the row count, so a row's sum
// changes with the rows beside it; wring stacks and splits batches (and
// data-parallel workers split them), so this kernel sums every output in
// one fixed order: chunks of 32 products in index order, each chunk as the
// tile instruction adds it. The sums agree with sgemm's to float32
// rounding; the tiles treat subnormal inputs and results as zero.
// Without the tiles, AVX512-BF16's dot-product instruction (two products
// per float32 lane per instruction, about twice the float32 units' rate)
// computes the same operands, each output's pairs added in index order:
// one fixed order again, a different one from the tiles'.
#ifndef WRING_BACKEND_CPU_KERNELS_BF16_LINEAR_H_
#define WRING_BACKEND_CPU_KERNELS_BF16_LINEAR_H_

#include <torch/torch.h>

#include "absl/status/statusor.h"

namespace wring {
namespace backend {
namespace cpu_kernels {

// Whether Bf16LinearToFloat32 runs on the AMX tiles here: the CPU has
// AMX-TILE and AMX-BF16 and the kernel granted this process the tile
// state. Decided once; WRING_AMX=0 in the environment turns it off.
bool HasAmxBf16Linear();

// Whether Bf16LinearToFloat32 can run here: on the AMX tiles, or by
// AVX512-BF16 dot products (WRING_BF16_DOT=0 turns those off). Decided
// once. With both off, callers take the float32 path, the same on every
// CPU.
bool HasBf16Linear();

// x [M, K] and weight [N, K], both bf16 on the CPU (any strides), and
// `bias` [N] (any floating dtype) or undefined: x weight^T + bias as a
// float32 [M, N] tensor, each element the exact products summed in float32
// in the fixed order above (the tiles' where HasAmxBf16Linear, else the
// dot products'), the bias added last. An error where the arguments do not
// fit or neither kernel is available.
absl::StatusOr<torch::Tensor> Bf16LinearToFloat32(const torch::Tensor& x, const torch::Tensor& weight,
                                                  const torch::Tensor& bias);

}  // namespace cpu_kernels
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_CPU_KERNELS_BF16_LINEAR_H_
