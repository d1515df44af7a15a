#include "backend/gram/input_gram.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "backend/base/torch_errors.h"

namespace wring {
namespace backend {
namespace gram {

absl::Status InputGram::Add(const torch::Tensor& input) {
  return CatchTorchErrors("input Gram matrix", [&]() -> absl::Status {
    if (input.dim() == 0) return absl::InvalidArgumentError("Gram matrix: a scalar input");
    torch::Tensor x = input.reshape({-1, input.size(-1)}).to(torch::kFloat32);
    if (gram_.defined() && gram_.size(0) != x.size(1)) {
      return absl::InvalidArgumentError(
          absl::StrCat("Gram matrix: inputs of widths ", gram_.size(0), " and ", x.size(1)));
    }
    // Upstream counts a 2-D input as one sample and every other input by its
    // leading dimension, whether or not it has rows.
    samples_ += input.dim() <= 2 ? 1 : input.size(0);
    if (x.size(0) == 0) {
      if (!gram_.defined()) gram_ = torch::zeros({x.size(1), x.size(1)}, x.options());
      return absl::OkStatus();
    }
    if (input_scale_ != 1.0) x = x * input_scale_;
    const torch::Tensor product = x.t().mm(x);
    gram_ = gram_.defined() ? gram_.add_(product) : product;
    rows_ += x.size(0);
    return absl::OkStatus();
  });
}

torch::Tensor InputGram::TakeMatrix() {
  torch::Tensor out = std::move(gram_);
  gram_ = torch::Tensor();
  return out;
}

bool InputGram::finite() const {
  return !gram_.defined() || torch::isfinite(gram_).all().item<bool>();
}

}  // namespace gram
}  // namespace backend
}  // namespace wring
