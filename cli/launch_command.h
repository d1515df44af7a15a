// Data-parallel `wring compress`: the --nproc launcher and the worker's side
// of the command line (which rank this process is, which device it uses,
// how its messages are labelled). Flags: --nproc, --dist-timeout.
//
//   wring compress ... --nproc 4            4 workers on this host (Gloo or,
//                                           with --device cuda, NCCL)
//   torchrun --nproc-per-node 8 --nnodes 2 ... wring compress ...
//                                           one worker per GPU, any launcher
//                                           that sets torchrun's variables
#ifndef WRING_CLI_LAUNCH_COMMAND_H_
#define WRING_CLI_LAUNCH_COMMAND_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/distributed/collectives.h"

namespace wring {
namespace cli {

// Flag names this file adds (for the unknown-flag check).
const std::vector<std::string>& LaunchFlagNames();

// With --nproc N > 1: starts N workers running this same command line
// (without --nproc), waits for them, prints the failure if any and returns
// the exit status. nullopt: no --nproc, this process does the work.
// `output_dir` is the checkpoint path (its staging directory is removed if
// the run fails); `quiet` silences the launcher's own progress line.
std::optional<int> MaybeLaunchWorkers(int argc, char** argv, const std::string& output_dir,
                                      bool quiet);

// This process's part in the run, from the environment.
struct WorkerSetup {
  std::unique_ptr<backend::distributed::Collectives> collectives;
  // --device resolved for this worker: "cuda" becomes cuda:LOCAL_RANK.
  std::string device;
  // "wring: " or "wring: rank 2: ", for every message this process prints.
  std::string message_prefix;
};

// Joins the distributed run the environment describes (torchrun's variables,
// set by --nproc or an outside launcher), or returns a single-process setup.
// Errors are unusable input (bad variables, a --device that cannot be
// shared) or a failed rendezvous.
absl::StatusOr<WorkerSetup> SetUpWorker(const std::string& device);

}  // namespace cli
}  // namespace wring

#endif  // WRING_CLI_LAUNCH_COMMAND_H_
