// Collectives on torch.distributed's c10d, the engine PyTorch's own
// distributed training runs on: a TCPStore rendezvous, then ProcessGroupGloo
// for CPU tensors or ProcessGroupNCCL for CUDA tensors (CUDA builds).
//
// Every call waits at most `timeout`: a worker that died makes its peers'
// calls fail at once (the connection closes), one that hangs makes them fail
// when the timeout runs out, so no worker waits forever.
#ifndef WRING_BACKEND_DISTRIBUTED_C10D_COLLECTIVES_H_
#define WRING_BACKEND_DISTRIBUTED_C10D_COLLECTIVES_H_

#include <torch/torch.h>

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "backend/distributed/collectives.h"
#include "backend/distributed/worker_environment.h"

namespace wring {
namespace backend {
namespace distributed {

struct ConnectOptions {
  // Where this worker's tensors live: CPU selects Gloo, a CUDA device NCCL
  // (each worker its own GPU, usually cuda:LOCAL_RANK).
  torch::Device device = torch::kCPU;
  // torch.distributed's default for Gloo (init_process_group's timeout).
  absl::Duration timeout = absl::Minutes(30);
};

// Joins the group `env` describes (blocking until every rank has joined, at
// most `timeout`). A world of one needs no group and gets
// SingleProcessCollectives. Fails when this build has no backend for the
// device (Gloo needs its headers at build time; NCCL a CUDA LibTorch).
absl::StatusOr<std::unique_ptr<Collectives>> ConnectCollectives(const WorkerEnvironment& env,
                                                                const ConnectOptions& options);

// "gloo" or "nccl": the backend ConnectCollectives uses for `device`, or an
// error saying why this build has none.
absl::StatusOr<const char*> BackendFor(const torch::Device& device);

}  // namespace distributed
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_DISTRIBUTED_C10D_COLLECTIVES_H_
