#include "mapping/model/tensor_names.h"

#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "mapping/model/fixture_format.h"
#include "mapping/model/moe_linearize.h"
#include "mapping/testing/fixture_path.h"

namespace wring {
namespace mapping {
namespace {

ModelInput LoadFixture(const std::string& name) {
  absl::StatusOr<Json> json = testing::LoadFixtureJson(name);
  EXPECT_TRUE(json.ok()) << json.status();
  absl::StatusOr<ModelInput> model = ModelFromModuleDump(*json, name);
  EXPECT_TRUE(model.ok()) << model.status();
  model->config = (*json)["config"];
  // config.json names the architecture; the fixtures keep it beside.
  model->config["architectures"] = Json::array({model->architecture});
  return *std::move(model);
}

// The checkpoint a fixture's model would save: its parameters (alphabetical,
// as safetensors stores them), with or without shapes.
std::vector<NamedTensor> Checkpoint(const ModelInput& model, bool with_shapes) {
  std::vector<NamedTensor> out;
  for (const Parameter& p : model.tree.parameters()) {
    out.push_back({p.name, with_shapes ? p.shape : std::vector<int64_t>{}, with_shapes});
  }
  std::sort(out.begin(), out.end(),
            [](const NamedTensor& a, const NamedTensor& b) { return a.name < b.name; });
  return out;
}

bool NotesMention(const ModelInput& model, const std::string& text) {
  for (const std::string& note : model.notes) {
    if (note.find(text) != std::string::npos) return true;
  }
  return false;
}

// Every Linear of the real model is found, with its features, and nothing
// else is taken for a Linear.
void ExpectSameLinears(const ModelInput& got, const ModelInput& want, bool features) {
  std::set<std::string> holders;  // modules with parameters in their subtree
  for (const Parameter& p : want.tree.parameters()) {
    for (size_t dot = p.name.find('.'); dot != std::string::npos; dot = p.name.find('.', dot + 1)) {
      holders.insert(p.name.substr(0, dot));
    }
  }
  for (const Module& w : want.tree.modules()) {
    absl::optional<int> g = got.tree.Find(w.name);
    if (!w.name.empty() && holders.count(w.name) == 0) continue;  // parameter-free modules (rotary_emb) are invisible
    ASSERT_TRUE(g.has_value()) << w.name;
    EXPECT_EQ(got.tree.IsLinear(*g), want.tree.IsLinear(want.tree.Find(w.name).value()))
        << w.name << " got class " << got.tree.module(*g).class_name;
    if (features && want.tree.IsLinear(*want.tree.Find(w.name))) {
      EXPECT_EQ(got.tree.module(*g).in_features, w.in_features) << w.name;
      EXPECT_EQ(got.tree.module(*g).out_features, w.out_features) << w.name;
    }
  }
  for (const Module& g : got.tree.modules()) {
    if (got.tree.IsLinear(*got.tree.Find(g.name))) {
      EXPECT_TRUE(want.tree.Find(g.name).has_value()) << "invented " << g.name;
    }
  }
}

// Our modules appear in the real named_modules() order.
void ExpectOrderedLikeTheModel(const ModelInput& got, const ModelInput& want) {
  int last = -1;
  for (const Module& g : got.tree.modules()) {
    absl::optional<int> w = want.tree.Find(g.name);
    ASSERT_TRUE(w.has_value()) << g.name;
    EXPECT_GT(*w, last) << g.name << " is out of named_modules() order";
    last = *w;
  }
}

TEST(ModelFromTensorNamesTest, DenseModelsMatchTheirModuleDumps) {
  for (const char* name : {"LlamaForCausalLM", "Qwen3ForCausalLM", "MistralForCausalLM",
                           "Phi3ForCausalLM", "Gemma3ForCausalLM"}) {
    SCOPED_TRACE(name);
    ModelInput want = LoadFixture(name);
    absl::StatusOr<ModelInput> got =
        ModelFromTensorNames(Checkpoint(want, true), want.config, "model.safetensors");
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->architecture, name);
    EXPECT_EQ(got->tree.root_class(), name);
    EXPECT_EQ(got->source_kind, "safetensors");
    ExpectSameLinears(*got, want, /*features=*/true);
    EXPECT_EQ(got->tree.parameters().size(), want.tree.parameters().size());
    EXPECT_TRUE(got->tree.IsInstance(*got->tree.Find("model.layers"), "ModuleList"));
    EXPECT_EQ(got->tree.module(*got->tree.Find("model.embed_tokens")).class_name, "Embedding");
  }
  for (const char* name : {"LlamaForCausalLM", "Qwen3ForCausalLM", "MistralForCausalLM"}) {
    SCOPED_TRACE(name);
    ModelInput want = LoadFixture(name);
    absl::StatusOr<ModelInput> got =
        ModelFromTensorNames(Checkpoint(want, true), want.config, "model.safetensors");
    ASSERT_TRUE(got.ok());
    ExpectOrderedLikeTheModel(*got, want);
  }
}

TEST(ModelFromTensorNamesTest, FusedMoeCheckpointLinearizesLikeOneshot) {
  ModelInput want = LoadFixture("Qwen3MoeForCausalLM.linearized");
  ModelInput fused = LoadFixture("Qwen3MoeForCausalLM.fused");
  absl::StatusOr<ModelInput> got =
      ModelFromTensorNames(Checkpoint(fused, true), fused.config, "model.safetensors");
  ASSERT_TRUE(got.ok()) << got.status();
  const ModuleTree& tree = got->tree;
  EXPECT_EQ(tree.module(*tree.Find("model.layers.0.mlp.experts")).class_name, "FusedExperts");
  // The router is not a Linear in transformers 5.
  EXPECT_FALSE(tree.IsLinear(*tree.Find("model.layers.0.mlp.gate")));
  ASSERT_TRUE(LinearizeFusedExperts(*got).ok());
  ExpectSameLinears(*got, want, /*features=*/true);
  ExpectOrderedLikeTheModel(*got, want);
  EXPECT_EQ(got->tree.parameters().size(), want.tree.parameters().size());
}

TEST(ModelFromTensorNamesTest, IndexOnlyInputGuessesFromNamesAndSaysSo) {
  ModelInput want = LoadFixture("LlamaForCausalLM");
  absl::StatusOr<ModelInput> got =
      ModelFromTensorNames(Checkpoint(want, false), want.config, "model.safetensors.index.json");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->source_kind, "safetensors-index");
  ExpectSameLinears(*got, want, /*features=*/false);
  const Module& q = got->tree.module(*got->tree.Find("model.layers.0.self_attn.q_proj"));
  EXPECT_EQ(q.in_features, -1);
  EXPECT_EQ(got->tree.module(*got->tree.Find("model.norm")).class_name, "RMSNorm");
  EXPECT_TRUE(NotesMention(*got, "tensor shapes unknown (index only)"));
}

TEST(ModelFromTensorNamesTest, TiedEmbeddingsGetAnLmHead) {
  Json config = {{"architectures", {"LlamaForCausalLM"}}, {"tie_word_embeddings", true}};
  absl::StatusOr<ModelInput> got = ModelFromTensorNames(
      {{"model.embed_tokens.weight", {32000, 512}}, {"model.norm.weight", {512}}}, config, "f");
  ASSERT_TRUE(got.ok()) << got.status();
  absl::optional<int> head = got->tree.Find("lm_head");
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(*head, got->tree.size() - 1);  // registered last, as in the model
  EXPECT_TRUE(got->tree.IsLinear(*head));
  EXPECT_EQ(got->tree.module(*head).in_features, 512);
  EXPECT_EQ(got->tree.module(*head).out_features, 32000);
  EXPECT_TRUE(NotesMention(*got, "lm_head added"));

  config["tie_word_embeddings"] = false;
  got = ModelFromTensorNames({{"model.embed_tokens.weight", {32000, 512}}}, config, "f");
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->tree.Find("lm_head").has_value());
}

TEST(ModelFromTensorNamesTest, NaturalOrderComparesIndicesNumerically) {
  std::vector<NamedTensor> tensors;
  for (const char* n : {"layers.10.w.weight", "layers.2.w.weight", "layers.1.w.weight"}) {
    tensors.push_back({n, {2, 2}});
  }
  absl::StatusOr<ModelInput> got = ModelFromTensorNames(tensors, Json::object(), "f");
  ASSERT_TRUE(got.ok());
  EXPECT_LT(*got->tree.Find("layers.1"), *got->tree.Find("layers.2"));
  EXPECT_LT(*got->tree.Find("layers.2"), *got->tree.Find("layers.10"));
  EXPECT_EQ(got->tree.parameters()[0].name, "layers.1.w.weight");
}

TEST(ModelFromTensorNamesTest, RejectsBadNames) {
  struct Case {
    std::vector<NamedTensor> tensors;
    const char* expected;
  };
  const Case cases[] = {
      {{}, "lists no tensors"},
      {{{"a..weight", {1}}}, "empty component"},
      {{{"a.weight", {1}}, {"a.weight", {1}}}, "\"a.weight\" is listed twice"},
      {{{"a.b", {1}}, {"a.b.weight", {1}}}, "both a tensor and the prefix"},
      {{{"a b.weight", {1}}}, "contains whitespace"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<ModelInput> got = ModelFromTensorNames(c.tensors, Json::object(), "ck.json");
    ASSERT_FALSE(got.ok()) << c.expected;
    EXPECT_NE(got.status().message().find(c.expected), std::string::npos) << got.status();
    EXPECT_NE(got.status().message().find("ck.json"), std::string::npos);
  }
}

}  // namespace
}  // namespace mapping
}  // namespace wring
