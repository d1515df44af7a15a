#include "backend/output/output_directory.h"

#include <filesystem>
#include <fstream>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"

namespace wring {
namespace backend {
namespace output {
namespace {

namespace fs = std::filesystem;

absl::Status IoError(const std::string& path, absl::string_view action, const std::error_code& ec) {
  return absl::UnavailableError(absl::StrCat(path, ": cannot ", action, ": ", ec.message()));
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
  if (fs::exists(final_path, ec)) {
    if (!fs::is_directory(final_path, ec) || !fs::is_empty(final_path, ec)) {
      return absl::AlreadyExistsError(absl::StrCat(
          final_path.string(),
          ": the output path exists and is not an empty directory; wring never overwrites a "
          "checkpoint. Choose a new --output path or remove the old one"));
    }
  }
  const fs::path parent = final_path.parent_path();
  if (!fs::is_directory(parent, ec)) {
    return absl::NotFoundError(absl::StrCat(parent.string(),
                                            ": the output's parent directory does not exist; "
                                            "create it first"));
  }
  const fs::path staging = StagingPathFor(path);
  fs::remove_all(staging, ec);
  if (!fs::create_directory(staging, ec)) return IoError(staging.string(), "create directory", ec);
  return std::unique_ptr<OutputDirectory>(new OutputDirectory(final_path.string(), staging.string()));
}

OutputDirectory::~OutputDirectory() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(staging_, ec);
}

absl::Status OutputDirectory::WriteFile(absl::string_view name, absl::string_view contents) {
  const std::string path = (fs::path(staging_) / std::string(name)).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat(path, ": cannot write (disk full?)"));
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
