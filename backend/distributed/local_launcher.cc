#include "backend/distributed/local_launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "backend/base/torch_errors.h"
#include "backend/distributed/collectives.h"

extern char** environ;

namespace wring {
namespace backend {
namespace distributed {
namespace {

constexpr char kLoopback[] = "127.0.0.1";
constexpr absl::Duration kPollInterval = absl::Milliseconds(20);

// Everything a child needs between fork and exec, built before fork (only
// async-signal-safe calls may run in the child).
struct ExecImage {
  std::vector<std::string> strings;
  std::vector<char*> argv;
  std::vector<std::string> env_strings;
  std::vector<char*> envp;
};

ExecImage BuildImage(const LaunchOptions& options, int rank, int port) {
  ExecImage image;
  image.strings = options.argv;
  for (std::string& s : image.strings) image.argv.push_back(s.data());
  image.argv.push_back(nullptr);

  std::vector<std::pair<std::string, std::string>> ours = {
      {"RANK", absl::StrCat(rank)},
      {"WORLD_SIZE", absl::StrCat(options.nproc)},
      {"LOCAL_RANK", absl::StrCat(rank)},
      {"LOCAL_WORLD_SIZE", absl::StrCat(options.nproc)},
      {"MASTER_ADDR", kLoopback},
      {"MASTER_PORT", absl::StrCat(port)},
      {"TORCHELASTIC_USE_AGENT_STORE", "True"}};
  for (const auto& extra : options.env) {
    bool replaced = false;
    for (auto& [key, value] : ours) {
      if (key == extra.first) {
        value = extra.second;
        replaced = true;
      }
    }
    if (!replaced) ours.push_back(extra);
  }
  for (char** e = environ; *e != nullptr; ++e) {
    absl::string_view entry(*e);
    absl::string_view name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const auto& [key, value] : ours) replaced = replaced || name == key;
    if (!replaced) image.env_strings.emplace_back(entry);
  }
  for (const auto& [key, value] : ours) image.env_strings.push_back(absl::StrCat(key, "=", value));
  for (std::string& s : image.env_strings) image.envp.push_back(s.data());
  image.envp.push_back(nullptr);
  return image;
}

// Starts one worker. A close-on-exec pipe reports a failed exec (its errno)
// back to the launcher; a successful exec closes it unread.
absl::StatusOr<pid_t> Spawn(const std::string& program, ExecImage& image, int rank) {
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("cannot start worker ", rank, ": pipe: ",
                                            std::strerror(errno)));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const int error = errno;
    close(report[0]);
    close(report[1]);
    return absl::ResourceExhaustedError(absl::StrCat("cannot start worker ", rank, ": fork: ",
                                                     std::strerror(error)));
  }
  if (pid == 0) {
    close(report[0]);
    // A worker must not outlive its launcher (killed or crashed).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    execve(program.c_str(), image.argv.data(), image.envp.data());
    const int error = errno;
    (void)!write(report[1], &error, sizeof(error));
    _exit(127);
  }
  close(report[1]);
  int exec_errno = 0;
  ssize_t got;
  do {
    got = read(report[0], &exec_errno, sizeof(exec_errno));
  } while (got < 0 && errno == EINTR);
  close(report[0]);
  if (got > 0) {
    waitpid(pid, nullptr, 0);
    return absl::NotFoundError(absl::StrCat("cannot start worker ", rank, ": ", program, ": ",
                                            std::strerror(exec_errno)));
  }
  return pid;
}

volatile sig_atomic_t g_interrupted = 0;
void OnInterrupt(int) { g_interrupted = 1; }

// Ctrl-C or a TERM to the launcher stops the workers instead of orphaning
// them mid-collective; the previous handlers return afterwards.
class InterruptGuard {
 public:
  InterruptGuard() {
    g_interrupted = 0;
    struct sigaction action {};
    action.sa_handler = OnInterrupt;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }
  ~InterruptGuard() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

std::string DescribeExit(const WorkerOutcome& w) {
  if (w.exited) return absl::StrCat("exited with status ", w.exit_status);
  std::string text = absl::StrCat("was killed by signal ", w.signal, " (", strsignal(w.signal), ")");
  if (w.signal == SIGKILL) {
    absl::StrAppend(&text, "; nothing in wring sends that, so it is usually the kernel's "
                           "out-of-memory killer (see `dmesg`)");
  }
  return text;
}

bool Failed(const WorkerOutcome& w) { return !w.exited || w.exit_status != 0; }

// The worker whose failure came first: the first observed that did not
// merely echo a peer's (kExitPeerFailed) and was not stopped by us.
int RootCause(const std::vector<WorkerOutcome>& workers, const std::vector<int>& exit_order) {
  for (int rank : exit_order) {
    const WorkerOutcome& w = workers[rank];
    if (Failed(w) && !w.stopped_by_launcher && !(w.exited && w.exit_status == kExitPeerFailed)) {
      return rank;
    }
  }
  for (int rank : exit_order) {
    if (Failed(workers[rank]) && !workers[rank].stopped_by_launcher) return rank;
  }
  return -1;
}

}  // namespace

absl::StatusOr<LaunchOutcome> LaunchLocalWorkers(const LaunchOptions& options) {
  if (options.nproc < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--nproc ", options.nproc, ": need at least one worker"));
  }
  // The rendezvous every worker joins; port 0 lets the kernel pick a free one.
  c10d::TCPStoreOptions store_options;
  store_options.port = 0;
  store_options.isServer = true;
  store_options.waitWorkers = false;
  store_options.timeout =
      std::chrono::milliseconds(absl::ToInt64Milliseconds(options.store_timeout));
  absl::StatusOr<c10::intrusive_ptr<c10d::TCPStore>> store =
      CatchTorchErrors("hosting the workers' rendezvous (TCPStore) on 127.0.0.1",
                       [&]() -> absl::StatusOr<c10::intrusive_ptr<c10d::TCPStore>> {
                         return c10::make_intrusive<c10d::TCPStore>(kLoopback, store_options);
                       });
  if (!store.ok()) return store.status();
  const int port = (*store)->getPort();

  LaunchOutcome outcome;
  outcome.workers.resize(options.nproc);
  std::vector<bool> running(options.nproc, false);
  std::vector<int> exit_order;
  auto stop_all = [&](int signal) {
    for (int r = 0; r < options.nproc; ++r) {
      if (running[r]) kill(outcome.workers[r].pid, signal);
    }
  };
  auto reap_all = [&] {
    for (int r = 0; r < options.nproc; ++r) {
      if (running[r]) waitpid(outcome.workers[r].pid, nullptr, 0);
    }
  };

  InterruptGuard interrupts;
  for (int rank = 0; rank < options.nproc; ++rank) {
    ExecImage image = BuildImage(options, rank, port);
    absl::StatusOr<pid_t> pid = Spawn(options.program, image, rank);
    if (!pid.ok()) {
      stop_all(SIGKILL);
      reap_all();
      return pid.status();
    }
    outcome.workers[rank].rank = rank;
    outcome.workers[rank].pid = *pid;
    running[rank] = true;
  }

  const absl::Time start = absl::Now();
  absl::Time kill_at = absl::InfiniteFuture();
  bool stopping = false;
  std::string stop_reason;
  int live = options.nproc;
  while (live > 0) {
    for (int r = 0; r < options.nproc; ++r) {
      if (!running[r]) continue;
      int status = 0;
      struct rusage usage {};
      const pid_t done = wait4(outcome.workers[r].pid, &status, WNOHANG, &usage);
      if (done != outcome.workers[r].pid) continue;
      running[r] = false;
      --live;
      exit_order.push_back(r);
      WorkerOutcome& w = outcome.workers[r];
      w.peak_rss_bytes = static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux: KiB
      w.exited = WIFEXITED(status);
      w.exit_status = w.exited ? WEXITSTATUS(status) : 0;
      w.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
      w.stopped_by_launcher = stopping && !w.exited && (w.signal == SIGTERM || w.signal == SIGKILL);
      if (Failed(w) && !stopping && options.stop_on_failure) {
        stopping = true;
        stop_reason = "failed";
      }
    }
    if (!stopping && g_interrupted) {
      stopping = true;
      stop_reason = "interrupted";
    }
    if (!stopping && absl::Now() - start > options.deadline) {
      stopping = true;
      stop_reason = "deadline";
    }
    if (stopping && kill_at == absl::InfiniteFuture() && live > 0) {
      stop_all(SIGTERM);
      kill_at = absl::Now() + options.grace;
    }
    if (live > 0 && absl::Now() >= kill_at) {
      stop_all(SIGKILL);
      kill_at = absl::InfinitePast();  // sent; just reap from here on
    }
    if (live > 0) absl::SleepFor(kPollInterval);
  }

  if (!stopping) {
    // Without stop_on_failure the workers ended by themselves.
    if (!std::any_of(outcome.workers.begin(), outcome.workers.end(), Failed)) return outcome;
    stop_reason = "failed";
  }
  if (options.clean_up_after_failure) options.clean_up_after_failure();
  std::vector<std::string> stopped;
  for (const WorkerOutcome& w : outcome.workers) {
    if (w.stopped_by_launcher) stopped.push_back(absl::StrCat(w.rank));
  }
  const std::string stopped_text =
      stopped.empty() ? ""
                      : absl::StrCat("; stopped rank", stopped.size() > 1 ? "s " : " ",
                                     absl::StrJoin(stopped, ", "));
  if (stop_reason == "interrupted") {
    outcome.exit_status = 130;
    outcome.message = absl::StrCat("interrupted", stopped_text);
    return outcome;
  }
  if (stop_reason == "deadline") {
    outcome.exit_status = 3;
    outcome.message = absl::StrCat("the workers ran past the launcher's deadline of ",
                                   absl::FormatDuration(options.deadline), stopped_text);
    return outcome;
  }
  outcome.failed_rank = RootCause(outcome.workers, exit_order);
  if (outcome.failed_rank < 0) outcome.failed_rank = exit_order.front();
  const WorkerOutcome& cause = outcome.workers[outcome.failed_rank];
  outcome.exit_status = cause.exited ? cause.exit_status : 3;
  outcome.message = absl::StrCat("rank ", cause.rank, " (pid ", cause.pid, ") ",
                                 DescribeExit(cause), stopped_text);
  if (cause.exited && cause.exit_status == kExitPeerFailed) {
    absl::StrAppend(&outcome.message,
                    "; every failure was a collective that found a peer gone or silent, so a "
                    "worker stopped answering (the stopped ones were still running)");
  }
  return outcome;
}

}  // namespace distributed
}  // namespace backend
}  // namespace wring
