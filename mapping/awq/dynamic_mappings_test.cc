// The assertions of llm-compressor's test_dynamic_mappings.py, on trees
// shaped like its _make_hybrid_model fixture.
#include "mapping/awq/dynamic_mappings.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"

namespace wring {
namespace mapping {
namespace {

Module M(std::string name, std::string cls) {
  Module m;
  m.name = std::move(name);
  m.class_name = cls;
  m.mro = {cls};
  return m;
}

struct Hybrid {
  ModuleTree tree;
  Json config;
};

Hybrid MakeHybrid(int layers, std::vector<std::string> projections, bool moe,
                  bool use_text_config = false) {
  std::vector<Module> modules = {M("", "Qwen3NextForCausalLM"), M("model", "ModuleDict"),
                                 M("model.layers", "ModuleList")};
  Json types = Json::array();
  for (int i = 0; i < layers; ++i) {
    bool full = i % 4 == 3;
    types.push_back(full ? "full_attention" : "linear_attention");
    std::string l = "model.layers." + std::to_string(i);
    modules.push_back(M(l, "ModuleDict"));
    if (full) {
      modules.push_back(M(l + ".self_attn", "ModuleDict"));
      for (const char* p : {"q_proj", "k_proj", "v_proj", "o_proj"}) {
        modules.push_back(M(l + ".self_attn." + p, "Linear"));
      }
    } else {
      modules.push_back(M(l + ".linear_attn", "ModuleDict"));
      for (const std::string& p : projections) modules.push_back(M(l + ".linear_attn." + p, "Linear"));
      modules.push_back(M(l + ".linear_attn.norm", "RMSNorm"));
      modules.push_back(M(l + ".linear_attn.out_proj", "Linear"));
    }
    modules.push_back(M(l + ".mlp", "ModuleDict"));
    if (moe) {
      modules.push_back(M(l + ".mlp.experts", "ModuleList"));
      for (int e = 0; e < 2; ++e) {
        std::string x = l + ".mlp.experts." + std::to_string(e);
        modules.push_back(M(x, "ModuleDict"));
        for (const char* p : {"gate_proj", "up_proj", "down_proj"}) modules.push_back(M(x + "." + p, "Linear"));
      }
      modules.push_back(M(l + ".mlp.shared_expert", "ModuleDict"));
      for (const char* p : {"gate_proj", "up_proj", "down_proj"}) {
        modules.push_back(M(l + ".mlp.shared_expert." + p, "Linear"));
      }
    } else {
      for (const char* p : {"gate_proj", "up_proj", "down_proj"}) modules.push_back(M(l + ".mlp." + p, "Linear"));
    }
    modules.push_back(M(l + ".input_layernorm", "RMSNorm"));
    modules.push_back(M(l + ".post_attention_layernorm", "RMSNorm"));
  }
  Json fields = {{"num_hidden_layers", layers}, {"layer_types", types}};
  if (moe) fields["num_local_experts"] = 2;
  Json config = use_text_config ? Json{{"text_config", fields}} : fields;
  return {*ModuleTree::Create(std::move(modules)), config};
}

int Pipes(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '|')); }

TEST(DynamicMappingsTest, DenseHybridGivesFourMappings) {
  Hybrid h = MakeHybrid(8, {"in_proj_qkv", "in_proj_z", "in_proj_b", "in_proj_a"}, false);
  std::vector<std::string> log;
  auto built = BuildHybridAttentionMappings(h.tree, h.config, &log);
  ASSERT_TRUE(built.ok());
  ASSERT_TRUE(built->has_value());
  const auto& m = **built;
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0].smooth_layer, "re:.*layers\\.(3|7)\\.input_layernorm$");
  EXPECT_EQ(m[0].balance_layers.size(), 3u);
  EXPECT_TRUE(absl::StrContains(m[1].smooth_layer, "0|1|2|4|5|6"));
  EXPECT_EQ(m[1].balance_layers,
            (std::vector<std::string>{"re:.*linear_attn.in_proj_qkv$", "re:.*linear_attn.in_proj_z$",
                                      "re:.*linear_attn.in_proj_b$", "re:.*linear_attn.in_proj_a$"}));
  EXPECT_EQ(m[2].balance_layers, (std::vector<std::string>{"re:.*gate_proj$", "re:.*up_proj$"}));
  EXPECT_EQ(log.back(),
            "INFO Built dynamic hybrid attention AWQ mappings: 2 full-attention layers, 6 "
            "linear-attention layers, linear projections: ['in_proj_qkv', 'in_proj_z', "
            "'in_proj_b', 'in_proj_a'], MoE: False");
}

TEST(DynamicMappingsTest, MoeHybridUsesExpertAndSharedExpertBalanceLayers) {
  Hybrid h = MakeHybrid(8, {"in_proj_qkvz", "in_proj_ba"}, true);
  std::vector<std::string> log;
  auto built = BuildHybridAttentionMappings(h.tree, h.config, &log);
  ASSERT_TRUE(built.ok() && built->has_value());
  const auto& m = **built;
  EXPECT_EQ(m[1].balance_layers.size(), 2u);
  EXPECT_TRUE(absl::StrContains(absl::StrJoin(m[2].balance_layers, ","), "experts"));
  EXPECT_TRUE(absl::StrContains(absl::StrJoin(m[2].balance_layers, ","), "shared_expert"));
}

TEST(DynamicMappingsTest, LayerCountsScaleWithDepth) {
  for (int layers : {24, 48, 64}) {
    Hybrid h = MakeHybrid(layers, {"in_proj_qkvz", "in_proj_ba"}, false);
    std::vector<std::string> log;
    auto built = BuildHybridAttentionMappings(h.tree, h.config, &log);
    ASSERT_TRUE(built.ok() && built->has_value());
    EXPECT_EQ(Pipes((**built)[0].smooth_layer) + 1, layers / 4);
    EXPECT_EQ(Pipes((**built)[1].smooth_layer) + 1, layers - layers / 4);
  }
}

TEST(DynamicMappingsTest, TextConfigIsReadFirst) {
  Hybrid h = MakeHybrid(8, {"in_proj_qkvz", "in_proj_ba"}, false, /*use_text_config=*/true);
  auto chosen = ChooseAwqMappings(h.tree, h.config, "Qwen3_5ForConditionalGeneration");
  ASSERT_TRUE(chosen.ok());
  EXPECT_EQ(chosen->source, AwqMappingSource::kDynamic);
  EXPECT_EQ(chosen->mappings.size(), 4u);
}

TEST(DynamicMappingsTest, NonHybridFallsBackToRegistryOrDefault) {
  Hybrid h = MakeHybrid(4, {"in_proj_qkvz"}, false);
  Json plain = {{"num_hidden_layers", 4}};
  auto qwen_next = ChooseAwqMappings(h.tree, plain, "Qwen3NextForCausalLM");
  ASSERT_TRUE(qwen_next.ok());
  EXPECT_EQ(qwen_next->source, AwqMappingSource::kDefault);
  EXPECT_TRUE(absl::StartsWith(qwen_next->log.back(),
                               "INFO Architecture Qwen3NextForCausalLM not found in mappings. "
                               "Using default mappings: [AWQMapping(smooth_layer="));
  auto nanbeige = ChooseAwqMappings(h.tree, plain, "NanbeigeForCausalLM");
  EXPECT_EQ(nanbeige->source, AwqMappingSource::kRegistry);
  EXPECT_EQ(nanbeige->mappings, DefaultAwqMappings().mappings);
}

TEST(DynamicMappingsTest, ShortLayerTypesRaiseIndexError) {
  Hybrid h = MakeHybrid(8, {"in_proj_qkvz"}, false);
  h.config["num_hidden_layers"] = 12;
  std::vector<std::string> log;
  auto built = BuildHybridAttentionMappings(h.tree, h.config, &log);
  ASSERT_FALSE(built.ok());
  EXPECT_TRUE(absl::StartsWith(built.status().message(), "IndexError: list index out of range"));
}

TEST(DynamicMappingsTest, Step3p5SplitsDenseAndMoeLayers) {
  std::vector<Module> modules = {M("", "Step3p5ForCausalLM"), M("model", "M"),
                                 M("model.layers", "ModuleList")};
  for (int i = 0; i < 6; ++i) {
    std::string l = "model.layers." + std::to_string(i);
    modules.push_back(M(l, "Layer"));
    if (i < 2) {
      modules.push_back(M(l + ".mlp", "MLP"));
    } else {
      modules.push_back(M(l + ".moe", "MoE"));
      modules.push_back(M(l + ".share_expert", "MLP"));
    }
  }
  ModuleTree tree = *ModuleTree::Create(std::move(modules));
  std::vector<std::string> log;
  auto m = BuildStep3p5Mappings(tree, &log);
  ASSERT_TRUE(m.has_value());
  ASSERT_EQ(m->size(), 5u);
  EXPECT_TRUE(absl::EndsWith((*m)[2].smooth_layer, "(0|1)\\.post_attention_layernorm$"));
  EXPECT_TRUE(absl::EndsWith((*m)[3].smooth_layer, "(2|3|4|5)\\.post_attention_layernorm$"));
}

TEST(DynamicMappingsTest, MoeDetectionFromClassesOrConfigKeys) {
  ModuleTree dense = *ModuleTree::Create({M("", "LlamaForCausalLM"), M("mlp", "LlamaMLP")});
  EXPECT_FALSE(IsMoeModel(dense, Json{{"hidden_size", 8}}));
  EXPECT_TRUE(IsMoeModel(dense, Json{{"num_experts", 8}}));
  EXPECT_FALSE(IsMoeModel(dense, Json{{"_experts_implementation", "x"}}));
  ModuleTree moe = *ModuleTree::Create({M("", "X"), M("experts", "Qwen3MoeExperts")});
  EXPECT_TRUE(IsMoeModel(moe, Json::object()));
  // Case-sensitive: "Moe" is not "MoE".
  ModuleTree block = *ModuleTree::Create({M("", "X"), M("mlp", "Qwen3MoeSparseMoeBlock")});
  EXPECT_FALSE(IsMoeModel(block, Json::object()));
}

}  // namespace
}  // namespace mapping
}  // namespace wring
