// llm-compressor's _grid_search_mse (observers/mse_quant.py, eager path);
// see observer.h for the algorithm.
#ifndef WRING_BACKEND_OBSERVE_INTERNAL_MSE_SEARCH_H_
#define WRING_BACKEND_OBSERVE_INTERNAL_MSE_SEARCH_H_

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "backend/observe/observer.h"
#include "backend/quantize/quantize.h"

namespace wring {
namespace backend {
namespace observe {
namespace internal {

// `observed` is flattened (observations, *qparam_shape, elements). Returns
// the best (min_vals, max_vals) per qparam slot.
absl::StatusOr<quantize::MinMax> GridSearchMse(const torch::Tensor& observed, const quantize::QuantizationArgs& args,
                                               const ObserverOptions& options);

}  // namespace internal
}  // namespace observe
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_OBSERVE_INTERNAL_MSE_SEARCH_H_
