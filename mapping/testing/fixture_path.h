// Locating and loading the mapping fixtures (tests/fixtures/mapping) from a
// Bazel test's runfiles.
#ifndef WRING_MAPPING_TESTING_FIXTURE_PATH_H_
#define WRING_MAPPING_TESTING_FIXTURE_PATH_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "mapping/base/json.h"

namespace wring {
namespace mapping {
namespace testing {

// Runfiles path of tests/fixtures/mapping/<name>.json.
std::string FixturePath(const std::string& name);
// The fixture names (without .json): every fixture in the runfiles, sorted.
std::vector<std::string> FixtureNames();
// The text of tests/fixtures/mapping/<name>.json.
absl::StatusOr<std::string> ReadFixture(const std::string& name);
absl::StatusOr<Json> LoadFixtureJson(const std::string& name);

}  // namespace testing
}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_TESTING_FIXTURE_PATH_H_
