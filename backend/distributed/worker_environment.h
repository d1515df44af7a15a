// Where this process sits in a distributed run, read from the environment
// variables torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
// MASTER_ADDR, MASTER_PORT, TORCHELASTIC_USE_AGENT_STORE).
//
// These conventions let the same `wring compress` binary run one worker per
// GPU on several hosts under torchrun, Slurm's srun or mpirun (with those
// variables exported), and under `wring compress --nproc N`, which sets them
// for the workers it starts (backend/distributed/local_launcher.h).
#ifndef WRING_BACKEND_DISTRIBUTED_WORKER_ENVIRONMENT_H_
#define WRING_BACKEND_DISTRIBUTED_WORKER_ENVIRONMENT_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace wring {
namespace backend {
namespace distributed {

struct WorkerEnvironment {
  int rank = 0;
  int world_size = 1;
  // The worker's index on its host (its GPU on CUDA); unset when the
  // launcher did not say (srun / mpirun without LOCAL_RANK).
  std::optional<int> local_rank;
  std::optional<int> local_world_size;
  // The TCPStore rendezvous: rank 0 hosts it at master_addr:master_port,
  // unless a launcher's agent already does (torchrun, `--nproc`), in which
  // case every rank connects to it as a client.
  std::string master_addr;
  int master_port = 0;
  bool agent_hosts_store = false;
};

// The environment's worker description; nullopt when RANK and WORLD_SIZE are
// both unset (a plain single-process run). Inconsistent or partial settings
// are errors naming the variable and the fix. `getenv` is replaceable for
// tests.
absl::StatusOr<std::optional<WorkerEnvironment>> WorkerEnvironmentFromEnv(
    const std::function<const char*(const char*)>& getenv);
absl::StatusOr<std::optional<WorkerEnvironment>> WorkerEnvironmentFromEnv();

// True when `address` names this host's loopback interface (127.0.0.0/8,
// ::1, localhost): the workers then talk over loopback only.
bool IsLoopbackAddress(const std::string& address);

}  // namespace distributed
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_DISTRIBUTED_WORKER_ENVIRONMENT_H_
