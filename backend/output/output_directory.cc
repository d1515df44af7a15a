#include "backend/output/output_directory.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "backend/base/file_errors.h"

namespace wring {
namespace backend {
namespace output {
namespace {

namespace fs = std::filesystem;

absl::Status IoError(const std::string& path, absl::string_view action, const std::error_code& ec) {
  return FileError(path, action, ec.value());
}

absl::Status ExistingOutputError(const fs::path& path) {
  return absl::AlreadyExistsError(absl::StrCat(
      path.string(),
      ": the output path exists and is not an empty directory; wring never overwrites a "
      "checkpoint. Choose a new --output path or remove the old one"));
}

std::string ReadOwner(int fd) {
  char buffer[32] = {};
  const ssize_t n = pread(fd, buffer, sizeof(buffer) - 1, 0);
  int pid = 0;
  if (n > 0 && absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::string_view(buffer, n)), &pid)) {
    return absl::StrCat(" (process ", pid, ")");
  }
  return "";
}

// Opens and exclusively locks `lock_path`, returning the descriptor. The
// lock file is unlinked by its holder at the end, so a descriptor locked
// after that unlink would lock a file nobody else can find: the lock only
// counts if the path still names the locked file.
absl::StatusOr<int> LockOutput(const std::string& lock_path, const std::string& output) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    const int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return FileError(lock_path, "create the output's lock file", errno);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      const std::string owner = ReadOwner(fd);
      close(fd);
      if (error == EWOULDBLOCK) {
        return absl::AlreadyExistsError(absl::StrCat(
            output, ": another wring compress", owner,
            " is writing this output now; wait for it to finish, or choose another --output"));
      }
      return FileError(lock_path, "lock", error);
    }
    struct stat held, named;
    if (fstat(fd, &held) == 0 && stat(lock_path.c_str(), &named) == 0 &&
        held.st_dev == named.st_dev && held.st_ino == named.st_ino) {
      const std::string pid = absl::StrCat(getpid(), "\n");
      if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) < 0) {
        const int error = errno;
        close(fd);
        return FileError(lock_path, "write the output's lock file", error);
      }
      return fd;
    }
    close(fd);  // lost a race with the previous holder's unlink: retry
  }
  return absl::UnavailableError(absl::StrCat(lock_path, ": cannot lock the output (it keeps being replaced)"));
}

fs::path FinalPath(const std::string& path) {
  fs::path final_path = fs::absolute(fs::path(path)).lexically_normal();
  if (final_path.has_filename() == false) final_path = final_path.parent_path();
  return final_path;
}

}  // namespace

std::string OutputDirectory::StagingPathFor(const std::string& path) {
  fs::path staging = FinalPath(path);
  staging += ".wring-partial";
  return staging.string();
}

absl::StatusOr<std::unique_ptr<OutputDirectory>> OutputDirectory::Create(const std::string& path) {
  if (path.empty()) {
    return absl::InvalidArgumentError("--output: give the directory to write the checkpoint to");
  }
  const fs::path final_path = FinalPath(path);
  std::error_code ec;
  auto exists_and_not_empty = [&final_path]() {
    std::error_code error;
    return fs::exists(final_path, error) &&
           (!fs::is_directory(final_path, error) || !fs::is_empty(final_path, error));
  };
  if (exists_and_not_empty()) return ExistingOutputError(final_path);
  const fs::path parent = final_path.parent_path();
  if (!fs::is_directory(parent, ec)) {
    return absl::NotFoundError(absl::StrCat(parent.string(),
                                            ": the output's parent directory does not exist; "
                                            "create it first"));
  }
  if (access(parent.c_str(), W_OK | X_OK) != 0) {
    return FileError(parent.string(), "create the output in this directory", errno);
  }
  const std::string lock_path = final_path.string() + ".wring-lock";
  absl::StatusOr<int> lock_fd = LockOutput(lock_path, final_path.string());
  if (!lock_fd.ok()) return lock_fd.status();
  auto release = [&]() {
    unlink(lock_path.c_str());
    close(*lock_fd);
  };
  // Another run may have committed between the first check and the lock.
  if (exists_and_not_empty()) {
    release();
    return ExistingOutputError(final_path);
  }
  const fs::path staging = StagingPathFor(path);
  fs::remove_all(staging, ec);  // left by a killed run: its lock is gone
  if (!fs::create_directory(staging, ec)) {
    release();
    return IoError(staging.string(), "create directory", ec);
  }
  return std::unique_ptr<OutputDirectory>(
      new OutputDirectory(final_path.string(), staging.string(), lock_path, *lock_fd));
}

absl::Status OutputDirectory::RemoveAbandonedStaging(const std::string& path) {
  const fs::path final_path = FinalPath(path);
  const std::string lock_path = final_path.string() + ".wring-lock";
  absl::StatusOr<int> lock_fd = LockOutput(lock_path, final_path.string());
  if (!lock_fd.ok()) return lock_fd.status();
  const std::string staging = StagingPathFor(path);
  std::error_code ec;
  fs::remove_all(staging, ec);
  unlink(lock_path.c_str());
  close(*lock_fd);
  if (ec) return IoError(staging, "remove the staging directory", ec);
  return absl::OkStatus();
}

OutputDirectory::~OutputDirectory() {
  if (!committed_) {
    std::error_code ec;
    fs::remove_all(staging_, ec);
  }
  unlink(lock_path_.c_str());
  close(lock_fd_);
}

absl::Status OutputDirectory::CheckFreeSpace(uint64_t bytes) const {
  struct statvfs fs_stats;
  if (statvfs(staging_.c_str(), &fs_stats) != 0) {
    return FileError(staging_, "measure the free space", errno);
  }
  const uint64_t available = static_cast<uint64_t>(fs_stats.f_bavail) * fs_stats.f_frsize;
  if (available >= bytes) return absl::OkStatus();
  constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
  return absl::ResourceExhaustedError(absl::StrFormat(
      "%s: the checkpoint needs about %.2f GiB but its file system has %.2f GiB free; free "
      "space there or choose an --output on another file system (nothing was computed yet)",
      final_, bytes / kGiB, available / kGiB));
}

absl::Status OutputDirectory::WriteFile(absl::string_view name, absl::string_view contents) {
  const std::string path = (fs::path(staging_) / std::string(name)).string();
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return FileError(path, "create", errno);
  const char* cursor = contents.data();
  size_t left = contents.size();
  while (left > 0) {
    const ssize_t written = write(fd, cursor, left);
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) {
      const int error = errno;
      close(fd);
      return FileError(path, "write", error);
    }
    cursor += written;
    left -= static_cast<size_t>(written);
  }
  if (close(fd) != 0) return FileError(path, "write", errno);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> OutputDirectory::CopyFilesIfPresent(
    const std::string& source_directory, const std::vector<std::string>& names) {
  std::vector<std::string> copied;
  for (const std::string& name : names) {
    const fs::path source = fs::path(source_directory) / name;
    std::error_code ec;
    if (!fs::is_regular_file(source, ec)) continue;
    fs::copy_file(source, fs::path(staging_) / name, fs::copy_options::overwrite_existing, ec);
    if (ec) return IoError(source.string(), "copy into the output", ec);
    copied.push_back(name);
  }
  return copied;
}

absl::Status OutputDirectory::Commit() {
  std::error_code ec;
  // An empty final directory (allowed by Create) must go before the rename.
  if (fs::is_directory(final_, ec)) fs::remove(final_, ec);
  fs::rename(staging_, final_, ec);
  if (ec) return IoError(final_, "move the finished checkpoint into place", ec);
  committed_ = true;
  return absl::OkStatus();
}

}  // namespace output
}  // namespace backend
}  // namespace wring
