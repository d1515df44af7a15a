#include "backend/gptq/internal/permute.h"

#include <cstdint>

#include "backend/cpu_kernels/parallel_for.h"

namespace wring {
namespace backend {
namespace gptq {
namespace internal {

torch::Tensor PermuteAsFloat(const torch::Tensor& x, const torch::Tensor& columns,
                             const torch::Tensor& rows) {
  const int64_t batch = x.size(0), width = x.size(2), k = columns.size(-1);
  const int64_t out_rows = rows.defined() ? rows.size(-1) : x.size(1);
  const bool bf16 = x.scalar_type() == torch::kBFloat16;
  if (!x.is_cpu() || !x.is_contiguous() || !(bf16 || x.scalar_type() == torch::kFloat)) {
    torch::Tensor out = torch::gather(x, -1, columns.unsqueeze(-2).expand({-1, x.size(1), -1}));
    if (rows.defined()) out = torch::gather(out, -2, rows.unsqueeze(-1).expand({-1, -1, k}));
    return out.to(torch::kFloat);  // gather's result is already a new tensor
  }
  const torch::Tensor column_order = columns.contiguous();
  const torch::Tensor row_order = rows.defined() ? rows.contiguous() : torch::Tensor();
  const int64_t* c = column_order.data_ptr<int64_t>();
  const int64_t* r = row_order.defined() ? row_order.data_ptr<int64_t>() : nullptr;
  torch::Tensor out = torch::empty({batch, out_rows, k}, x.options().dtype(torch::kFloat));
  float* target = out.data_ptr<float>();
  const auto copy_rows = [&](const auto* source) {
    at::parallel_for(0, batch * out_rows, 16, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t item = row / out_rows;
        const int64_t from = r != nullptr ? r[row] : row % out_rows;
        const auto* in = source + (item * x.size(1) + from) * width;
        const int64_t* order = c + item * k;
        float* o = target + row * k;
        for (int64_t j = 0; j < k; ++j) o[j] = static_cast<float>(in[order[j]]);
      }
    });
  };
  if (bf16) {
    copy_rows(x.data_ptr<c10::BFloat16>());
  } else {
    copy_rows(x.data_ptr<float>());
  }
  return out;
}

}  // namespace internal
}  // namespace gptq
}  // namespace backend
}  // namespace wring
