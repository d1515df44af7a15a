// A checkpoint directory that appears all at once or not at all, claimed
// by one run.
//
// `wring compress` runs for hours; if it fails (bad input found late, full
// disk, a crash, SIGTERM) the user must not be left with a directory vLLM
// would try to load. Everything is written into a sibling staging directory
// ("<output>.wring-partial") that is renamed onto the output path only by
// Commit(); an uncommitted staging directory is removed on destruction.
//
// Two runs given the same output path would write into one staging
// directory: the first run holds an exclusive lock (flock on
// "<output>.wring-lock", released by the kernel when the process dies) from
// Create() to destruction, and a second run is refused while it does. A
// staging directory whose lock nobody holds was left by a killed run and is
// replaced.
#ifndef WRING_BACKEND_OUTPUT_OUTPUT_DIRECTORY_H_
#define WRING_BACKEND_OUTPUT_OUTPUT_DIRECTORY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace wring {
namespace backend {
namespace output {

class OutputDirectory {
 public:
  // Fails if `path` exists and is not an empty directory (nothing is ever
  // overwritten), if its parent directory does not exist or is not
  // writable (PERMISSION_DENIED), or if another run holds the output
  // (ALREADY_EXISTS, naming its process id).
  static absl::StatusOr<std::unique_ptr<OutputDirectory>> Create(const std::string& path);
  // Where Create(path) stages the files.
  static std::string StagingPathFor(const std::string& path);
  // For a launcher whose workers were killed mid-write: removes the staging
  // directory and lock file of `path` if no live run holds its lock. Another
  // run's (ALREADY_EXISTS: e.g. this launch was the refused second run on
  // that output) are left alone.
  static absl::Status RemoveAbandonedStaging(const std::string& path);
  ~OutputDirectory();

  OutputDirectory(const OutputDirectory&) = delete;
  OutputDirectory& operator=(const OutputDirectory&) = delete;

  // Where files go until Commit().
  const std::string& staging_path() const { return staging_; }
  const std::string& final_path() const { return final_; }

  // RESOURCE_EXHAUSTED, saying how much is needed and free, when the
  // output's file system has less than `bytes` available: checked before
  // calibration so a full disk costs seconds, not the whole run.
  absl::Status CheckFreeSpace(uint64_t bytes) const;

  absl::Status WriteFile(absl::string_view name, absl::string_view contents);
  // Copies `names` that exist in `source_directory` (missing ones are
  // skipped: tokenizer files vary by model); returns the names copied.
  absl::StatusOr<std::vector<std::string>> CopyFilesIfPresent(
      const std::string& source_directory, const std::vector<std::string>& names);

  // Renames the staging directory onto the final path.
  absl::Status Commit();

 private:
  OutputDirectory(std::string final_path, std::string staging_path, std::string lock_path,
                  int lock_fd)
      : final_(std::move(final_path)),
        staging_(std::move(staging_path)),
        lock_path_(std::move(lock_path)),
        lock_fd_(lock_fd) {}

  std::string final_;
  std::string staging_;
  std::string lock_path_;
  int lock_fd_;
  bool committed_ = false;
};

}  // namespace output
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_OUTPUT_OUTPUT_DIRECTORY_H_
