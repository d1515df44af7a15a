#include "backend/base/file_errors.h"

#include <errno.h>
#include <string.h>

#include "absl/strings/str_cat.h"

namespace wring {
namespace backend {

absl::Status FileError(absl::string_view path, absl::string_view action, int error_number) {
  const std::string message =
      absl::StrCat(path, ": cannot ", action, ": ", strerror(error_number));
  switch (error_number) {
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(absl::StrCat(
          message, ". The disk (or quota) is full: free space there or choose an --output on "
                   "another file system"));
    case EFBIG:
      return absl::ResourceExhaustedError(absl::StrCat(
          message, ". The file outgrew the limit on file size for this process (ulimit -f) or "
                   "file system"));
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(
          absl::StrCat(message, ". Choose an --output location this user can write to"));
    default:
      return absl::UnavailableError(message);
  }
}

}  // namespace backend
}  // namespace wring
