// A fresh, empty directory for one test's files, under Bazel's TEST_TMPDIR
// (/tmp outside Bazel), for tests that need several directories apart.
#ifndef WRING_BACKEND_TESTING_TEMP_DIR_H_
#define WRING_BACKEND_TESTING_TEMP_DIR_H_

#include <string>

namespace wring {
namespace backend {
namespace testing {

// `prefix` starts the directory's name; failing to create it fails the test.
std::string MakeTempDir(const std::string& prefix);

}  // namespace testing
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_TESTING_TEMP_DIR_H_
