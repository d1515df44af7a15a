#include "mapping/base/file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"

namespace wring {
namespace mapping {
namespace {

absl::Status CannotRead(const std::string& path, absl::string_view what, int error) {
  const std::string message =
      absl::StrCat(path, ": cannot read the ", what, ": ", std::strerror(error));
  switch (error) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    default:
      return absl::InvalidArgumentError(message);
  }
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view what) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) return CannotRead(path, what, errno);
  if (S_ISDIR(info.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": cannot read the ", what, ": it is a directory, not a file"));
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (file == nullptr) return CannotRead(path, what, errno);
  std::string contents;
  char buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file.get())) > 0) contents.append(buffer, n);
  if (std::ferror(file.get())) return CannotRead(path, what, errno);
  return contents;
}

}  // namespace mapping
}  // namespace wring
