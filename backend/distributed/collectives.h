// The collectives a data-parallel `wring compress` needs, behind one small
// interface, so the pipeline calls the same code in one process and in N.
//
// llm-compressor's distributed oneshot splits the calibration samples across
// ranks and keeps every rank's quantization parameters identical by reducing
// statistics at each layer boundary (all_reduce MIN / MAX / AVG / SUM),
// reducing GPTQ Hessians to an owner rank, and broadcasting what one rank
// computed (module-parallel weight qparams). These are exactly the
// operations below. `SingleProcessCollectives` is the world of one (every
// call a no-op); backend/distributed/c10d_collectives.h runs them on
// torch.distributed's c10d (Gloo on CPU, NCCL on CUDA).
//
// Every rank must make the same calls in the same order with tensors of the
// same shapes and dtypes. A failed call (a peer died, or did not answer
// within the timeout) returns a PeerFailure status (kAborted or
// kDeadlineExceeded, marked so IsPeerFailure recognises it after it has been
// passed up) and leaves the group unusable: the caller stops.
#ifndef WRING_BACKEND_DISTRIBUTED_COLLECTIVES_H_
#define WRING_BACKEND_DISTRIBUTED_COLLECTIVES_H_

#include <torch/torch.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace wring {
namespace backend {
namespace distributed {

enum class ReduceOp { kSum, kAvg, kMin, kMax };

// "SUM", "AVG", "MIN", "MAX" (torch.distributed.ReduceOp's names).
absl::string_view ReduceOpName(ReduceOp op);

class Collectives {
 public:
  virtual ~Collectives() = default;

  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  bool is_distributed() const { return world_size() > 1; }

  // In every call, `what` names the data for error messages ("layer 3
  // observer statistics"). Tensors are updated in place; they may have any
  // dtype, device, shape and layout (non-contiguous ones are copied back).
  // Several tensors travel as one message per dtype.

  // Every rank ends with op(over ranks) of its tensors. kAvg is the SUM
  // divided by world_size (floating dtypes only).
  virtual absl::Status AllReduce(absl::Span<const torch::Tensor> tensors, ReduceOp op,
                                 absl::string_view what) = 0;
  // Rank `root` ends with op(over ranks); the others' tensors are scratch
  // afterwards (GPTQ's Hessians on the non-owning ranks).
  virtual absl::Status Reduce(absl::Span<const torch::Tensor> tensors, int root, ReduceOp op,
                              absl::string_view what) = 0;
  // Every rank ends with rank `root`'s tensors.
  virtual absl::Status Broadcast(absl::Span<const torch::Tensor> tensors, int root,
                                 absl::string_view what) = 0;
  virtual absl::Status Barrier(absl::string_view what) = 0;
  // Every rank's `bytes`, in rank order; sizes may differ by rank (results
  // whose size depends on the rank's samples, e.g. serialized metrics).
  virtual absl::StatusOr<std::vector<std::string>> AllGather(absl::string_view bytes,
                                                              absl::string_view what) = 0;
};

// A world of one: reductions and broadcasts leave the tensors as they are.
class SingleProcessCollectives : public Collectives {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  absl::Status AllReduce(absl::Span<const torch::Tensor> tensors, ReduceOp op,
                         absl::string_view what) override;
  absl::Status Reduce(absl::Span<const torch::Tensor> tensors, int root, ReduceOp op,
                      absl::string_view what) override;
  absl::Status Broadcast(absl::Span<const torch::Tensor> tensors, int root,
                         absl::string_view what) override;
  absl::Status Barrier(absl::string_view what) override;
  absl::StatusOr<std::vector<std::string>> AllGather(absl::string_view bytes,
                                                     absl::string_view what) override;
};

// The status of a collective that failed because another worker died
// (kAborted) or did not answer in time (kDeadlineExceeded).
absl::Status PeerFailure(absl::StatusCode code, absl::string_view message);
// True for PeerFailure statuses (the mark survives unchanged propagation):
// this worker did nothing wrong and exits with kExitPeerFailed, so the
// launcher can tell the failure's cause from its echoes on the other ranks.
bool IsPeerFailure(const absl::Status& status);

// Exit status of a worker that stopped because a collective failed.
inline constexpr int kExitPeerFailed = 4;

}  // namespace distributed
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_DISTRIBUTED_COLLECTIVES_H_
