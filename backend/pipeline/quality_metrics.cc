#include "backend/pipeline/quality_metrics.h"

#include <cmath>

namespace wring {
namespace backend {
namespace pipeline {

void RelativeError::Add(const torch::Tensor& value, const torch::Tensor& reference) {
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
