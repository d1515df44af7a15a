#include "backend/awq/linear_gram.h"

#include "absl/strings/str_cat.h"
#include "backend/base/torch_errors.h"

namespace wring {
namespace backend {
namespace awq {

absl::Status LinearGram::Add(const torch::Tensor& input) {
  return CatchTorchErrors("AWQ Gram matrix", [&]() -> absl::Status {
    const torch::Tensor x = input.reshape({-1, input.size(-1)}).to(torch::kFloat32);
    if (gram_.defined() && gram_.size(0) != x.size(1)) {
      return absl::InvalidArgumentError(absl::StrCat("AWQ: parent inputs of widths ", gram_.size(0),
                                                     " and ", x.size(1)));
    }
    if (x.size(0) == 0) return absl::OkStatus();
    const torch::Tensor product = x.t().mm(x);
    gram_ = gram_.defined() ? gram_.add_(product) : product;
    rows_ += x.size(0);
    return absl::OkStatus();
  });
}

absl::Status LinearGram::SumOverRanks(distributed::Collectives& collectives,
                                      absl::string_view what) {
  if (!collectives.is_distributed()) return absl::OkStatus();
  // A rank that saw no input has no matrix yet: agree on the width first.
  torch::Tensor width = torch::tensor({gram_.defined() ? gram_.size(0) : int64_t{0}}, torch::kInt64);
  absl::Status status = collectives.AllReduce({width}, distributed::ReduceOp::kMax, what);
  if (!status.ok()) return status;
  const int64_t in = width.item<int64_t>();
  if (in == 0) return absl::OkStatus();
  if (!gram_.defined()) gram_ = torch::zeros({in, in}, torch::kFloat32);
  if (gram_.size(0) != in) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": Gram matrices of different widths on different ranks"));
  }
  torch::Tensor rows = torch::tensor({rows_}, torch::kInt64);
  status = collectives.AllReduce({gram_, rows}, distributed::ReduceOp::kSum, what);
  if (!status.ok()) return status;
  rows_ = rows.item<int64_t>();
  return absl::OkStatus();
}

bool LinearGram::finite() const {
  return !gram_.defined() || torch::isfinite(gram_).all().item<bool>();
}

absl::StatusOr<double> LinearGram::MeanSquaredOutputDifference(const torch::Tensor& current,
                                                               const torch::Tensor& trial) const {
  if (rows_ == 0) return absl::FailedPreconditionError("AWQ: the Linear parent saw no inputs");
  return CatchTorchErrors("AWQ Gram loss", [&]() -> absl::StatusOr<double> {
    if (current.dim() != 2 || current.sizes() != trial.sizes() || current.size(1) != width()) {
      return absl::InvalidArgumentError(absl::StrCat("AWQ: a Linear weight of shape [",
                                                     current.size(0), ", ", current.size(1),
                                                     "] against inputs of width ", width()));
    }
    const torch::Tensor d = trial.to(gram_.device(), torch::kFloat32) -
                            current.to(gram_.device(), torch::kFloat32);
    const torch::Tensor sum = (d.mm(gram_) * d).sum();
    const double elements = static_cast<double>(rows_) * static_cast<double>(current.size(0));
    return sum.item<double>() / elements;
  });
}

}  // namespace awq
}  // namespace backend
}  // namespace wring
