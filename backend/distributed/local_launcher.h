// `wring compress --nproc N`: N workers on this host, started and watched
// the way torchrun does it, so one failing worker never leaves the others
// hanging or a half-written checkpoint behind.
//
// The launcher hosts the TCPStore rendezvous itself on a free port of
// 127.0.0.1 (so no port is guessed and the store outlives any worker) and
// starts `program` N times with torchrun's variables: RANK, WORLD_SIZE,
// LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1, MASTER_PORT and
// TORCHELASTIC_USE_AGENT_STORE=True (every rank joins the launcher's store as
// a client). The workers share its stdin, stdout and stderr and die with it.
//
// When a worker fails (non-zero exit, or a signal such as the out-of-memory
// killer's SIGKILL), or the launcher is interrupted or runs past `deadline`,
// the others get SIGTERM and, after `grace`, SIGKILL; all are reaped,
// `clean_up_after_failure` runs (it removes the checkpoint's staging
// directory), and the outcome names the rank that failed first and why.
#ifndef WRING_BACKEND_DISTRIBUTED_LOCAL_LAUNCHER_H_
#define WRING_BACKEND_DISTRIBUTED_LOCAL_LAUNCHER_H_

#include <sys/types.h>

#include <cstdint>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace wring {
namespace backend {
namespace distributed {

struct LaunchOptions {
  std::string program;  // executable path; "/proc/self/exe" re-runs this binary
  std::vector<std::string> argv;  // including argv[0]
  int nproc = 1;
  // Set in every worker's environment, beside torchrun's variables.
  // torchrun's variables can be overridden here too (tests: a store hosted
  // by rank 0 instead of the launcher).
  std::vector<std::pair<std::string, std::string>> env;
  // The store's own timeout for workers' requests to it.
  absl::Duration store_timeout = absl::Minutes(30);
  // Between SIGTERM and SIGKILL when stopping the workers.
  absl::Duration grace = absl::Seconds(10);
  // The whole run; past it every worker is stopped (tests bound themselves).
  absl::Duration deadline = absl::InfiniteDuration();
  // Runs once every worker is gone, when the run failed or was stopped.
  std::function<void()> clean_up_after_failure;
  // Stop the others when one fails. Tests turn it off to see that workers
  // notice a failed peer by themselves (the launcher then waits for all).
  bool stop_on_failure = true;
};

struct WorkerOutcome {
  int rank = 0;
  pid_t pid = 0;
  bool exited = false;  // else killed by `signal`
  int exit_status = 0;
  int signal = 0;
  bool stopped_by_launcher = false;  // still running when the launcher stopped it
  int64_t peak_rss_bytes = 0;  // the worker's peak resident memory (wait4)
};

struct LaunchOutcome {
  // What the launcher exits with: 0 when every worker exited 0; else the
  // first failing worker's exit status (3 when a signal killed it, 130 when
  // the launcher was interrupted).
  int exit_status = 0;
  // Empty on success; else names the rank that failed first and the cause.
  std::string message;
  int failed_rank = -1;
  std::vector<WorkerOutcome> workers;  // by rank
};

// Runs the workers to the end. An error means they could not be started
// (the store could not listen, fork or exec failed); none is left running.
absl::StatusOr<LaunchOutcome> LaunchLocalWorkers(const LaunchOptions& options);

}  // namespace distributed
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_DISTRIBUTED_LOCAL_LAUNCHER_H_
