#include "backend/distributed/collectives.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace wring {
namespace backend {
namespace distributed {

absl::string_view ReduceOpName(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return "SUM";
    case ReduceOp::kAvg:
      return "AVG";
    case ReduceOp::kMin:
      return "MIN";
    case ReduceOp::kMax:
      return "MAX";
  }
  return "?";
}

namespace {

absl::Status CheckRoot(int root, absl::string_view what) {
  if (root == 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": root rank ", root, " does not exist in a single-process run"));
}

}  // namespace

absl::Status SingleProcessCollectives::AllReduce(absl::Span<const torch::Tensor>, ReduceOp,
                                                 absl::string_view) {
  return absl::OkStatus();
}

absl::Status SingleProcessCollectives::Reduce(absl::Span<const torch::Tensor>, int root, ReduceOp,
                                              absl::string_view what) {
  return CheckRoot(root, what);
}

absl::Status SingleProcessCollectives::Broadcast(absl::Span<const torch::Tensor>, int root,
                                                 absl::string_view what) {
  return CheckRoot(root, what);
}

absl::Status SingleProcessCollectives::Barrier(absl::string_view) { return absl::OkStatus(); }

absl::StatusOr<std::vector<std::string>> SingleProcessCollectives::AllGather(
    absl::string_view bytes, absl::string_view) {
  return std::vector<std::string>{std::string(bytes)};
}

namespace {
constexpr char kPeerFailureUrl[] = "type.wring/distributed.PeerFailure";
}  // namespace

absl::Status PeerFailure(absl::StatusCode code, absl::string_view message) {
  absl::Status status(code, message);
  status.SetPayload(kPeerFailureUrl, absl::Cord("1"));
  return status;
}

bool IsPeerFailure(const absl::Status& status) {
  return status.GetPayload(kPeerFailureUrl).has_value();
}

}  // namespace distributed
}  // namespace backend
}  // namespace wring
