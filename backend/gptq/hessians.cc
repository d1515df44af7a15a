#include "backend/gptq/hessians.h"

#include "absl/strings/str_cat.h"
#include "backend/base/torch_errors.h"

namespace wring {
namespace backend {
namespace gptq {

absl::Status LayerHessians::ShareInput(const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    if (member_.count(name) > 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("GPTQ: ", name, " already has a Hessian of its own"));
    }
  }
  groups_.push_back(std::make_unique<Group>());
  for (const std::string& name : names) member_[name].group = static_cast<int>(groups_.size()) - 1;
  return absl::OkStatus();
}

absl::Status LayerHessians::Add(const std::string& name, const torch::Tensor& input) {
  auto it = member_.find(name);
  if (it == member_.end()) {
    // The first batch: join a group that accumulated this very tensor.
    for (size_t g = 0; g < groups_.size() && it == member_.end(); ++g) {
      if (groups_[g]->batches == 1 && input.is_same(groups_[g]->last)) {
        it = member_.emplace(name, Member{static_cast<int>(g), 0}).first;
      }
    }
  }
  if (it == member_.end()) {
    groups_.push_back(std::make_unique<Group>());
    it = member_.emplace(name, Member{static_cast<int>(groups_.size()) - 1, 0}).first;
  }
  Member& member = it->second;
  Group& group = *groups_[member.group];
  if (member.batches == group.batches) {  // the first report of a new batch
    if (absl::Status status = group.gram.Add(input); !status.ok()) {
      return absl::Status(status.code(), absl::StrCat("GPTQ Hessian of ", name, ": ", status.message()));
    }
    group.last = input;
    ++group.batches;
    ++member.batches;
    return absl::OkStatus();
  }
  const bool same = member.batches + 1 == group.batches &&
                    (input.is_same(group.last) ||
                     CatchTorchErrors("GPTQ Hessian", [&]() -> absl::StatusOr<bool> {
                       return input.sizes() == group.last.sizes() && torch::equal(input, group.last);
                     }).value_or(false));
  if (!same) {
    return absl::InternalError(absl::StrCat(
        "GPTQ: ", name, " was declared to read the same input as other Linears, but its input "
        "differs from theirs (batch ", member.batches + 1, ")"));
  }
  ++member.batches;
  return absl::OkStatus();
}

absl::StatusOr<torch::Tensor> LayerHessians::Normalized(const std::string& name) const {
  auto it = member_.find(name);
  if (it == member_.end() || groups_[it->second.group]->batches == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "GPTQ: ", name, " saw no calibration input (llm-compressor raises \"Failed to compress\")"));
  }
  const Group& group = *groups_[it->second.group];
  if (it->second.batches != group.batches) {
    return absl::FailedPreconditionError(absl::StrCat("GPTQ: ", name, " saw ", it->second.batches,
                                                      " of the ", group.batches,
                                                      " calibration batches its input group saw"));
  }
  return CatchTorchErrors("GPTQ Hessian", [&]() -> absl::StatusOr<torch::Tensor> {
    // hessian / num_samples: the count is a 0-d float32 tensor upstream.
    return group.gram.matrix() / torch::scalar_tensor(static_cast<double>(group.gram.samples()),
                                                      group.gram.matrix().options());
  });
}

int64_t LayerHessians::Samples(const std::string& name) const {
  auto it = member_.find(name);
  return it == member_.end() ? 0 : groups_[it->second.group]->gram.samples();
}

absl::Status LayerHessians::SumOverRanks(distributed::Collectives& collectives,
                                         absl::string_view what) {
  if (!collectives.is_distributed()) return absl::OkStatus();
  return CatchTorchErrors("GPTQ Hessians over the workers", [&]() -> absl::Status {
    // MAX of (n, -n): the most and (negated) the fewest groups, in one call.
    const int64_t mine = static_cast<int64_t>(groups_.size());
    torch::Tensor counts = torch::tensor({mine, -mine}, torch::kInt64);
    absl::Status status = collectives.AllReduce({counts}, distributed::ReduceOp::kMax, what);
    if (!status.ok()) return status;
    if (counts[0].item<int64_t>() != -counts[1].item<int64_t>()) {
      return absl::InternalError(absl::StrCat(what, ": the workers grouped GPTQ's inputs differently"));
    }
    for (size_t i = 0; i < groups_.size(); ++i) {
      status = groups_[i]->gram.SumOverRanks(collectives, absl::StrCat(what, ", input group ", i));
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  });
}

void LayerHessians::Clear() {
  groups_.clear();
  member_.clear();
}

}  // namespace gptq
}  // namespace backend
}  // namespace wring
