#include "mapping/model/moe_linearize.h"

#include <string>

#include "gtest/gtest.h"
#include "mapping/base/json.h"
#include "mapping/model/fixture_format.h"
#include "mapping/model/tensor_names.h"
#include "mapping/testing/fixture_path.h"
#include "mapping/testing/runfiles.h"

namespace wring {
namespace mapping {
namespace {

ModelInput LoadFixture(const std::string& name) {
  absl::StatusOr<Json> json = ParseJson(testing::ReadFileOrFail(testing::FixturePath(name)), name);
  EXPECT_TRUE(json.ok()) << json.status();
  absl::StatusOr<ModelInput> model = ModelFromModuleDump(*json, name);
  EXPECT_TRUE(model.ok()) << model.status();
  return *std::move(model);
}

void ExpectSameStructure(const std::string& architecture, int expected_linearized) {
  ModelInput fused = LoadFixture(architecture + ".fused");
  ModelInput expected = LoadFixture(architecture + ".linearized");
  absl::StatusOr<int> count = LinearizeFusedExperts(fused);
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, expected_linearized);
  EXPECT_EQ(fused.linearized_experts, expected_linearized);

  const ModuleTree& got = fused.tree;
  const ModuleTree& want = expected.tree;
  ASSERT_EQ(got.size(), want.size());
  for (int i = 0; i < want.size(); ++i) {
    const Module& g = got.module(i);
    const Module& w = want.module(i);
    ASSERT_EQ(g.name, w.name) << "module #" << i;
    EXPECT_EQ(g.in_features, w.in_features) << w.name;
    EXPECT_EQ(g.out_features, w.out_features) << w.name;
    EXPECT_EQ(g.class_name, w.class_name) << w.name;
    EXPECT_EQ(g.mro, w.mro) << w.name;
  }
  ASSERT_EQ(got.parameters().size(), want.parameters().size());
  for (size_t i = 0; i < want.parameters().size(); ++i) {
    ASSERT_EQ(got.parameters()[i].name, want.parameters()[i].name) << "param #" << i;
    EXPECT_EQ(got.parameters()[i].shape, want.parameters()[i].shape)
        << want.parameters()[i].name;
  }
  ASSERT_FALSE(fused.notes.empty());
  EXPECT_NE(fused.notes.back().find("linearized " + std::to_string(expected_linearized) +
                                    " fused expert modules"),
            std::string::npos)
      << fused.notes.back();
}

TEST(LinearizeFusedExpertsTest, Qwen3MoeMatchesLinearizedFixture) {
  ExpectSameStructure("Qwen3MoeForCausalLM", 24);
}

TEST(LinearizeFusedExpertsTest, Qwen3NextMatchesLinearizedFixture) {
  ExpectSameStructure("Qwen3NextForCausalLM", 48);
}

TEST(LinearizeFusedExpertsTest, Cohere2MoeMatchesLinearizedFixture) {
  ExpectSameStructure("Cohere2MoeForCausalLM", 40);
}

// The first (first_k_dense_replace) layer has a dense MLP and no experts.
TEST(LinearizeFusedExpertsTest, DeepseekV2MatchesLinearizedFixture) {
  ExpectSameStructure("DeepseekV2ForCausalLM", 31);
}

TEST(LinearizeFusedExpertsTest, LinearizedFixtureHasNothingLeftToLinearize) {
  ModelInput model = LoadFixture("Qwen3MoeForCausalLM.linearized");
  int before = model.tree.size();
  absl::StatusOr<int> count = LinearizeFusedExperts(model);
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 0);
  EXPECT_EQ(model.tree.size(), before);
}

ModelInput FromTensors(std::vector<NamedTensor> tensors, Json config = Json::object()) {
  absl::StatusOr<ModelInput> model = ModelFromTensorNames(tensors, config, "test");
  EXPECT_TRUE(model.ok()) << model.status();
  return *std::move(model);
}

std::vector<std::string> Names(const ModuleTree& tree) {
  std::vector<std::string> out;
  for (const Module& m : tree.modules()) out.push_back(m.name);
  return out;
}

TEST(LinearizeFusedExpertsTest, RegistersUpBeforeGateAndKeepsActFn) {
  ModelInput model = FromTensors({{"moe.experts.gate_up_proj", {2, 8, 4}},
                                  {"moe.experts.down_proj", {2, 4, 4}}});
  ASSERT_TRUE(LinearizeFusedExperts(model).ok());
  EXPECT_EQ(Names(model.tree),
            (std::vector<std::string>{"", "moe", "moe.experts", "moe.experts.0",
                                      "moe.experts.0.up_proj", "moe.experts.0.gate_proj",
                                      "moe.experts.0.down_proj", "moe.experts.1",
                                      "moe.experts.1.up_proj", "moe.experts.1.gate_proj",
                                      "moe.experts.1.down_proj", "moe.experts.act_fn"}));
  EXPECT_TRUE(model.tree.IsInstance(*model.tree.Find("moe.experts"), "ModuleList"));
}

// llm-compressor 0.14 registers its own classes for GPT-OSS experts.
TEST(LinearizeFusedExpertsTest, GptOssGetsItsRegisteredClasses) {
  ModelInput model = FromTensors({{"model.layers.0.mlp.experts.gate_up_proj", {2, 6, 10}},
                                  {"model.layers.0.mlp.experts.down_proj", {2, 5, 6}}});
  std::vector<Module> modules = model.tree.modules();
  for (Module& m : modules) {
    if (m.name == "model.layers.0.mlp.experts") m.class_name = "GptOssExperts", m.mro = {"GptOssExperts"};
  }
  auto tree = ModuleTree::Create(std::move(modules), model.tree.parameters());
  ASSERT_TRUE(tree.ok()) << tree.status();
  model.tree = *std::move(tree);
  ASSERT_TRUE(LinearizeFusedExperts(model).ok());
  const Module& container = model.tree.module(*model.tree.Find("model.layers.0.mlp.experts"));
  EXPECT_EQ(container.mro,
            (std::vector<std::string>{"GptOssLinearExperts", "LinearExperts2D", "ModuleList"}));
  const Module& expert = model.tree.module(*model.tree.Find("model.layers.0.mlp.experts.1"));
  EXPECT_EQ(expert.mro,
            (std::vector<std::string>{"GptOssExpertMLP", "ExpertMLPWithGate", "ExpertMLP"}));
}

TEST(LinearizeFusedExpertsTest, TransposedWithBiasesGivesPerExpertBiases) {
  // GPT-OSS layout: gate_up_proj [E, H, 2I], down_proj [E, I, H].
  ModelInput model = FromTensors({{"mlp.experts.gate_up_proj", {3, 6, 10}},
                                  {"mlp.experts.gate_up_proj_bias", {3, 10}},
                                  {"mlp.experts.down_proj", {3, 5, 6}},
                                  {"mlp.experts.down_proj_bias", {3, 6}}});
  absl::StatusOr<int> count = LinearizeFusedExperts(model);
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 1);
  const Module& gate = model.tree.module(*model.tree.Find("mlp.experts.2.gate_proj"));
  EXPECT_EQ(gate.in_features, 6);
  EXPECT_EQ(gate.out_features, 5);
  const Module& down = model.tree.module(*model.tree.Find("mlp.experts.2.down_proj"));
  EXPECT_EQ(down.in_features, 5);
  EXPECT_EQ(down.out_features, 6);
  ASSERT_EQ(model.tree.parameters().size(), 3u * 6u);
  EXPECT_EQ(model.tree.parameters()[3].name, "mlp.experts.0.gate_proj.bias");
  EXPECT_EQ(model.tree.parameters()[3].shape, (std::vector<int64_t>{5}));
  EXPECT_EQ(model.tree.parameters()[5].name, "mlp.experts.0.down_proj.bias");
  EXPECT_EQ(model.tree.parameters()[5].shape, (std::vector<int64_t>{6}));
}

TEST(LinearizeFusedExpertsTest, UngatedExpertsHaveNoGateProj) {
  Json config = {{"hidden_size", 4}};
  ModelInput model = FromTensors(
      {{"e.up_proj", {2, 4, 6}}, {"e.down_proj", {2, 6, 4}}}, config);  // transposed
  ASSERT_TRUE(LinearizeFusedExperts(model).ok());
  EXPECT_FALSE(model.tree.Find("e.0.gate_proj").has_value());
  const Module& up = model.tree.module(*model.tree.Find("e.1.up_proj"));
  EXPECT_EQ(up.in_features, 4);
  EXPECT_EQ(up.out_features, 6);
  EXPECT_EQ(model.tree.module(*model.tree.Find("e.0")).class_name, "ExpertMLPWithoutGate");
}

TEST(LinearizeFusedExpertsTest, InconsistentShapesNameTheModule) {
  ModelInput model = FromTensors({{"layers.0.experts.gate_up_proj", {4, 7, 16}},
                                  {"layers.0.experts.down_proj", {4, 16, 8}}});
  absl::StatusOr<int> count = LinearizeFusedExperts(model);
  ASSERT_FALSE(count.ok());
  EXPECT_NE(count.status().message().find("\"layers.0.experts\""), std::string::npos);
  EXPECT_NE(count.status().message().find("do not fit"), std::string::npos);

  // Without a config expert count there is nothing to decide by.
  ModelInput mismatch = FromTensors({{"x.gate_up_proj", {4, 16, 16}}, {"x.down_proj", {3, 16, 8}}});
  count = LinearizeFusedExperts(mismatch);
  ASSERT_FALSE(count.ok());
  EXPECT_NE(count.status().message().find("expert counts differ"), std::string::npos);
  EXPECT_NE(count.status().message().find("n_routed_experts"), std::string::npos);
}

// Zero-compute experts stored with the routed ones: llm-compressor builds the
// config's number of experts and copies rows 0..E-1 of each tensor.
TEST(LinearizeFusedExpertsTest, ExpertCountComesFromTheConfigAsUpstream) {
  ModelInput model = FromTensors({{"m.experts.gate_up_proj", {6, 16, 8}},
                                  {"m.experts.down_proj", {4, 8, 8}}},
                                 Json{{"hidden_size", 8}, {"n_routed_experts", 4}});
  absl::StatusOr<int> count = LinearizeFusedExperts(model);
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_TRUE(model.tree.Find("m.experts.3.gate_proj").has_value());
  EXPECT_FALSE(model.tree.Find("m.experts.4").has_value());
  bool noted = false;
  for (const std::string& note : model.notes) {
    noted = noted || (note.find("\"n_routed_experts\" = 4") != std::string::npos &&
                      note.find("experts 0..3") != std::string::npos);
  }
  EXPECT_TRUE(noted);

  // Agreeing tensors with more experts than the config: the config wins; the
  // first key upstream reads wins over later ones; a text_config is read first.
  ModelInput more = FromTensors({{"m.experts.gate_up_proj", {4, 16, 8}},
                                 {"m.experts.down_proj", {4, 8, 8}}},
                                Json{{"text_config", {{"num_local_experts", 2}, {"num_experts", 3}}},
                                     {"num_experts", 4}});
  ASSERT_TRUE(LinearizeFusedExperts(more).ok());
  EXPECT_TRUE(more.tree.Find("m.experts.1").has_value());
  EXPECT_FALSE(more.tree.Find("m.experts.2").has_value());
}

TEST(LinearizeFusedExpertsTest, FewerExpertsThanTheConfigIsAnError) {
  ModelInput model = FromTensors({{"m.experts.gate_up_proj", {4, 16, 8}},
                                  {"m.experts.down_proj", {3, 8, 8}}},
                                 Json{{"num_experts", 4}});
  absl::StatusOr<int> count = LinearizeFusedExperts(model);
  ASSERT_FALSE(count.ok());
  EXPECT_NE(count.status().message().find("\"m.experts\""), std::string::npos);
  EXPECT_NE(count.status().message().find("would fail copying expert 3"), std::string::npos);

  ModelInput null_count = FromTensors({{"m.experts.gate_up_proj", {4, 16, 8}},
                                       {"m.experts.down_proj", {3, 8, 8}}},
                                      Json{{"num_experts", nullptr}});
  count = LinearizeFusedExperts(null_count);
  ASSERT_FALSE(count.ok());
  EXPECT_NE(count.status().message().find("not a positive integer"), std::string::npos);
}

// LongcatFlashExperts (gate_up_proj holds the zero-compute experts too) has
// no `use_experts_implementation`: llm-compressor leaves it fused.
TEST(LinearizeFusedExpertsTest, ClassesUpstreamDoesNotLinearizeStayFused) {
  Json dump = {
      {"modules",
       {{{"name", ""}, {"class", "LongcatFlashForCausalLM"}, {"mro", {"LongcatFlashForCausalLM"}}},
        {{"name", "mlp"}, {"class", "LongcatFlashMoE"}, {"mro", {"LongcatFlashMoE"}}},
        {{"name", "mlp.experts"}, {"class", "LongcatFlashExperts"}, {"mro", {"LongcatFlashExperts"}}}}},
      {"params", Json::array({Json::array({"mlp.experts.gate_up_proj", {6, 16, 8}}),
                              Json::array({"mlp.experts.down_proj", {4, 8, 8}})})},
      {"config", {{"hidden_size", 8}, {"n_routed_experts", 4}, {"zero_expert_num", 2}}}};
  absl::StatusOr<ModelInput> model = ModelFromModuleDump(dump, "longcat.json");
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<int> count = LinearizeFusedExperts(*model);
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 0);
  EXPECT_FALSE(model->tree.Find("mlp.experts.0").has_value());
  ASSERT_FALSE(model->notes.empty());
  EXPECT_NE(model->notes.back().find("LongcatFlashExperts left fused"), std::string::npos);
}

TEST(LinearizeFusedExpertsTest, UnknownShapesStayFusedWithANote) {
  std::vector<NamedTensor> tensors = {{"m.experts.gate_up_proj", {}, false},
                                      {"m.experts.down_proj", {}, false}};
  ModelInput model = FromTensors(tensors);
  absl::StatusOr<int> count = LinearizeFusedExperts(model);
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 0);
  EXPECT_NE(model.notes.back().find("left fused"), std::string::npos);
}

}  // namespace
}  // namespace mapping
}  // namespace wring
