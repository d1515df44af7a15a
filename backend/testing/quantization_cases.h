// Test support for the kernels that must give the values of compressed-
// tensors' quantization bit for bit (AWQ's candidate weights, the fused
// quantize pass): int arguments, and weights with the corners of the
// arithmetic.
#ifndef WRING_BACKEND_TESTING_QUANTIZATION_CASES_H_
#define WRING_BACKEND_TESTING_QUANTIZATION_CASES_H_

#include <torch/torch.h>

#include <cstdint>

#include "backend/quantize/quantize.h"

namespace wring {
namespace backend {
namespace testing {

inline quantize::QuantizationArgs IntArgs(int bits, bool symmetric, quantize::QuantizationStrategy strategy,
                                          int64_t group_size = 0) {
  quantize::QuantizationArgs args;
  args.num_bits = bits;
  args.symmetric = symmetric;
  args.strategy = strategy;
  args.group_size = group_size;
  return args;
}

// Magnitudes spread over many binades (a scale per row), an all-zero row
// (the scale becomes eps), a row of one sign, and a row of values near the
// int range's ties.
inline torch::Tensor TestWeight(int64_t rows, int64_t cols, torch::Dtype dtype, int seed) {
  torch::manual_seed(seed);
  torch::Tensor w = torch::randn({rows, cols}) * torch::exp(torch::randn({rows, 1}) * 2);
  w.index_put_({0}, 0.0);
  w.index_put_({1}, w[1].abs());
  w.index_put_({2}, torch::arange(cols).to(torch::kFloat) * 0.5 - cols / 4.0);
  return w.to(dtype);
}

}  // namespace testing
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_TESTING_QUANTIZATION_CASES_H_
