// Module-parallel work: each module's result computed once, by the rank
// that owns it, then held by every rank, as llm-compressor's distributed
// QuantizationModifier (weight qparams) and GPTQModifier (the solve) do it.
//
// Ownership is compressed-tensors' greedy_bin_packing by the item weights
// the caller gives (a weight's element count, a Hessian's rows). With GPTQ,
// each module's partial Hessians first go to their owner (ReduceToOwners,
// SUM), the owner solves, and ComputeOnOwners hands the results to all.
#ifndef WRING_BACKEND_DISTRIBUTED_MODULE_PARALLEL_H_
#define WRING_BACKEND_DISTRIBUTED_MODULE_PARALLEL_H_

#include <torch/torch.h>

#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "backend/distributed/collectives.h"

namespace wring {
namespace backend {
namespace distributed {

// The owner of each item (GreedyBinPacking over the ranks).
std::vector<int> AssignOwners(const Collectives& collectives, absl::Span<const int64_t> weights);

// Runs `compute(i)` on the owner of each item i and returns, on every rank,
// every item's tensors (the same number, dtypes and shapes as the owner
// computed; undefined tensors stay undefined; received ones on `device`).
// `owners` from AssignOwners. The tensors are broadcast from each owner in
// one message per dtype, after an all-gather of their shapes. In one
// process it is compute(i) for all i.
absl::StatusOr<std::vector<std::vector<torch::Tensor>>> ComputeOnOwners(
    Collectives& collectives, const std::vector<int>& owners, const torch::Device& device,
    const std::function<absl::StatusOr<std::vector<torch::Tensor>>(size_t item)>& compute,
    absl::string_view what);

// Sums each item's tensors over the ranks into its owner's copy (GPTQ's
// Hessians and sample counts); the other ranks' copies are scratch after.
absl::Status ReduceToOwners(Collectives& collectives, const std::vector<int>& owners,
                            const std::vector<std::vector<torch::Tensor>>& items,
                            absl::string_view what);

}  // namespace distributed
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_DISTRIBUTED_MODULE_PARALLEL_H_
