#include "mapping/model/model_text.h"

#include <string>

#include "gtest/gtest.h"

namespace wring {
namespace mapping {
namespace {

std::string SafetensorsFile(const std::string& header, size_t data_bytes) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + std::string(data_bytes, '\0');
}

TEST(ModelFromTextTest, DetectsModuleDump) {
  absl::StatusOr<ModelInput> model = ModelFromText(
      R"({"architecture":"TinyForCausalLM","modules":[{"name":"","class":"TinyForCausalLM"},)"
      R"({"name":"lm_head","class":"Linear","in":4,"out":8}]})",
      "dump.json");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->source_kind, "fixture");
  EXPECT_EQ(model->tree.module(1).out_features, 8);
}

TEST(ModelFromTextTest, DetectsIndexAndTakesArchitectureFromConfig) {
  Json config = {{"architectures", {"LlamaForCausalLM"}}};
  absl::StatusOr<ModelInput> model = ModelFromText(
      R"({"metadata":{},"weight_map":{"model.layers.0.self_attn.q_proj.weight":"a.safetensors",)"
      R"("lm_head.weight":"b.safetensors"}})",
      "model.safetensors.index.json", config);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->source_kind, "safetensors-index");
  EXPECT_EQ(model->architecture, "LlamaForCausalLM");
  EXPECT_TRUE(model->tree.IsLinear(*model->tree.Find("model.layers.0.self_attn.q_proj")));
  EXPECT_EQ(model->config, config);
}

TEST(ModelFromTextTest, DetectsModuleList) {
  Json config = {{"architectures", {"Qwen3ForCausalLM"}}};
  absl::StatusOr<ModelInput> model =
      ModelFromText("\n  \nmodel.layers.0.mlp.up_proj Linear 8 16\n", "list.txt", config);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->source_kind, "module-list");
  EXPECT_EQ(model->tree.root_class(), "Qwen3ForCausalLM");
}

TEST(ModelFromTextTest, DetectsSafetensorsBytes) {
  std::string file = SafetensorsFile(
      R"({"model.layers.0.mlp.down_proj.weight":{"dtype":"F16","shape":[4,2],"data_offsets":[0,16]}})",
      16);
  absl::StatusOr<ModelInput> model = ModelFromText(file, "model.safetensors");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->source_kind, "safetensors");
  const Module& down = model->tree.module(*model->tree.Find("model.layers.0.mlp.down_proj"));
  EXPECT_EQ(down.in_features, 2);
  EXPECT_EQ(down.out_features, 4);
}

TEST(ModelFromTextTest, ExplainsConfigAndUnknownJson) {
  absl::StatusOr<ModelInput> model =
      ModelFromText(R"({"architectures":["LlamaForCausalLM"],"model_type":"llama"})", "c.json");
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("c.json: this is a config.json"), std::string::npos);
  model = ModelFromText("[1, 2]", "x.json");
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("x.json: unrecognized JSON (array)"), std::string::npos);
  model = ModelFromText("{\"modules\": [", "trunc.json");
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("trunc.json: not valid JSON"), std::string::npos);
}

}  // namespace
}  // namespace mapping
}  // namespace wring
