#include "mapping/testing/runfiles.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "mapping/base/file.h"

namespace wring {
namespace mapping {
namespace testing {

std::string RunfilePath(absl::string_view path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  if (srcdir == nullptr) return std::string(path);
  return absl::StrCat(srcdir, "/wring/", path);
}

absl::StatusOr<std::string> ReadRunfile(absl::string_view path) {
  return ReadFile(RunfilePath(path), "test data file");
}

std::string ReadFileOrFail(const std::string& path) {
  absl::StatusOr<std::string> contents = ReadFile(path, "test file");
  if (!contents.ok()) {
    ADD_FAILURE() << contents.status();
    return "";
  }
  return *std::move(contents);
}

}  // namespace testing
}  // namespace mapping
}  // namespace wring
