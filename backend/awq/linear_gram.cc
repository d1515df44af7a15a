#include "backend/awq/linear_gram.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "backend/base/torch_errors.h"
#include "backend/cpu_kernels/blas_syrk.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace awq {
namespace {

// Columns of D^T D per block: wide enough for an efficient matrix product,
// narrow enough that the skipped lower triangle is most of the saving.
constexpr int64_t kBlockColumns = 256;

}  // namespace

double GramLossFlops(int64_t out, int64_t in) {
  if (cpu_kernels::HasBlasSyrk()) {
    return static_cast<double>(out) * static_cast<double>(in) * static_cast<double>(in + 1);
  }
  double flops = 0;
  for (int64_t start = 0; start < in; start += kBlockColumns) {
    const int64_t width = std::min(kBlockColumns, in - start);
    flops += 2.0 * static_cast<double>(out) * static_cast<double>(width) * static_cast<double>(in - start);
  }
  return flops;
}

absl::StatusOr<double> LinearGram::MeanSquaredOutputDifference(const torch::Tensor& current,
                                                               const torch::Tensor& trial) const {
  if (current.dim() != 2 || current.sizes() != trial.sizes()) {
    return absl::InvalidArgumentError("AWQ: Linear weights of different shapes for the Gram loss");
  }
  return CatchTorchErrors("AWQ Gram loss", [&]() -> absl::StatusOr<double> {
    return MeanSquaredOutput(trial.to(torch::kFloat32) - current.to(torch::kFloat32));
  });
}

absl::StatusOr<double> LinearGram::MeanSquaredOutput(const torch::Tensor& difference) const {
  if (gram_.rows() == 0) {
    return absl::FailedPreconditionError("AWQ: the Linear parent saw no inputs");
  }
  return CatchTorchErrors("AWQ Gram loss", [&]() -> absl::StatusOr<double> {
    if (difference.dim() != 2 || difference.size(1) != width()) {
      return absl::InvalidArgumentError(absl::StrCat("AWQ: a Linear weight of shape [",
                                                     difference.size(0), ", ", difference.dim() == 2 ? difference.size(1) : 0,
                                                     "] against inputs of width ", width()));
    }
    const torch::Tensor& g = gram_.matrix();
    const torch::Tensor d = difference.to(g.device(), torch::kFloat32).contiguous();
    double sum = 0;
    if (blas_ && g.device().is_cpu() && cpu_kernels::HasBlasSyrk()) {
      WRING_ASSIGN_OR_RETURN(sum, SumByBlas(d));
    } else {
      sum = SumByBlocks(d);
    }
    const double elements = static_cast<double>(gram_.rows()) * static_cast<double>(d.size(0));
    return sum / elements;
  });
}

// tr(D G D^T) = <G, D^T D>, both symmetric: D^T D's lower triangle against
// G's, the off-diagonal counted twice (the upper triangle it stands for).
absl::StatusOr<double> LinearGram::SumByBlas(const torch::Tensor& d) const {
  const int64_t in = d.size(1);
  if (!lower_weights_.defined()) {
    torch::Tensor weights = gram_.matrix().to(torch::kDouble).tril();
    weights = 2 * weights - torch::diag_embed(weights.diagonal());
    lower_weights_ = weights.contiguous();
    product_ = torch::empty({in, in}, torch::kFloat32);
  }
  float* c = product_.data_ptr<float>();
  if (!cpu_kernels::ColumnGramLowerTriangle(d.data_ptr<float>(), d.size(0), in, c)) {
    return SumByBlocks(d);
  }
  const double* w = lower_weights_.data_ptr<double>();
  double sum = 0;
  for (int64_t i = 0; i < in; ++i) {
    const float* c_row = c + i * in;
    const double* w_row = w + i * in;
    double row = 0;
    for (int64_t j = 0; j <= i; ++j) row += static_cast<double>(c_row[j]) * w_row[j];
    sum += row;
  }
  return sum;
}

// The same from blocks of columns of D^T D from the diagonal rightwards,
// against G's with the diagonal block halved, counted twice. Halving is
// exact, so this is 2 <off-diagonal> + <diagonal>.
double LinearGram::SumByBlocks(const torch::Tensor& d) const {
  const torch::Tensor& g = gram_.matrix();
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
  return (2 * sum).item<double>();
}

}  // namespace awq
}  // namespace backend
}  // namespace wring
