// Test support: files a Bazel test declares as `data`, found under its
// runfiles ($TEST_SRCDIR/wring/...), so tests never depend on the
// directory they are started from.
#ifndef WRING_MAPPING_TESTING_RUNFILES_H_
#define WRING_MAPPING_TESTING_RUNFILES_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace wring {
namespace mapping {
namespace testing {

// The runfiles path of `path`, given relative to the workspace root
// ("backend/model/testdata/qwen2_fp32_bias"). Outside Bazel (no
// TEST_SRCDIR) the path is returned unchanged, relative to the current
// directory.
std::string RunfilePath(absl::string_view path);

// The contents of RunfilePath(path).
absl::StatusOr<std::string> ReadRunfile(absl::string_view path);

// The contents of the file at `path` (a runfiles path or one the test
// wrote), or "" after recording a test failure that says why.
std::string ReadFileOrFail(const std::string& path);

}  // namespace testing
}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_TESTING_RUNFILES_H_
