#include "backend/awq/linear_gram.h"

#include "absl/strings/str_cat.h"
#include "backend/base/torch_errors.h"

namespace wring {
namespace backend {
namespace awq {

absl::StatusOr<double> LinearGram::MeanSquaredOutputDifference(const torch::Tensor& current,
                                                               const torch::Tensor& trial) const {
  if (gram_.rows() == 0) {
    return absl::FailedPreconditionError("AWQ: the Linear parent saw no inputs");
  }
  return CatchTorchErrors("AWQ Gram loss", [&]() -> absl::StatusOr<double> {
    if (current.dim() != 2 || current.sizes() != trial.sizes() || current.size(1) != width()) {
      return absl::InvalidArgumentError(absl::StrCat("AWQ: a Linear weight of shape [",
                                                     current.size(0), ", ", current.size(1),
                                                     "] against inputs of width ", width()));
    }
    const torch::Tensor& g = gram_.matrix();
    const torch::Tensor d = trial.to(g.device(), torch::kFloat32) -
                            current.to(g.device(), torch::kFloat32);
    const torch::Tensor sum = (d.mm(g) * d).sum();
    const double elements =
        static_cast<double>(gram_.rows()) * static_cast<double>(current.size(0));
    return sum.item<double>() / elements;
  });
}

}  // namespace awq
}  // namespace backend
}  // namespace wring
