#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "backend/compat/torch_compat.h"
#include "backend/interrupt/interrupt.h"
#include "backend/safetensors/reader.h"
#include "backend/safetensors/writer.h"
#include "backend/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "mapping/base/json.h"
#include "mapping/model/safetensors.h"
#include "mapping/testing/runfiles.h"

namespace wring {
namespace backend {
namespace safetensors {
namespace {

void WriteRaw(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* handle = opendir(dir.c_str());
  while (dirent* entry = readdir(handle)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(handle);
  std::sort(names.begin(), names.end());
  return names;
}

std::string RawSafetensors(const std::string& header_json, const std::string& data) {
  std::string bytes(8, '\0');
  const uint64_t n = header_json.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(n >> (8 * i));
  return bytes + header_json + data;
}

TEST(Safetensors, RoundTripsEveryDtypeWithMetadata) {
  const std::string dir = testing::MakeTempDir("st");
  const std::string path = dir + "/model.safetensors";
  torch::manual_seed(5);
  torch::Tensor fp8_source = torch::tensor({1.0625f, -448.0f, 0.5f, 3.0f});
  const std::vector<TensorToWrite> tensors = {
      {"w.bf16", torch::randn({3, 5}).to(torch::kBFloat16)},
      {"w.f16", torch::randn({2, 2}).to(torch::kHalf)},
      {"w.f32", torch::randn({4})},
      {"w.i8", torch::randint(-128, 127, {7}, torch::kChar)},
      {"w.i32", torch::randint(-1000, 1000, {2, 3}, torch::kInt)},
      {"w.i64", torch::tensor({4096, 11008}, torch::kLong)},
      {"w.u8", torch::randint(0, 255, {3}, torch::kByte)},
      {"w.bool", torch::tensor({true, false, true})},
      {"w.fp8", fp8_source, /*as_float8_e4m3=*/true},
      {"w.transposed", torch::arange(6, torch::kFloat).reshape({2, 3}).t()},  // non-contiguous
  };
  ASSERT_TRUE(WriteSafetensorsFile(path, tensors, {{"format", "pt"}}).ok());
  EXPECT_EQ(ListDir(dir), std::vector<std::string>({"model.safetensors"}));  // no temporary left

  // The core's validator accepts the header, and it is 8-byte padded.
  const std::string bytes = mapping::testing::ReadFileOrFail(path);
  absl::StatusOr<mapping::SafetensorsHeader> header = mapping::ParseSafetensorsHeader(bytes, bytes.size(), path);
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->header_length % 8, 0u);
  ASSERT_EQ(header->metadata.size(), 1u);
  EXPECT_EQ(header->metadata[0], std::make_pair(std::string("format"), std::string("pt")));
  ASSERT_EQ(header->tensors.size(), tensors.size());
  EXPECT_EQ(header->tensors[0].dtype, "BF16");
  EXPECT_EQ(header->tensors[8].dtype, "F8_E4M3");
  EXPECT_EQ(header->tensors[8].shape, std::vector<int64_t>({4}));

  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  for (const TensorToWrite& written : tensors) {
    absl::StatusOr<torch::Tensor> read = (*file)->Get(written.name);
    ASSERT_TRUE(read.ok()) << read.status();
    if (written.as_float8_e4m3) continue;
    EXPECT_EQ(read->scalar_type(), written.tensor.scalar_type()) << written.name;
    EXPECT_TRUE(torch::equal(*read, written.tensor)) << written.name;
  }
  absl::StatusOr<torch::Tensor> fp8 = (*file)->Get("w.fp8");
  ASSERT_TRUE(fp8.ok());
  // 1.0625 is a tie and rounds to 1.0.
  EXPECT_TRUE(torch::equal(fp8->to(torch::kFloat), torch::tensor({1.0f, -448.0f, 0.5f, 3.0f})));
  absl::StatusOr<torch::Tensor> fp8_bytes = (*file)->GetBytes("w.fp8");
  ASSERT_TRUE(fp8_bytes.ok());
  EXPECT_EQ(fp8_bytes->data_ptr<uint8_t>()[1], 0xFE);
}

TEST(Safetensors, ViewsAreCopyOnWriteAndOutliveTheFileObject) {
  const std::string path = testing::MakeTempDir("st") + "/a.safetensors";
  ASSERT_TRUE(WriteSafetensorsFile(path, {{"x", torch::ones({4})}}).ok());
  torch::Tensor view;
  {
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
    ASSERT_TRUE(file.ok());
    absl::StatusOr<torch::Tensor> x = (*file)->Get("x");
    ASSERT_TRUE(x.ok());
    view = *x;
  }
  EXPECT_TRUE(torch::equal(view, torch::ones({4})));  // the mapping is still alive
  view.fill_(7.0f);
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> again = SafetensorsFile::Open(path);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(torch::equal(*(*again)->Get("x"), torch::ones({4})));  // file unchanged
}

// Releasing a tensor's pages keeps its views (and modified copies) valid:
// the kernel reads the file again.
TEST(Safetensors, ReleasedPagesAreReadAgainFromTheFile) {
  const std::string dir = testing::MakeTempDir("st");
  const torch::Tensor big = torch::randn({256, 1024});  // 1 MiB: whole pages
  const torch::Tensor small = torch::arange(10).to(torch::kFloat);
  ASSERT_TRUE(WriteSafetensorsCheckpoint(dir, {{"big", big}, {"small", small}}, {}, 1 << 30).ok());
  absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> checkpoint = SafetensorsCheckpoint::Open(dir);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  absl::StatusOr<torch::Tensor> view = (*checkpoint)->Get("big");
  ASSERT_TRUE(view.ok());
  EXPECT_TRUE(torch::equal(*view, big));
  (*checkpoint)->ReleasePages("big");
  (*checkpoint)->ReleasePages("small");
  (*checkpoint)->ReleasePages("not there");
  EXPECT_TRUE(torch::equal(*view, big));
  EXPECT_TRUE(torch::equal(*(*checkpoint)->Get("small"), small));
}

TEST(Safetensors, ShardsBySizeWithIndex) {
  const std::string dir = testing::MakeTempDir("st");
  std::vector<TensorToWrite> tensors;
  for (const char* name : {"model.layers.1.w", "model.layers.0.w", "lm_head.weight"}) {
    tensors.push_back({name, torch::randn({100})});  // 400 bytes each
  }
  absl::StatusOr<std::vector<std::string>> files = WriteSafetensorsCheckpoint(dir, tensors, {{"format", "pt"}}, 1000);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(*files, std::vector<std::string>({"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                                              "model.safetensors.index.json"}));
  EXPECT_EQ(ListDir(dir), std::vector<std::string>({"model-00001-of-00002.safetensors",
                                                    "model-00002-of-00002.safetensors",
                                                    "model.safetensors.index.json"}));
  absl::StatusOr<mapping::Json> index =
      mapping::ParseJson(mapping::testing::ReadFileOrFail(dir + "/model.safetensors.index.json"), "index");
  ASSERT_TRUE(index.ok());
  EXPECT_EQ((*index)["metadata"]["total_size"], 1200);
  EXPECT_EQ((*index)["weight_map"].begin().key(), "lm_head.weight");  // sorted
  EXPECT_EQ((*index)["weight_map"]["lm_head.weight"], "model-00002-of-00002.safetensors");
  EXPECT_EQ((*index)["weight_map"]["model.layers.1.w"], "model-00001-of-00002.safetensors");

  absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> checkpoint = SafetensorsCheckpoint::Open(dir);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  EXPECT_EQ((*checkpoint)->names().size(), 3u);
  for (const TensorToWrite& t : tensors) {
    absl::StatusOr<torch::Tensor> read = (*checkpoint)->Get(t.name);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_TRUE(torch::equal(*read, t.tensor)) << t.name;
  }
  absl::Status missing = (*checkpoint)->Get("model.norm.weight").status();
  EXPECT_TRUE(absl::IsNotFound(missing));
  EXPECT_NE(missing.message().find("model.norm.weight"), std::string::npos) << missing;
}

TEST(Safetensors, SmallCheckpointIsOneFileWithoutIndex) {
  const std::string dir = testing::MakeTempDir("st");
  absl::StatusOr<std::vector<std::string>> files =
      WriteSafetensorsCheckpoint(dir, {{"a", torch::ones({2})}, {"b", torch::zeros({3})}}, {}, 1 << 20);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(ListDir(dir), std::vector<std::string>({"model.safetensors"}));
  absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> checkpoint = SafetensorsCheckpoint::Open(dir);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  EXPECT_EQ((*checkpoint)->names(), std::vector<std::string>({"a", "b"}));
  EXPECT_TRUE(torch::equal(*(*checkpoint)->Get("b"), torch::zeros({3})));
}

TEST(Safetensors, MissingTensorNamesFileAndTensor) {
  const std::string path = testing::MakeTempDir("st") + "/m.safetensors";
  ASSERT_TRUE(WriteSafetensorsFile(path, {{"present", torch::ones({1})}}).ok());
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok());
  absl::Status status = (*file)->Get("absent.weight").status();
  EXPECT_TRUE(absl::IsNotFound(status));
  EXPECT_EQ(status.message(), path + ": no tensor named \"absent.weight\"");
}

TEST(Safetensors, TruncatedFileIsRejectedWithItsName) {
  const std::string path = testing::MakeTempDir("st") + "/t.safetensors";
  ASSERT_TRUE(WriteSafetensorsFile(path, {{"x", torch::ones({16})}}).ok());
  const std::string bytes = mapping::testing::ReadFileOrFail(path);
  WriteRaw(path, bytes.substr(0, bytes.size() - 4));
  absl::Status status = SafetensorsFile::Open(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message().rfind(path, 0), 0u) << status;

  WriteRaw(path, bytes.substr(0, 5));
  status = SafetensorsFile::Open(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find(path), std::string::npos) << status;

  EXPECT_TRUE(absl::IsNotFound(SafetensorsFile::Open(path + ".nope").status()));
}

TEST(Safetensors, MisalignedDataIsCopiedAndUnknownDtypesReported) {
  const std::string path = testing::MakeTempDir("st") + "/raw.safetensors";
  // Pad the header so the F32 data starts at a file offset of 3 mod 4.
  std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  while ((header.size() + 8) % 4 != 3) header.push_back(' ');
  float values[2] = {1.5f, -2.0f};
  WriteRaw(path, RawSafetensors(header, std::string(reinterpret_cast<char*>(values), 8)));
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  absl::StatusOr<torch::Tensor> a = (*file)->Get("a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(torch::equal(*a, torch::tensor({1.5f, -2.0f})));

  WriteRaw(path, RawSafetensors(R"({"u":{"dtype":"F8_E5M2","shape":[1],"data_offsets":[0,1]}})", "x"));
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> other = SafetensorsFile::Open(path);
  ASSERT_TRUE(other.ok()) << other.status();
  absl::Status status = (*other)->Get("u").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented) << status;
  EXPECT_NE(status.message().find("F8_E5M2"), std::string::npos);
  EXPECT_TRUE((*other)->GetBytes("u").ok());
}

TEST(Safetensors, FailedWritesLeaveNothingBehind) {
  const std::string dir = testing::MakeTempDir("st");
  absl::Status duplicate =
      WriteSafetensorsFile(dir + "/d.safetensors", {{"x", torch::ones({1})}, {"x", torch::ones({1})}});
  EXPECT_EQ(duplicate.code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::vector<std::string>> unsupported = WriteSafetensorsCheckpoint(
      dir, {{"ok", torch::ones({300})}, {"bad", torch::ones({300}, torch::kComplexFloat)}}, {}, 1000);
  EXPECT_EQ(unsupported.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ListDir(dir).empty());
  EXPECT_FALSE(WriteSafetensorsFile(dir + "/no/such/dir/x.safetensors", {{"x", torch::ones({1})}}).ok());
}

// Exits 0 when writing past a 64 KiB file-size limit failed cleanly (the
// first shard holds three 32 KiB tensors).
void WriteBeyondFileSizeLimit(const std::string& dir) {
  signal(SIGXFSZ, SIG_IGN);
  rlimit limit;
  limit.rlim_cur = limit.rlim_max = 64 << 10;
  if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(10);
  std::vector<TensorToWrite> tensors;
  for (int i = 0; i < 4; ++i) tensors.push_back({"t" + std::to_string(i), torch::ones({8192})});
  absl::StatusOr<std::vector<std::string>> files = WriteSafetensorsCheckpoint(dir, tensors, {}, 100000);
  if (files.ok()) _exit(11);
  if (files.status().code() != absl::StatusCode::kResourceExhausted) _exit(12);
  if (files.status().message().find("safetensors.tmp.") == absl::string_view::npos) _exit(13);
  if (!ListDir(dir).empty()) _exit(14);
  fprintf(stderr, "%s\n", std::string(files.status().message()).c_str());
  _exit(0);
}

// A full disk, as far as the writer can tell: the file-size limit makes
// write() fail once a file would pass 64 KiB (EFBIG, like ENOSPC a write
// error on a half-written file). In a child process, so the limit and the
// ignored SIGXFSZ stay there.
TEST(Safetensors, FullDiskIsAClearErrorAndLeavesNothing) {
  const std::string dir = testing::MakeTempDir("st");
  EXPECT_EXIT(WriteBeyondFileSizeLimit(dir), ::testing::ExitedWithCode(0), "cannot write: File too large");
}

TEST(Safetensors, StopRequestEndsTheWriteAndLeavesNothing) {
  const std::string dir = testing::MakeTempDir("st");
  interrupt::RequestStop(SIGTERM);
  absl::StatusOr<std::vector<std::string>> files =
      WriteSafetensorsCheckpoint(dir, {{"a", torch::ones({300})}, {"b", torch::ones({300})}}, {}, 1000);
  interrupt::ClearStopRequest();
  EXPECT_EQ(files.status().code(), absl::StatusCode::kCancelled) << files.status();
  EXPECT_TRUE(ListDir(dir).empty());
}

}  // namespace
}  // namespace safetensors
}  // namespace backend
}  // namespace wring
