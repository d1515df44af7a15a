// A checkpoint directory that appears all at once or not at all.
//
// `wring compress` runs for hours; if it fails (bad input found late, full
// disk, a crash) the user must not be left with a directory vLLM would try to
// load. Everything is written into a sibling staging directory
// ("<output>.wring-partial") that is renamed onto the output path only by
// Commit(); an uncommitted staging directory is removed on destruction.
#ifndef WRING_BACKEND_OUTPUT_OUTPUT_DIRECTORY_H_
#define WRING_BACKEND_OUTPUT_OUTPUT_DIRECTORY_H_

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
  // overwritten), or if its parent directory does not exist. A staging
  // directory left by an earlier killed run is replaced.
  static absl::StatusOr<std::unique_ptr<OutputDirectory>> Create(const std::string& path);
  // Where Create(path) stages the files (for a launcher that must remove
  // them after a worker was killed mid-write).
  static std::string StagingPathFor(const std::string& path);
  ~OutputDirectory();

  OutputDirectory(const OutputDirectory&) = delete;
  OutputDirectory& operator=(const OutputDirectory&) = delete;

  // Where files go until Commit().
  const std::string& staging_path() const { return staging_; }
  const std::string& final_path() const { return final_; }

  absl::Status WriteFile(absl::string_view name, absl::string_view contents);
  // Copies `names` that exist in `source_directory` (missing ones are
  // skipped: tokenizer files vary by model); returns the names copied.
  absl::StatusOr<std::vector<std::string>> CopyFilesIfPresent(
      const std::string& source_directory, const std::vector<std::string>& names);

  // Renames the staging directory onto the final path.
  absl::Status Commit();

 private:
  OutputDirectory(std::string final_path, std::string staging_path)
      : final_(std::move(final_path)), staging_(std::move(staging_path)) {}

  std::string final_;
  std::string staging_;
  bool committed_ = false;
};

}  // namespace output
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_OUTPUT_OUTPUT_DIRECTORY_H_
