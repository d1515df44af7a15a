#include "mapping/testing/fixture_path.h"

#include <algorithm>
#include <filesystem>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "mapping/base/file.h"
#include "mapping/testing/runfiles.h"

namespace wring {
namespace mapping {
namespace testing {

std::string FixturePath(const std::string& name) {
  return RunfilePath(absl::StrCat("tests/fixtures/mapping/", name, ".json"));
}

std::vector<std::string> FixtureNames() {
  // Every decompressed fixture among the runfiles: tools/reference/generate.py
  // decides which exist, so a new one is tested without listing it here.
  std::vector<std::string> names;
  std::error_code error;
  const std::filesystem::path dir = std::filesystem::path(FixturePath("x")).parent_path();
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::string file = entry.path().filename().string();
    constexpr absl::string_view kSuffix = ".json";
    if (absl::EndsWith(file, kSuffix) && file != "versions.json") {
      names.push_back(file.substr(0, file.size() - kSuffix.size()));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<std::string> ReadFixture(const std::string& name) {
  return ReadFile(FixturePath(name), "mapping fixture");
}

absl::StatusOr<Json> LoadFixtureJson(const std::string& name) {
  auto text = ReadFixture(name);
  if (!text.ok()) return text.status();
  return ParseJson(*text, name);
}

}  // namespace testing
}  // namespace mapping
}  // namespace wring
