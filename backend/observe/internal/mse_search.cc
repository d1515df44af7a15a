#include "backend/observe/internal/mse_search.h"

#include <cstdint>
#include <limits>

#include "backend/base/torch_errors.h"
#include "backend/observe/internal/arithmetic.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace observe {
namespace internal {
namespace {

// torch.finfo(dtype).max, the "no candidate yet" error.
double LargestFinite(torch::Dtype dtype) {
  switch (dtype) {
    case torch::kBFloat16: return 3.3895313892515355e38;
    case torch::kHalf: return 65504.0;
    case torch::kDouble: return std::numeric_limits<double>::max();
    default: return std::numeric_limits<float>::max();
  }
}

}  // namespace

absl::StatusOr<quantize::MinMax> GridSearchMse(const torch::Tensor& observed, const quantize::QuantizationArgs& args,
                                               const ObserverOptions& options) {
  // The candidates are fake-quantized with plain broadcasting: qparams
  // (*qparam_shape, 1) against the flattened value, whatever the strategy.
  quantize::QuantizationArgs token_args = args;
  token_args.strategy = quantize::QuantizationStrategy::kToken;
  token_args.group_size = 0;
  token_args.block_rows = 0;
  token_args.block_cols = 0;

  return CatchTorchErrors("GridSearchMse", [&]() -> absl::StatusOr<quantize::MinMax> {
    const torch::Tensor min_val = MulScalar(torch::amin(observed, {0, -1}), options.expand);
    const torch::Tensor max_val = MulScalar(torch::amax(observed, {0, -1}), options.expand);
    torch::Tensor best_error = torch::full_like(min_val, LargestFinite(min_val.scalar_type()));
    torch::Tensor best_min = min_val.clone();
    torch::Tensor best_max = max_val.clone();

    const int64_t total_steps = static_cast<int64_t>(options.maxshrink * options.grid);  // Python int()
    int64_t no_improve_count = 0;
    for (int64_t i = 0; i < total_steps; ++i) {
      const double p = 1.0 - static_cast<double>(i) / options.grid;
      const torch::Tensor shrunk_min = MulScalar(min_val, p);
      const torch::Tensor shrunk_max = MulScalar(max_val, p);
      WRING_ASSIGN_OR_RETURN(quantize::QParams candidate, quantize::CalculateQParams(shrunk_min, shrunk_max, args));
      candidate.scale = candidate.scale.unsqueeze(-1);
      candidate.zero_point = candidate.zero_point.unsqueeze(-1);
      WRING_ASSIGN_OR_RETURN(torch::Tensor fake, quantize::FakeQuantize(observed, candidate, token_args));
      const torch::Tensor error =
          Sum(PowScalar((fake.to(observed.scalar_type()) - observed).abs(), options.norm), {0, -1});

      const torch::Tensor improved = error < best_error;
      if (improved.any().item<bool>()) {
        best_error = torch::where(improved, error, best_error);
        best_min = torch::where(improved, shrunk_min, best_min);
        best_max = torch::where(improved, shrunk_max, best_max);
        no_improve_count = 0;
      } else if (++no_improve_count >= options.patience) {
        break;
      }
    }
    return quantize::MinMax{best_min, best_max};
  });
}

}  // namespace internal
}  // namespace observe
}  // namespace backend
}  // namespace wring
