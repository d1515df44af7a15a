// Errors of file-system calls as statuses a user can act on.
//
// A checkpoint is many gigabytes written at the end of a long run, so a
// full disk or a read-only location must say so in words, with the path
// and what to do, not only strerror. The code says who can fix it:
// RESOURCE_EXHAUSTED for a full disk or quota (or a file-size limit),
// PERMISSION_DENIED for a location the process may not write, UNAVAILABLE
// for anything else.
#ifndef WRING_BACKEND_BASE_FILE_ERRORS_H_
#define WRING_BACKEND_BASE_FILE_ERRORS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace wring {
namespace backend {

// "<path>: cannot <action>: <strerror>" plus a hint for the cases above.
absl::Status FileError(absl::string_view path, absl::string_view action, int error_number);

}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_BASE_FILE_ERRORS_H_
