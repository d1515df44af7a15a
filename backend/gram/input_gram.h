// The Gram matrix of a Linear's inputs, G = sum over input rows x of
// (c x)^T (c x), accumulated in float32 as calibration batches arrive.
//
// Two algorithms need exactly this quantity:
//   AWQ  (c = 1): the loss of a mapping whose parent is one Linear is
//        tr(D G D^T) (backend/awq/linear_gram.h);
//   GPTQ (c = sqrt 2): its Hessian is 2 X^T X / num_samples; llm-compressor
//        scales the float32 inputs by sqrt(2) before the product
//        (modifiers/gptq/helpers.py accumulate_hessian), so wring does too,
//        which keeps the rounding of every product the same.
// Linears that read the same tensor (q/k/v, gate/up) share one InputGram.
#ifndef WRING_BACKEND_GRAM_INPUT_GRAM_H_
#define WRING_BACKEND_GRAM_INPUT_GRAM_H_

#include <torch/torch.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "backend/distributed/collectives.h"

namespace wring {
namespace backend {
namespace gram {

class InputGram {
 public:
  // `input_scale` multiplies each float32 input before the product.
  explicit InputGram(double input_scale = 1.0) : input_scale_(input_scale) {}

  // `input` [..., in] of any floating dtype; accumulated on its device.
  absl::Status Add(const torch::Tensor& input);

  // [in, in] float32; undefined before the first Add.
  const torch::Tensor& matrix() const { return gram_; }
  // Releases the matrix to the caller (GPTQ factorizes it in place).
  torch::Tensor TakeMatrix();

  int64_t width() const { return gram_.defined() ? gram_.size(0) : 0; }
  // Input rows (tokens) added.
  int64_t rows() const { return rows_; }
  // llm-compressor's GPTQ sample count: the leading dimension of each input
  // ([batch, tokens, in] -> batch; a 2-D input counts as one sample).
  int64_t samples() const { return samples_; }
  // Whether every input was finite.
  bool finite() const;

  // Data-parallel workers: every rank ends with the matrix, row and sample
  // counts of all ranks' inputs (a non-finite input anywhere stays visible
  // in the sum).
  absl::Status SumOverRanks(distributed::Collectives& collectives, absl::string_view what);

 private:
  double input_scale_;
  torch::Tensor gram_;
  int64_t rows_ = 0;
  int64_t samples_ = 0;
};

}  // namespace gram
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_GRAM_INPUT_GRAM_H_
