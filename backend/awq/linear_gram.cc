#include "backend/awq/linear_gram.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "backend/base/torch_errors.h"

namespace wring {
namespace backend {
namespace awq {
namespace {

// Columns of D^T D per block: wide enough for an efficient matrix product,
// narrow enough that the skipped lower triangle is most of the saving.
constexpr int64_t kBlockColumns = 256;

}  // namespace

double GramLossFlops(int64_t out, int64_t in) {
  double flops = 0;
  for (int64_t start = 0; start < in; start += kBlockColumns) {
    const int64_t width = std::min(kBlockColumns, in - start);
    flops += 2.0 * static_cast<double>(out) * static_cast<double>(width) * static_cast<double>(in - start);
  }
  return flops;
}

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
    // tr(D G D^T) = <G, D^T D>, both symmetric: each block of columns of
    // D^T D from its diagonal block rightwards, against G's block with the
    // diagonal part halved, counted twice (the lower triangle it stands
    // for). Halving is exact, so this is 2 <off-diagonal> + <diagonal>.
    const int64_t in = d.size(1);
    if (blocks_.empty()) {
      for (int64_t start = 0; start < in; start += kBlockColumns) {
        const int64_t end = std::min(start + kBlockColumns, in);
        torch::Tensor block = g.slice(0, start, end).slice(1, start).clone(at::MemoryFormat::Contiguous);
        block.slice(1, 0, end - start).mul_(0.5);
        blocks_.push_back(std::move(block));
      }
    }
    torch::Tensor sum = torch::zeros({}, d.options());
    for (size_t b = 0; b < blocks_.size(); ++b) {
      const int64_t start = static_cast<int64_t>(b) * kBlockColumns;
      const int64_t end = std::min(start + kBlockColumns, in);
      const torch::Tensor product = d.slice(1, start, end).t().mm(d.slice(1, start));  // [width, in - start]
      sum += torch::dot(product.view(-1), blocks_[b].view(-1));
    }
    sum = 2 * sum;
    const double elements =
        static_cast<double>(gram_.rows()) * static_cast<double>(current.size(0));
    return sum.item<double>() / elements;
  });
}

}  // namespace awq
}  // namespace backend
}  // namespace wring
