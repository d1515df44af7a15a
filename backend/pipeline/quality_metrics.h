// The two numbers the quality report is made of: how far a tensor moved
// (relative squared error) and the perplexity of next-token prediction.
// Both accumulate over many samples in float64; data-parallel workers each
// measure their own samples and then sum over the ranks (the sums reorder,
// so the values agree with one worker's to float64 rounding).
#ifndef WRING_BACKEND_PIPELINE_QUALITY_METRICS_H_
#define WRING_BACKEND_PIPELINE_QUALITY_METRICS_H_

#include <torch/torch.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "backend/distributed/collectives.h"

namespace wring {
namespace backend {
namespace pipeline {

// ||value - reference||^2 / ||reference||^2 summed over Add calls.
class RelativeError {
 public:
  void Add(const torch::Tensor& value, const torch::Tensor& reference);
  // 0 when the reference was all zeros; NaN when either sum is NaN (a NaN
  // must not read as "no error").
  double Value() const;
  // Every rank ends with the sums over all ranks' samples.
  absl::Status SumOverRanks(distributed::Collectives& collectives, absl::string_view what);

 private:
  double diff_ = 0;
  double reference_ = 0;
};

// exp(mean NLL) of each next token given the ones before it.
class Perplexity {
 public:
  // logits [1, T, vocab], ids [1, T]; sequences shorter than 2 add nothing.
  void Add(const torch::Tensor& logits, const torch::Tensor& ids);
  // 0 when no token was scored.
  double Value() const;
  int64_t tokens() const { return tokens_; }
  // Every rank ends with the sums over all ranks' samples.
  absl::Status SumOverRanks(distributed::Collectives& collectives, absl::string_view what);

 private:
  double nll_ = 0;
  int64_t tokens_ = 0;
};

}  // namespace pipeline
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_PIPELINE_QUALITY_METRICS_H_
