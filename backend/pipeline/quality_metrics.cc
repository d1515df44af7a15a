#include "backend/pipeline/quality_metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "backend/cpu_kernels/parallel_for.h"
#include "backend/cpu_kernels/rounding.h"

namespace wring {
namespace backend {
namespace pipeline {
namespace {

// sum (v - r)^2 and sum r^2 in float64 in one pass over two contiguous CPU
// tensors of one dtype, in fixed chunks summed in order (the same sums on
// any thread count); false for any other layout. The float64 tensor
// arithmetic it replaces made four float64 copies of each weight.
template <typename R>
void SquaredSums(const typename R::Stored* v, const typename R::Stored* r, int64_t n, double* diff,
                 double* reference) {
  constexpr int64_t kChunk = 1 << 15;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> diffs(chunks), references(chunks);
  at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      double d2 = 0, r2 = 0;
      for (int64_t i = c * kChunk; i < std::min(n, (c + 1) * kChunk); ++i) {
        const double a = R::Load(v[i]), b = R::Load(r[i]);
        d2 += (a - b) * (a - b);
        r2 += b * b;
      }
      diffs[c] = d2;
      references[c] = r2;
    }
  });
  for (int64_t c = 0; c < chunks; ++c) {
    *diff += diffs[c];
    *reference += references[c];
  }
}

bool AddBySinglePass(const torch::Tensor& value, const torch::Tensor& reference, double* diff,
                     double* reference_sum) {
  if (!value.device().is_cpu() || !reference.device().is_cpu() || !value.is_contiguous() ||
      !reference.is_contiguous() || value.sizes() != reference.sizes() ||
      value.scalar_type() != reference.scalar_type()) {
    return false;
  }
  const int64_t n = value.numel();
  switch (value.scalar_type()) {
    case torch::kBFloat16:
      SquaredSums<cpu_kernels::RoundBf16>(static_cast<const uint16_t*>(value.data_ptr()),
                                          static_cast<const uint16_t*>(reference.data_ptr()), n, diff,
                                          reference_sum);
      return true;
    case torch::kFloat:
      SquaredSums<cpu_kernels::RoundFloat>(value.data_ptr<float>(), reference.data_ptr<float>(), n, diff,
                                           reference_sum);
      return true;
    default:
      return false;
  }
}

}  // namespace

void RelativeError::Add(const torch::Tensor& value, const torch::Tensor& reference) {
  if (AddBySinglePass(value, reference, &diff_, &reference_)) return;
  const torch::Tensor r = reference.to(torch::kFloat64);
  diff_ += (value.to(torch::kFloat64) - r).pow(2).sum().item<double>();
  reference_ += r.pow(2).sum().item<double>();
}

double RelativeError::Value() const {
  if (std::isnan(diff_) || std::isnan(reference_)) return std::nan("");
  return reference_ > 0 ? diff_ / reference_ : 0;
}

void Perplexity::Add(const torch::Tensor& logits, const torch::Tensor& ids) {
  const int64_t length = ids.size(1);
  if (length < 2) return;
  const torch::Tensor log_probs =
      torch::log_softmax(logits.slice(1, 0, length - 1).to(torch::kFloat32), -1);
  const torch::Tensor targets = ids.slice(1, 1, length).unsqueeze(-1);
  nll_ -= log_probs.gather(-1, targets).sum().item<double>();
  tokens_ += length - 1;
}

absl::Status RelativeError::SumOverRanks(distributed::Collectives& collectives,
                                         absl::string_view what) {
  if (!collectives.is_distributed()) return absl::OkStatus();
  torch::Tensor sums = torch::tensor({diff_, reference_}, torch::kFloat64);
  absl::Status status = collectives.AllReduce({sums}, distributed::ReduceOp::kSum, what);
  if (!status.ok()) return status;
  diff_ = sums[0].item<double>();
  reference_ = sums[1].item<double>();
  return absl::OkStatus();
}

absl::Status Perplexity::SumOverRanks(distributed::Collectives& collectives,
                                      absl::string_view what) {
  if (!collectives.is_distributed()) return absl::OkStatus();
  torch::Tensor nll = torch::tensor({nll_}, torch::kFloat64);
  torch::Tensor tokens = torch::tensor({tokens_}, torch::kInt64);
  absl::Status status = collectives.AllReduce({nll, tokens}, distributed::ReduceOp::kSum, what);
  if (!status.ok()) return status;
  nll_ = nll.item<double>();
  tokens_ = tokens.item<int64_t>();
  return absl::OkStatus();
}

double Perplexity::Value() const { return tokens_ > 0 ? std::exp(nll_ / tokens_) : 0; }

}  // namespace pipeline
}  // namespace backend
}  // namespace wring
