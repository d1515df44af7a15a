#include "backend/output/output_directory.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "mapping/testing/runfiles.h"

namespace wring {
namespace backend {
namespace output {
namespace {

namespace fs = std::filesystem;

fs::path TestDir(const std::string& name) {
  fs::path dir = fs::path(std::getenv("TEST_TMPDIR")) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(OutputDirectory, NothingAppearsUntilCommit) {
  const fs::path root = TestDir("commit");
  const fs::path out = root / "ckpt";
  auto dir = OutputDirectory::Create(out.string());
  ASSERT_TRUE(dir.ok()) << dir.status();
  ASSERT_TRUE((*dir)->WriteFile("config.json", "{}").ok());
  EXPECT_FALSE(fs::exists(out));
  ASSERT_TRUE((*dir)->Commit().ok());
  EXPECT_EQ(mapping::testing::ReadFileOrFail((out / "config.json").string()), "{}");
  EXPECT_FALSE(fs::exists((*dir)->staging_path()));
}

TEST(OutputDirectory, AbandonedRunLeavesNothing) {
  const fs::path root = TestDir("abandon");
  const fs::path out = root / "ckpt";
  std::string staging;
  {
    auto dir = OutputDirectory::Create(out.string());
    ASSERT_TRUE(dir.ok());
    staging = (*dir)->staging_path();
    ASSERT_TRUE((*dir)->WriteFile("model.safetensors", "partial").ok());
  }
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(staging));
}

TEST(OutputDirectory, RefusesToOverwrite) {
  const fs::path root = TestDir("overwrite");
  fs::create_directories(root / "ckpt");
  std::ofstream(root / "ckpt" / "config.json") << "{}";
  auto dir = OutputDirectory::Create((root / "ckpt").string());
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.status().message().find("never overwrites"), std::string::npos) << dir.status();
  EXPECT_EQ(mapping::testing::ReadFileOrFail((root / "ckpt" / "config.json").string()), "{}");
}

TEST(OutputDirectory, AcceptsAnEmptyDirectoryAndNeedsAParent) {
  const fs::path root = TestDir("empty");
  fs::create_directories(root / "ckpt");
  auto dir = OutputDirectory::Create((root / "ckpt").string());
  ASSERT_TRUE(dir.ok()) << dir.status();
  ASSERT_TRUE((*dir)->WriteFile("a", "1").ok());
  ASSERT_TRUE((*dir)->Commit().ok());
  EXPECT_EQ(mapping::testing::ReadFileOrFail((root / "ckpt" / "a").string()), "1");

  auto orphan = OutputDirectory::Create((root / "missing" / "ckpt").string());
  ASSERT_FALSE(orphan.ok());
  EXPECT_NE(orphan.status().message().find("parent directory does not exist"), std::string::npos);
}

TEST(OutputDirectory, CopiesOnlyFilesThatExist) {
  const fs::path root = TestDir("copy");
  fs::create_directories(root / "src");
  std::ofstream(root / "src" / "tokenizer.json") << "tok";
  auto dir = OutputDirectory::Create((root / "out").string());
  ASSERT_TRUE(dir.ok());
  auto copied = (*dir)->CopyFilesIfPresent((root / "src").string(),
                                           {"tokenizer.json", "generation_config.json"});
  ASSERT_TRUE(copied.ok());
  EXPECT_EQ(*copied, std::vector<std::string>{"tokenizer.json"});
  ASSERT_TRUE((*dir)->Commit().ok());
  EXPECT_EQ(mapping::testing::ReadFileOrFail((root / "out" / "tokenizer.json").string()), "tok");
  EXPECT_FALSE(fs::exists(root / "out" / "generation_config.json"));
}

}  // namespace
}  // namespace output
}  // namespace backend
}  // namespace wring
