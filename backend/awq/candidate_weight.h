// The weight one AWQ grid candidate tries for a balance layer:
//
//   W' = dtype(FakeQuantize(dtype(W * s)) / s)
//
// with the qparams of dtype(W * s) from a memoryless min/max observer, every
// step rounded as LibTorch rounds it (see awq.h). The grid search builds one
// such weight per balance layer and grid point: for an MoE layer that is
// every expert's gate and up projection, twenty times, so this is most of
// AWQ's time on a CPU when it runs as a chain of LibTorch operations (about
// ten passes over the weight, some in float64).
//
// CandidateWeight fuses the chain for the layouts AWQ meets (a contiguous
// 2-D bf16 / fp16 / fp32 weight on the CPU, int quantization by channel or
// group): one row at a time, parallel over rows, the row's dtype(W * s) in
// a buffer that stays in the cache, its groups' qparams by compressed-
// tensors' arithmetic (cpu_kernels::CalculateGroupQParams, checked against
// quantize::CalculateQParams), then the fake quantization and 1 / s in one
// vectorized loop; 6x faster than the chain on one core. The
// result is bit for bit the chain's, which CandidateWeightByOps spells out
// and the tests compare against; any other layout goes through the chain.
#ifndef WRING_BACKEND_AWQ_CANDIDATE_WEIGHT_H_
#define WRING_BACKEND_AWQ_CANDIDATE_WEIGHT_H_

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <optional>

#include "absl/status/statusor.h"
#include "backend/quantize/quantize.h"

namespace wring {
namespace backend {
namespace awq {

// What CandidateWeight returns.
enum class CandidateForm {
  // W' in the weight's dtype.
  kWeightDtype,
  // W' as float32 values (each one of the weight dtype's), which a CPU
  // matrix product of a half-precision model, done in float32, then uses
  // without a conversion of its own.
  kFloat32,
  // W' - W in float32, what the Gram-matrix loss needs (LinearGram).
  kFloat32Difference,
};

// `weight` [out, in]; `scales` [in], float32 or float64 (the grid's dtype).
absl::StatusOr<torch::Tensor> CandidateWeight(const torch::Tensor& weight, const torch::Tensor& scales,
                                              const quantize::QuantizationArgs& args,
                                              CandidateForm form = CandidateForm::kWeightDtype);

// A bf16 weight's candidate produced a block of rows at a time, for a
// consumer that uses each block at once (FactoredGramLoss): the same bits as
// CandidateWeight's kWeightDtype, without the whole matrix in memory.
class CandidateRows {
 public:
  // nullopt where the weight is no bf16 or its layout takes the chain of
  // operations (CandidateWeight's fallback).
  static absl::StatusOr<std::optional<CandidateRows>> Make(const torch::Tensor& weight,
                                                           const torch::Tensor& scales,
                                                           const quantize::QuantizationArgs& args);

  int64_t rows() const { return rows_; }
  int64_t columns() const { return columns_; }
  // Rows [first, first + count) as bf16 bits, row i at out + i * stride.
  // Safe to call from several threads at once.
  void Fill(int64_t first, int64_t count, uint16_t* out, int64_t stride) const {
    fill_(first, count, out, stride);
  }

 private:
  CandidateRows() = default;
  int64_t rows_ = 0, columns_ = 0;
  std::function<void(int64_t, int64_t, uint16_t*, int64_t)> fill_;
};

// The same through LibTorch operations, one per upstream operation.
absl::StatusOr<torch::Tensor> CandidateWeightByOps(const torch::Tensor& weight,
                                                   const torch::Tensor& scales,
                                                   const quantize::QuantizationArgs& args);

}  // namespace awq
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_AWQ_CANDIDATE_WEIGHT_H_
