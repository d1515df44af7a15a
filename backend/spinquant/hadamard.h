// The rotation matrices of compressed-tensors' transform factories, as
// SpinQuantModifier uses them, built the same way so the fused weights match
// llm-compressor's:
//
//   "hadamard"         Sylvester's construction [[H, H], [H, -H]] from [[1]];
//                      powers of two only ("Cannot construct deterministic
//                      hadamard of size != 2^n"), entries +-1 (unnormalized).
//   "random-hadamard"  random_hadamard_matrix: diag(Q), Q = 2 * randint(0, 2,
//                      (n,)) - 1 drawn from the factory's generator, run
//                      through SpinQuant's _matmul_hadU: butterflies on
//                      adjacent pairs until K rows remain, then the known
//                      K x K Hadamard matrix, where K is the largest size in
//                      compressed-tensors' hadamards.safetensors with n / K a
//                      power of two (1, 2, 4, 8, 12, then multiples of 4 up
//                      to 256; those equal to Sylvester's are built, the
//                      others are stored in internal/known_hadamards_data.inc).
//                      Any n = 2^j * K works, e.g. 96, 160, 5120, 14336.
//   "random-matrix"    torch.rand((n, n)) from the factory's generator,
//                      uniform in [0, 1), not orthogonal; its inverse comes
//                      from torch.linalg.inv in float64.
//
// Every factory owns a fresh torch.Generator() that is never seeded, so it
// starts from c10's default seed 67280421310721; LibTorch's CPU generator
// (mt19937) and its randint/rand kernels produce the same numbers as
// PyTorch's (checked against PyTorch 2.10 in hadamard_test), so the random
// types are reproduced exactly too. (Only a CUDA generator would differ;
// upstream and wring both draw on the CPU.)
#ifndef WRING_BACKEND_SPINQUANT_HADAMARD_H_
#define WRING_BACKEND_SPINQUANT_HADAMARD_H_

#include <ATen/core/Generator.h>
#include <torch/torch.h>

#include <cstdint>

#include "absl/status/statusor.h"

namespace wring {
namespace backend {
namespace spinquant {

// c10::default_rng_seed_val: the seed of a torch.Generator() nobody seeded.
inline constexpr uint64_t kDefaultGeneratorSeed = 67280421310721ULL;

// A CPU generator as torch.Generator() creates it.
at::Generator NewDefaultGenerator();

bool IsPowerOfTwo(int64_t n);

// deterministic_hadamard_matrix(size, dtype): +-1 entries, symmetric.
absl::StatusOr<torch::Tensor> DeterministicHadamard(int64_t size, torch::ScalarType dtype);

// x @ DeterministicHadamard(n) over the last dimension, n = x.size(-1) a
// power of two, in n log2(n) additions instead of a matmul's n² multiply-
// adds: log2(n) butterfly passes (a + b, a - b) in x's dtype, any device
// (float32 / float64 on the CPU row by row in cache, otherwise tensor ops).
// Sylvester's matrix is symmetric, so this is also H @ x along a column.
// Sums round in a different order than a matmul's (float64: within a few
// ulps of it).
torch::Tensor FastWalshHadamard(const torch::Tensor& x);

// The same on one contiguous row of n values (a power of two), in place.
void FastWalshHadamardInPlace(double* row, int64_t n);

// The known K x K matrix random-hadamard uses for `size` (K as above), as
// int8 +-1; NotFound when none divides `size` that way.
absl::StatusOr<torch::Tensor> KnownHadamardFor(int64_t size);

// random_hadamard_matrix(size, dtype, gen=generator): +-1 entries; advances
// `generator` by `size` draws.
absl::StatusOr<torch::Tensor> RandomHadamard(int64_t size, torch::ScalarType dtype,
                                             at::Generator& generator);

// torch.rand((size, size), generator=generator, dtype=dtype).
absl::StatusOr<torch::Tensor> RandomMatrix(int64_t size, torch::ScalarType dtype,
                                           at::Generator& generator);

}  // namespace spinquant
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_SPINQUANT_HADAMARD_H_
