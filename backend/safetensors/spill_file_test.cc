#include "backend/safetensors/spill_file.h"

#include <dirent.h>

#include <string>
#include <vector>

#include "backend/safetensors/reader.h"
#include "backend/safetensors/writer.h"
#include "backend/testing/temp_dir.h"
#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace safetensors {
namespace {

int Entries(const std::string& dir) {
  int n = 0;
  DIR* handle = opendir(dir.c_str());
  while (dirent* entry = readdir(handle)) n += std::string(entry->d_name) != "." && std::string(entry->d_name) != "..";
  closedir(handle);
  return n;
}

TEST(SpillFile, LargeTensorsBecomeViewsOfTheFileWithTheSameValues) {
  const std::string dir = testing::MakeTempDir("spill");
  absl::StatusOr<std::unique_ptr<SpillFile>> spill = SpillFile::Create(dir, /*min_bytes=*/4096);
  ASSERT_TRUE(spill.ok()) << spill.status();
  EXPECT_EQ(Entries(dir), 0) << "the spill file is unlinked at once";

  const torch::Tensor packed = torch::randint(-1000000, 1000000, {64, 48}, torch::kInt);
  const torch::Tensor weight = torch::randn({40, 33}).to(torch::kBFloat16);
  const torch::Tensor scale = torch::rand({64, 3}).to(torch::kBFloat16);  // < 4096 bytes
  const torch::Tensor transposed = torch::randn({70, 20}).t();              // not contiguous
  std::vector<TensorToWrite> layer = {
      {"packed", packed.clone()}, {"weight", weight.clone()}, {"scale", scale}, {"t", transposed}};
  ASSERT_TRUE((*spill)->Spill(layer).ok());
  EXPECT_TRUE(torch::equal(layer[0].tensor, packed));
  EXPECT_TRUE(torch::equal(layer[1].tensor, weight));
  EXPECT_TRUE(torch::equal(layer[3].tensor, transposed));
  EXPECT_EQ(layer[1].tensor.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(layer[2].tensor.data_ptr(), scale.data_ptr()) << "small tensors stay in memory";
  EXPECT_GE((*spill)->bytes(), packed.numel() * 4 + weight.numel() * 2);

  // A second layer lands after the first and leaves its views intact.
  std::vector<TensorToWrite> next = {{"packed2", packed * 3}};
  ASSERT_TRUE((*spill)->Spill(next).ok());
  EXPECT_TRUE(torch::equal(next[0].tensor, packed * 3));
  EXPECT_TRUE(torch::equal(layer[0].tensor, packed));

  // The writer reads the views like any tensor; they outlive the SpillFile.
  spill->reset();
  for (auto& t : next) layer.push_back(t);
  ASSERT_TRUE(WriteSafetensorsCheckpoint(dir, layer, {}, uint64_t{1} << 30).ok());
  absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> written = SafetensorsCheckpoint::Open(dir);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_TRUE(torch::equal(*(*written)->Get("packed"), packed));
  EXPECT_TRUE(torch::equal(*(*written)->Get("packed2"), packed * 3));
  EXPECT_TRUE(torch::equal(*(*written)->Get("weight"), weight));
  EXPECT_TRUE(torch::equal(*(*written)->Get("t"), transposed));
  EXPECT_TRUE(torch::equal(*(*written)->Get("scale"), scale));
}

TEST(SpillFile, AMissingDirectoryIsAnErrorNamingIt) {
  absl::StatusOr<std::unique_ptr<SpillFile>> spill = SpillFile::Create("/nonexistent/wring-dir");
  ASSERT_FALSE(spill.ok());
  EXPECT_NE(std::string(spill.status().message()).find("/nonexistent/wring-dir"), std::string::npos)
      << spill.status();
}

}  // namespace
}  // namespace safetensors
}  // namespace backend
}  // namespace wring
