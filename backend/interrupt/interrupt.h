// SIGINT and SIGTERM as a request to stop, polled by long-running work.
//
// A scheduler's time limit (SIGTERM) or Ctrl-C (SIGINT) must not leave a
// half-written checkpoint or a staging directory behind. The handler only
// records the signal; the calibration loops, the AWQ grid search and the
// checkpoint writer call CheckNotInterrupted() between units of work of a
// few seconds at most, and the error it returns unwinds the run, whose
// output directory then removes its staging directory. A second signal
// ends the process at once (the handlers reset to the default action after
// the first), for a user who does not want to wait for the cleanup.
#ifndef WRING_BACKEND_INTERRUPT_INTERRUPT_H_
#define WRING_BACKEND_INTERRUPT_INTERRUPT_H_

#include "absl/status/status.h"

namespace wring {
namespace backend {
namespace interrupt {

// Installs the SIGINT and SIGTERM handlers (again after a signal was
// handled, so each run of a long-lived process gets its own). Returns an
// error if sigaction fails.
absl::Status InstallStopHandlers();

// The signal that asked the process to stop (SIGINT or SIGTERM), or 0.
int StopSignal();

// OK, or a CANCELLED status naming the signal, once one was received.
absl::Status CheckNotInterrupted();

// Records `signal` as if it had been delivered (tests; and a way to stop
// work from another thread).
void RequestStop(int signal);

// Forgets a recorded stop request, so that a later run in the same process
// starts clean.
void ClearStopRequest();

}  // namespace interrupt
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_INTERRUPT_INTERRUPT_H_
