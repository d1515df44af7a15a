#include "mapping/base/file.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "gtest/gtest.h"

namespace wring {
namespace mapping {
namespace {

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

TEST(ReadFileTest, ReadsEveryByte) {
  const std::string path = TempPath("bytes.bin");
  std::string expected(200000, 'x');
  expected[5] = '\0';
  expected.back() = '\n';
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fwrite(expected.data(), 1, expected.size(), f);
  std::fclose(f);
  absl::StatusOr<std::string> read = ReadFile(path, "recipe");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, expected);
}

TEST(ReadFileTest, MissingFileNamesPathRoleAndReason) {
  const std::string path = TempPath("does-not-exist.yaml");
  absl::StatusOr<std::string> read = ReadFile(path, "recipe");
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(read.status().message(),
            path + ": cannot read the recipe: No such file or directory");
}

TEST(ReadFileTest, DirectoryIsRefused) {
  const std::string path = TempPath("");
  absl::StatusOr<std::string> read = ReadFile(path, "model config");
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(read.status().message().find("it is a directory"), absl::string_view::npos);
}

}  // namespace
}  // namespace mapping
}  // namespace wring
