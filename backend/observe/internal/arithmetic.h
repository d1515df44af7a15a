// Elementwise steps of the observers, written so that LibTorch 1.13 and 2.x
// round exactly as PyTorch 2.x does on the CPU.
//
// PyTorch 2.x computes bf16 / fp16 `tensor * python_float` in float32 with
// the scalar kept as float32, and `tensor.pow(python_float)` in float32 with
// the exponent first rounded to the tensor's dtype (bf16 2.4 -> 2.40625).
// LibTorch 1.13 rounds the scalar to the tensor's dtype for both. Doing the
// float32 arithmetic by hand gives 2.x's results on either version.
#ifndef WRING_BACKEND_OBSERVE_INTERNAL_ARITHMETIC_H_
#define WRING_BACKEND_OBSERVE_INTERNAL_ARITHMETIC_H_

#include <torch/torch.h>

#include <vector>

namespace wring {
namespace backend {
namespace observe {
namespace internal {

inline bool IsReducedFloat(const torch::Tensor& t) {
  return t.scalar_type() == torch::kBFloat16 || t.scalar_type() == torch::kHalf;
}

// tensor * python float.
inline torch::Tensor MulScalar(const torch::Tensor& t, double value) {
  if (!IsReducedFloat(t)) return t * value;
  return (t.to(torch::kFloat) * static_cast<float>(value)).to(t.scalar_type());
}

// tensor.pow(python float) for non-negative tensors.
inline torch::Tensor PowScalar(const torch::Tensor& t, double exponent) {
  if (!IsReducedFloat(t)) return t.pow(exponent);
  const float rounded = torch::scalar_tensor(exponent, torch::TensorOptions().dtype(t.scalar_type()))
                            .to(torch::kFloat)
                            .item<float>();
  return t.to(torch::kFloat).pow(rounded).to(t.scalar_type());
}

// tensor.sum(dims): bf16 / fp16 sums accumulate in float32.
inline torch::Tensor Sum(const torch::Tensor& t, const std::vector<int64_t>& dims) {
  if (!IsReducedFloat(t)) return t.sum(dims);
  return t.to(torch::kFloat).sum(dims).to(t.scalar_type());
}

// llm-compressor's lerp: (start * (1 - weight)) + (end * weight).
inline torch::Tensor Lerp(const torch::Tensor& start, const torch::Tensor& end, double weight) {
  return MulScalar(start, 1.0 - weight) + MulScalar(end, weight);
}

}  // namespace internal
}  // namespace observe
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_OBSERVE_INTERNAL_ARITHMETIC_H_
