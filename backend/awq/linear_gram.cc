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
