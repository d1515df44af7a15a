#include "backend/distributed/module_parallel.h"

#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "backend/distributed/work_split.h"

namespace wring {
namespace backend {
namespace distributed {
namespace {

// What a receiver must allocate: per owned item, its index and tensor
// count, then per tensor whether it is defined, its dtype, rank and sizes.
// int64 words, in the owner's item order.
std::string DescribeOwned(const std::vector<int>& owners, int rank,
                          const std::vector<std::vector<torch::Tensor>>& results) {
  std::vector<int64_t> words;
  for (size_t i = 0; i < owners.size(); ++i) {
    if (owners[i] != rank) continue;
    words.push_back(static_cast<int64_t>(i));
    words.push_back(static_cast<int64_t>(results[i].size()));
    for (const torch::Tensor& t : results[i]) {
      words.push_back(t.defined() ? 1 : 0);
      if (!t.defined()) continue;
      words.push_back(static_cast<int64_t>(t.scalar_type()));
      words.push_back(t.dim());
      for (int64_t size : t.sizes()) words.push_back(size);
    }
  }
  return std::string(reinterpret_cast<const char*>(words.data()), words.size() * sizeof(int64_t));
}

absl::Status AllocateFromDescription(const std::string& bytes, int from_rank,
                                     const std::vector<int>& owners, const torch::Device& device,
                                     std::vector<std::vector<torch::Tensor>>& results) {
  std::vector<int64_t> words(bytes.size() / sizeof(int64_t));
  std::memcpy(words.data(), bytes.data(), words.size() * sizeof(int64_t));
  size_t at = 0;
  auto next = [&](int64_t& value) {
    if (at >= words.size()) return false;
    value = words[at++];
    return true;
  };
  const absl::Status corrupt = absl::InternalError(
      absl::StrCat("module-parallel results from rank ", from_rank, " are malformed"));
  while (at < words.size()) {
    int64_t item = 0, count = 0;
    if (!next(item) || !next(count) || item < 0 || item >= static_cast<int64_t>(owners.size()) ||
        owners[item] != from_rank || count < 0) {
      return corrupt;
    }
    std::vector<torch::Tensor>& tensors = results[item];
    tensors.assign(count, torch::Tensor());
    for (int64_t k = 0; k < count; ++k) {
      int64_t defined = 0, dtype = 0, dim = 0;
      if (!next(defined)) return corrupt;
      if (defined == 0) continue;
      if (!next(dtype) || !next(dim) || dim < 0) return corrupt;
      std::vector<int64_t> sizes(dim);
      for (int64_t& s : sizes) {
        if (!next(s)) return corrupt;
      }
      tensors[k] = torch::empty(
          sizes, torch::TensorOptions().dtype(static_cast<torch::ScalarType>(dtype)).device(device));
    }
  }
  return absl::OkStatus();
}

std::vector<torch::Tensor> DefinedTensorsOf(int rank, const std::vector<int>& owners,
                                            const std::vector<std::vector<torch::Tensor>>& items) {
  std::vector<torch::Tensor> tensors;
  for (size_t i = 0; i < owners.size(); ++i) {
    if (owners[i] != rank) continue;
    for (const torch::Tensor& t : items[i]) {
      if (t.defined()) tensors.push_back(t);
    }
  }
  return tensors;
}

}  // namespace

std::vector<int> AssignOwners(const Collectives& collectives, absl::Span<const int64_t> weights) {
  return GreedyBinPacking(weights, collectives.world_size());
}

absl::StatusOr<std::vector<std::vector<torch::Tensor>>> ComputeOnOwners(
    Collectives& collectives, const std::vector<int>& owners, const torch::Device& device,
    const std::function<absl::StatusOr<std::vector<torch::Tensor>>(size_t item)>& compute,
    absl::string_view what) {
  const int rank = collectives.rank();
  std::vector<std::vector<torch::Tensor>> results(owners.size());
  for (size_t i = 0; i < owners.size(); ++i) {
    if (owners[i] != rank) continue;
    absl::StatusOr<std::vector<torch::Tensor>> computed = compute(i);
    if (!computed.ok()) return computed.status();
    results[i] = *std::move(computed);
  }
  if (!collectives.is_distributed()) return results;

  absl::StatusOr<std::vector<std::string>> descriptions =
      collectives.AllGather(DescribeOwned(owners, rank, results), absl::StrCat(what, " (shapes)"));
  if (!descriptions.ok()) return descriptions.status();
  for (int r = 0; r < collectives.world_size(); ++r) {
    if (r == rank) continue;
    absl::Status allocated = AllocateFromDescription((*descriptions)[r], r, owners, device, results);
    if (!allocated.ok()) return allocated;
  }
  for (int r = 0; r < collectives.world_size(); ++r) {
    const std::vector<torch::Tensor> tensors = DefinedTensorsOf(r, owners, results);
    if (tensors.empty()) continue;  // every rank knows that from the descriptions
    absl::Status sent = collectives.Broadcast(tensors, r, what);
    if (!sent.ok()) return sent;
  }
  return results;
}

absl::Status ReduceToOwners(Collectives& collectives, const std::vector<int>& owners,
                            const std::vector<std::vector<torch::Tensor>>& items,
                            absl::string_view what) {
  if (!collectives.is_distributed()) return absl::OkStatus();
  for (int r = 0; r < collectives.world_size(); ++r) {
    const std::vector<torch::Tensor> tensors = DefinedTensorsOf(r, owners, items);
    if (tensors.empty()) continue;
    absl::Status reduced = collectives.Reduce(tensors, r, ReduceOp::kSum, what);
    if (!reduced.ok()) return reduced;
  }
  return absl::OkStatus();
}

}  // namespace distributed
}  // namespace backend
}  // namespace wring
