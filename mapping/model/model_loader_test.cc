#include "mapping/model/model_loader.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace wring {
namespace mapping {
namespace {

namespace fs = std::filesystem;

std::string SafetensorsFile(const std::string& header, size_t data_bytes) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + std::string(data_bytes, '\0');
}

class ModelLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    root_ = fs::path(tmp == nullptr ? "/tmp" : tmp) /
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  std::string Write(const std::string& name, const std::string& content) {
    fs::path p = root_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
  void WriteSharded(const std::string& dir) {
    Write(dir + "/config.json",
          R"({"architectures":["LlamaForCausalLM"],"tie_word_embeddings":false})");
    Write(dir + "/model-00001-of-00002.safetensors",
          SafetensorsFile(R"({"model.layers.0.self_attn.q_proj.weight":)"
                          R"({"dtype":"BF16","shape":[8,4],"data_offsets":[0,64]}})",
                          64));
    Write(dir + "/model-00002-of-00002.safetensors",
          SafetensorsFile(R"({"lm_head.weight":{"dtype":"BF16","shape":[16,4],)"
                          R"("data_offsets":[0,128]}})",
                          128));
    Write(dir + "/model.safetensors.index.json",
          R"({"metadata":{},"weight_map":{"lm_head.weight":"model-00002-of-00002.safetensors",)"
          R"("model.layers.0.self_attn.q_proj.weight":"model-00001-of-00002.safetensors"}})");
  }
  fs::path root_;
};

TEST_F(ModelLoaderTest, ShardedDirectoryReadsShapesFromShardHeaders) {
  WriteSharded("ckpt");
  absl::StatusOr<ModelInput> model = LoadModelFromPath((root_ / "ckpt").string());
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->architecture, "LlamaForCausalLM");
  EXPECT_EQ(model->source_kind, "safetensors");
  const ModuleTree& tree = model->tree;
  EXPECT_EQ(tree.module(*tree.Find("model.layers.0.self_attn.q_proj")).in_features, 4);
  EXPECT_EQ(tree.module(*tree.Find("lm_head")).out_features, 16);
  // Index order is alphabetical; the model registers model before lm_head.
  EXPECT_LT(*tree.Find("model"), *tree.Find("lm_head"));
}

TEST_F(ModelLoaderTest, IndexWithMissingShardsFallsBackToNames) {
  WriteSharded("ckpt");
  fs::remove(root_ / "ckpt/model-00002-of-00002.safetensors");
  absl::StatusOr<ModelInput> model =
      LoadModelFromPath((root_ / "ckpt/model.safetensors.index.json").string());
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->source_kind, "safetensors-index");
  EXPECT_EQ(model->tree.module(*model->tree.Find("lm_head")).in_features, -1);
  EXPECT_EQ(model->tree.module(*model->tree.Find("model.layers.0.self_attn.q_proj")).in_features,
            4);
  bool noted = false;
  for (const std::string& n : model->notes) noted |= n.find("1 of 2 shards are missing") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST_F(ModelLoaderTest, DirectoryOfSafetensorsWithoutIndex) {
  WriteSharded("ckpt");
  fs::remove(root_ / "ckpt/model.safetensors.index.json");
  absl::StatusOr<ModelInput> model = LoadModelFromPath((root_ / "ckpt").string());
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_TRUE(model->tree.Find("lm_head").has_value());
  EXPECT_TRUE(model->tree.Find("model.layers.0.self_attn.q_proj").has_value());
}

TEST_F(ModelLoaderTest, SingleFileReadsOnlyTheHeader) {
  // A 4 GiB sparse data section: reading it would be slow and memory-hungry.
  std::string path = Write(
      "big/model.safetensors",
      SafetensorsFile(R"({"w.weight":{"dtype":"U8","shape":[65536,65536],)"
                      R"("data_offsets":[0,4294967296]}})",
                      0));
  fs::resize_file(path, fs::file_size(path) + (uint64_t{1} << 32));
  Write("big/config.json", R"({"architectures":["TinyModel"]})");
  absl::StatusOr<ModelInput> model = LoadModelFromPath(path);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->architecture, "TinyModel");
  EXPECT_EQ(model->tree.module(*model->tree.Find("w")).out_features, 65536);
}

TEST_F(ModelLoaderTest, TextListDumpAndExplicitConfig) {
  std::string config = Write("c.json", R"({"architectures":["MistralForCausalLM"]})");
  std::string list = Write("modules.txt", "model.layers.0.mlp.up_proj Linear 4 8\n");
  absl::StatusOr<ModelInput> model = LoadModelFromPath(list, config);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->tree.root_class(), "MistralForCausalLM");
  std::string dump = Write("dump.json", R"({"modules":[{"name":"","class":"X"}]})");
  model = LoadModelFromPath(dump);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->source_kind, "fixture");
}

TEST_F(ModelLoaderTest, ClearErrors) {
  absl::StatusOr<ModelInput> model = LoadModelFromPath((root_ / "nope").string());
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("no such file or directory"), std::string::npos);

  model = LoadModelFromPath(Write("m.json.xz", "\xfd" "7zXZ"));
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("decompress it first"), std::string::npos);

  fs::create_directories(root_ / "empty");
  model = LoadModelFromPath((root_ / "empty").string());
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("no model.safetensors.index.json and no"),
            std::string::npos);

  std::string bad = Write("bad.safetensors", SafetensorsFile(
      R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8));
  model = LoadModelFromPath(bad);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("bad.safetensors"), std::string::npos);
  EXPECT_NE(model.status().message().find("out of range"), std::string::npos);

  model = LoadModelFromPath(Write("cfg/config.json", R"({"model_type":"llama"})"));
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("this is a config.json"), std::string::npos);
}

}  // namespace
}  // namespace mapping
}  // namespace wring
