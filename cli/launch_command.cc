#include "cli/launch_command.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "backend/cpu_kernels/intra_op_threads.h"
#include "backend/distributed/c10d_collectives.h"
#include "backend/distributed/local_launcher.h"
#include "backend/distributed/worker_environment.h"
#include "backend/output/output_directory.h"

ABSL_FLAG(int, nproc, 0,
          "compress: start N worker processes on this host and split the calibration samples "
          "between them (data-parallel, as llm-compressor under torchrun); leave it out when "
          "torchrun, srun or mpirun starts the workers");
ABSL_FLAG(int, dist_timeout, 1800,
          "compress: seconds a worker waits for the others in one collective before the run "
          "fails (--dist-timeout)");

namespace wring {
namespace cli {
namespace {

namespace distributed = backend::distributed;

// The worker's command line: the launcher's without --nproc (in any of the
// spellings absl accepts: --nproc=N, --nproc N, -nproc ...).
std::vector<std::string> WorkerArgs(int argc, char** argv) {
  std::vector<std::string> args;
  bool flags_done = false;
  for (int i = 0; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (!flags_done && i > 0) {
      if (arg == "--") flags_done = true;
      absl::string_view name = arg;
      if (absl::ConsumePrefix(&name, "--") || absl::ConsumePrefix(&name, "-")) {
        if (name == "nproc") {
          ++i;  // its value follows
          continue;
        }
        if (absl::StartsWith(name, "nproc=")) continue;
      }
    }
    args.emplace_back(arg);
  }
  return args;
}

absl::Duration DistTimeout() { return absl::Seconds(absl::GetFlag(FLAGS_dist_timeout)); }

}  // namespace

const std::vector<std::string>& LaunchFlagNames() {
  static const auto* names = new std::vector<std::string>{"nproc", "dist_timeout"};
  return *names;
}

std::optional<int> MaybeLaunchWorkers(int argc, char** argv, const std::string& output_dir,
                                      bool quiet) {
  const int nproc = absl::GetFlag(FLAGS_nproc);
  if (nproc == 0 || nproc == 1) return std::nullopt;
  if (nproc < 0) {
    std::fprintf(stderr, "wring: error: --nproc %d: give the number of workers (2 or more)\n",
                 nproc);
    return 2;
  }
  if (std::getenv("RANK") != nullptr || std::getenv("WORLD_SIZE") != nullptr) {
    std::fprintf(stderr,
                 "wring: error: --nproc starts its own workers, but RANK / WORLD_SIZE are "
                 "already set (torchrun, srun or mpirun started this process): leave --nproc "
                 "out\n");
    return 2;
  }
  if (absl::GetFlag(FLAGS_dist_timeout) <= 0) {
    std::fprintf(stderr, "wring: error: --dist-timeout %d: give a positive number of seconds\n",
                 absl::GetFlag(FLAGS_dist_timeout));
    return 2;
  }
  distributed::LaunchOptions options;
  // This binary by its own path, so `ps` and `top` name the workers `wring`
  // (through /proc/self/exe they would show as `exe`).
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  options.program = error ? "/proc/self/exe" : self.string();
  options.argv = WorkerArgs(argc, argv);
  options.nproc = nproc;
  options.store_timeout = DistTimeout();
  // As torchrun does for several processes on one host: the workers share
  // the cores instead of each starting a thread per core.
  const std::string threads =
      std::to_string(backend::cpu_kernels::ThreadsPerWorker(nproc, backend::cpu_kernels::PhysicalCoresAvailable()));
  for (const char* variable : {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"}) {
    if (std::getenv(variable) == nullptr) options.env.push_back({variable, threads});
  }
  if (!output_dir.empty()) {
    // Not another run's: a launch refused because that run holds the output
    // must leave its files alone.
    options.clean_up_after_failure = [output_dir] {
      (void)backend::output::OutputDirectory::RemoveAbandonedStaging(output_dir);
    };
  }
  if (!quiet) {
    std::fprintf(stderr,
                 "wring: %d workers on this host, meeting on 127.0.0.1; rank 0 reports progress\n",
                 nproc);
  }
  absl::StatusOr<distributed::LaunchOutcome> outcome = distributed::LaunchLocalWorkers(options);
  if (!outcome.ok()) {
    std::fprintf(stderr, "wring: error: %s\n", std::string(outcome.status().message()).c_str());
    return 3;
  }
  if (outcome->exit_status != 0) {
    std::fprintf(stderr, "wring: error: %s; no checkpoint was written\n",
                 outcome->message.c_str());
  }
  return outcome->exit_status;
}

absl::StatusOr<WorkerSetup> SetUpWorker(const std::string& device) {
  WorkerSetup setup;
  setup.device = device;
  setup.message_prefix = "wring: ";
  absl::StatusOr<std::optional<distributed::WorkerEnvironment>> env =
      distributed::WorkerEnvironmentFromEnv();
  if (!env.ok()) return env.status();
  if (!env->has_value() || (*env)->world_size == 1) {
    setup.collectives = std::make_unique<distributed::SingleProcessCollectives>();
    return setup;
  }
  const distributed::WorkerEnvironment& worker = **env;
  setup.message_prefix = absl::StrCat("wring: rank ", worker.rank, ": ");
  if (absl::StartsWith(device, "cuda")) {
    // One GPU per worker: cuda:LOCAL_RANK, as llm-compressor's init_dist.
    int index = -1;
    const bool explicit_index =
        absl::StartsWith(device, "cuda:") && absl::SimpleAtoi(device.substr(5), &index);
    if (device != "cuda" && !explicit_index) {
      return absl::InvalidArgumentError(
          absl::StrCat("--device ", device, ": give cpu, cuda or cuda:N"));
    }
    if (explicit_index && worker.local_world_size.value_or(2) > 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--device ", device, ": with several workers on a host each takes its own GPU; give "
          "--device cuda and every worker uses cuda:LOCAL_RANK"));
    }
    if (!explicit_index) {
      if (!worker.local_rank.has_value()) {
        return absl::InvalidArgumentError(
            "--device cuda in a distributed run needs LOCAL_RANK (the GPU index on this host); "
            "torchrun sets it, under srun export LOCAL_RANK=$SLURM_LOCALID");
      }
      setup.device = absl::StrCat("cuda:", *worker.local_rank);
    }
  } else if (device != "cpu") {
    return absl::InvalidArgumentError(
        absl::StrCat("--device ", device, ": give cpu, cuda or cuda:N"));
  }
  distributed::ConnectOptions connect;
  connect.device = torch::Device(setup.device);
  connect.timeout = DistTimeout();
  absl::StatusOr<std::unique_ptr<distributed::Collectives>> collectives =
      distributed::ConnectCollectives(worker, connect);
  if (!collectives.ok()) return collectives.status();
  setup.collectives = *std::move(collectives);
  return setup;
}

}  // namespace cli
}  // namespace wring
