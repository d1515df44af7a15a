#include "backend/interrupt/interrupt.h"

#include <signal.h>
#include <string.h>

#include <atomic>
#include <cerrno>

#include "absl/strings/str_cat.h"

namespace wring {
namespace backend {
namespace interrupt {
namespace {

// Lock-free, so setting it from a signal handler is safe.
std::atomic<int> stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "a signal handler must not take locks");

void RecordSignal(int signal) { stop_signal.store(signal, std::memory_order_relaxed); }

const char* SignalName(int signal) {
  switch (signal) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    default:
      return "a signal";
  }
}

}  // namespace

absl::Status InstallStopHandlers() {
  struct sigaction action;
  memset(&action, 0, sizeof(action));
  action.sa_handler = RecordSignal;
  sigemptyset(&action.sa_mask);
  // SA_RESETHAND: the second signal takes the default action (ends the
  // process). No SA_RESTART: a blocking read returns EINTR and the caller
  // gets to check for the stop.
  action.sa_flags = SA_RESETHAND;
  for (int signal : {SIGINT, SIGTERM}) {
    if (sigaction(signal, &action, nullptr) != 0) {
      return absl::InternalError(
          absl::StrCat("cannot install the ", SignalName(signal), " handler: ", strerror(errno)));
    }
  }
  return absl::OkStatus();
}

int StopSignal() { return stop_signal.load(std::memory_order_relaxed); }

absl::Status CheckNotInterrupted() {
  const int signal = StopSignal();
  if (signal == 0) return absl::OkStatus();
  return absl::CancelledError(absl::StrCat("interrupted by ", SignalName(signal)));
}

void RequestStop(int signal) { RecordSignal(signal); }

void ClearStopRequest() { stop_signal.store(0, std::memory_order_relaxed); }

}  // namespace interrupt
}  // namespace backend
}  // namespace wring
