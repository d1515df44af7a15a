#include "backend/output/output_directory.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "absl/strings/str_cat.h"

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

TEST(OutputDirectory, ASecondRunOnTheSameOutputIsRefused) {
  const fs::path root = TestDir("concurrent");
  const fs::path out = root / "ckpt";
  auto first = OutputDirectory::Create(out.string());
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE((*first)->WriteFile("config.json", "{}").ok());

  auto second = OutputDirectory::Create(out.string());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(second.status().message().find(
                absl::StrCat("another wring compress (process ", getpid(), ") is writing")),
            std::string::npos)
      << second.status();
  // The refused run touched nothing of the first one's.
  EXPECT_EQ(mapping::testing::ReadFileOrFail((fs::path((*first)->staging_path()) / "config.json").string()), "{}");
  ASSERT_TRUE((*first)->Commit().ok());
  first->reset();
  EXPECT_FALSE(fs::exists(root / "ckpt.wring-lock"));

  // Once the first has finished, the output exists and is refused as such.
  auto third = OutputDirectory::Create(out.string());
  ASSERT_FALSE(third.ok());
  EXPECT_NE(third.status().message().find("never overwrites"), std::string::npos) << third.status();
}

TEST(OutputDirectory, ALauncherRemovesOnlyAnAbandonedStagingDirectory) {
  const fs::path root = TestDir("abandoned");
  const fs::path out = root / "ckpt";
  auto first = OutputDirectory::Create(out.string());
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE((*first)->WriteFile("config.json", "{}").ok());
  // A second launch on the same output failed: the first run's files stay.
  const absl::Status held = OutputDirectory::RemoveAbandonedStaging(out.string());
  EXPECT_EQ(held.code(), absl::StatusCode::kAlreadyExists) << held;
  EXPECT_TRUE(fs::exists(fs::path((*first)->staging_path()) / "config.json"));
  EXPECT_TRUE(fs::exists(root / "ckpt.wring-lock"));

  // The first run's process died without cleaning up (its lock went with it).
  const fs::path left = (*first)->staging_path();
  first->reset();
  fs::create_directories(left);
  std::ofstream(left / "model.safetensors") << "partial";
  std::ofstream(root / "ckpt.wring-lock") << "12345\n";
  EXPECT_TRUE(OutputDirectory::RemoveAbandonedStaging(out.string()).ok());
  EXPECT_FALSE(fs::exists(left));
  EXPECT_FALSE(fs::exists(root / "ckpt.wring-lock"));
  EXPECT_FALSE(fs::exists(out));
}

TEST(OutputDirectory, TheOutputIsFreeAgainAfterAFailedRun) {
  const fs::path root = TestDir("released");
  const fs::path out = root / "ckpt";
  { ASSERT_TRUE(OutputDirectory::Create(out.string()).ok()); }
  EXPECT_FALSE(fs::exists(root / "ckpt.wring-lock"));
  EXPECT_FALSE(fs::exists(root / "ckpt.wring-partial"));
  EXPECT_TRUE(OutputDirectory::Create(out.string()).ok());
}

TEST(OutputDirectory, ReplacesWhatAKilledRunLeft) {
  const fs::path root = TestDir("killed");
  fs::create_directories(root / "ckpt.wring-partial");
  std::ofstream(root / "ckpt.wring-partial" / "model.safetensors") << "half";
  std::ofstream(root / "ckpt.wring-lock") << "999999\n";  // nobody holds it
  auto dir = OutputDirectory::Create((root / "ckpt").string());
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_FALSE(fs::exists(root / "ckpt.wring-partial" / "model.safetensors"));
}

TEST(OutputDirectory, FreeSpaceCheckNamesTheShortfall) {
  const fs::path root = TestDir("space");
  auto dir = OutputDirectory::Create((root / "ckpt").string());
  ASSERT_TRUE(dir.ok());
  EXPECT_TRUE((*dir)->CheckFreeSpace(1).ok());
  const absl::Status status = (*dir)->CheckFreeSpace(uint64_t{1} << 62);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(status.message().find("GiB free"), std::string::npos) << status;
}

}  // namespace
}  // namespace output
}  // namespace backend
}  // namespace wring
