#include "mapping/tree/module_tree.h"

#include "gtest/gtest.h"
#include "mapping/base/json.h"
#include "mapping/testing/runfiles.h"

namespace wring {
namespace mapping {
namespace {

Module M(std::string name, std::vector<std::string> mro) {
  Module m;
  m.name = std::move(name);
  m.mro = std::move(mro);
  m.class_name = m.mro.empty() ? "" : m.mro[0];
  return m;
}

TEST(LowestCommonAncestorTest, DocstringCases) {
  using V = std::vector<std::string>;
  EXPECT_EQ(LowestCommonAncestorName(V{"abc.a", "abc.b"}), "abc");
  EXPECT_EQ(LowestCommonAncestorName(V{"abc.abc"}), "abc.abc");
  EXPECT_EQ(LowestCommonAncestorName(V{"abc.abc", "abc.ab"}), "abc");
  EXPECT_EQ(LowestCommonAncestorName(V{"abc.abc.ab", "abc.abc"}), "abc.abc");
  EXPECT_EQ(LowestCommonAncestorName(V{"abc.abc", "b.abc"}), "");
  EXPECT_EQ(LowestCommonAncestorName(V{"model.layers.10.mlp", "model.layers.1.mlp"}),
            "model.layers");
  EXPECT_EQ(LowestCommonAncestorName(V{}), "");
  EXPECT_EQ(LowestCommonAncestorName("a.b", absl::nullopt), "a.b");
  EXPECT_EQ(LowestCommonAncestorName("a.b", std::string("a.c")), "a");
  EXPECT_EQ(LowestCommonAncestorNameView("model.layers.1.mlp", "model.layers.10.mlp"),
            "model.layers");
  EXPECT_EQ(LowestCommonAncestorNameView("a.b", "a.b"), "a.b");
  EXPECT_EQ(LowestCommonAncestorNameView("a.b", "a.b.c"), "a.b");
  EXPECT_EQ(LowestCommonAncestorNameView("", "a.b"), "");
}

TEST(LowestCommonAncestorTest, UpstreamVectors) {
  auto doc = ParseJson(testing::ReadFileOrFail(testing::RunfilePath("mapping/match/testdata/match_vectors.json")),
                       "match_vectors.json");
  ASSERT_TRUE(doc.ok()) << doc.status();
  int checked = 0;
  for (const Json& c : (*doc)["lowest_common_ancestor"]) {
    // None entries are dropped upstream before the prefix is taken.
    std::vector<std::string> names;
    for (const Json& n : c["names"]) {
      if (n.is_string()) names.push_back(n.get<std::string>());
    }
    EXPECT_EQ(LowestCommonAncestorName(names), c["expected"].get<std::string>());
    ++checked;
  }
  EXPECT_GE(checked, 6);
}

ModuleTree MoeTree() {
  return *ModuleTree::Create({
      M("", {"Model"}),
      M("embed_tokens", {"Embedding"}),
      M("decoder", {"Layer"}),
      M("decoder.self_attn", {"Attention"}),
      M("decoder.self_attn.v_proj", {"Linear"}),
      M("decoder.mlp", {"SparseMoeBlock"}),
      M("decoder.mlp.experts", {"LinearExperts2D", "ModuleList"}),
      M("decoder.mlp.experts.0", {"ExpertMLPWithGate"}),
      M("decoder.mlp.experts.0.up_proj", {"Linear"}),
      M("decoder.mlp.experts.1", {"ExpertMLPWithGate"}),
      M("decoder.mlp.experts.1.up_proj", {"Linear"}),
  });
}

TEST(LowestCommonAncestorTest, AwqSkipsModuleListAncestors) {
  ModuleTree tree = MoeTree();
  auto at = [&](const char* name) { return *tree.Find(name); };
  EXPECT_EQ(tree.module(LowestCommonAncestorAvoidingModuleList(
                            tree, {at("decoder.mlp.experts.0.up_proj"),
                                   at("decoder.mlp.experts.1.up_proj")}))
                .name,
            "decoder.mlp");
  // A single balance layer is its own parent.
  EXPECT_EQ(tree.module(LowestCommonAncestorAvoidingModuleList(
                            tree, {at("decoder.mlp.experts.0.up_proj")}))
                .name,
            "decoder.mlp.experts.0.up_proj");
  // Nothing in common: the root model (upstream's test_moe_multiple_balance_layers).
  EXPECT_EQ(LowestCommonAncestorAvoidingModuleList(
                tree, {at("embed_tokens"), at("decoder.self_attn.v_proj")}),
            0);
}

TEST(ModuleTreeTest, IndexesParentsAndChildren) {
  ModuleTree tree = MoeTree();
  auto experts = tree.Find("decoder.mlp.experts");
  ASSERT_TRUE(experts.has_value());
  EXPECT_EQ(tree.module(tree.parent(*experts)).name, "decoder.mlp");
  EXPECT_EQ(tree.children(*experts).size(), 2u);
  EXPECT_TRUE(tree.IsInstance(*experts, "ModuleList"));
  EXPECT_FALSE(tree.IsLinear(*experts));
  EXPECT_TRUE(tree.IsLinear(*tree.Find("decoder.self_attn.v_proj")));
  EXPECT_EQ(tree.parent(0), -1);
  EXPECT_FALSE(tree.Find("decoder.nope").has_value());
}

TEST(ModuleTreeTest, RejectsMalformedModuleLists) {
  EXPECT_FALSE(ModuleTree::Create({}).ok());
  EXPECT_NE(ModuleTree::Create({M("a", {"A"})}).status().message().find("root"),
            std::string::npos);
  auto dup = ModuleTree::Create({M("", {"R"}), M("a", {"A"}), M("a", {"A"})});
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("duplicate module name \"a\""), std::string::npos);
  auto orphan = ModuleTree::Create({M("", {"R"}), M("a.b", {"A"})});
  ASSERT_FALSE(orphan.ok());
  EXPECT_NE(orphan.status().message().find("parent \"a\""), std::string::npos);
  auto empty = ModuleTree::Create({M("", {"R"}), M("", {"A"})});
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("empty name"), std::string::npos);
  EXPECT_FALSE(ModuleTree::Create({M("", {"R"}), M("a", {"A"}), M("a..b", {"A"})}).ok());
  EXPECT_FALSE(ModuleTree::Create({M("", {"R"}), M("a", {"A"}), M("a.", {"A"})}).ok());
}

}  // namespace
}  // namespace mapping
}  // namespace wring
