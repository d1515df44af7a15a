#include "mapping/match/matchers.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "mapping/base/python_repr.h"

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

// Two Llama-like decoder layers, registered as transformers does: attention
// and MLP first, the norms last.
ModuleTree TwoLayerTree() {
  std::vector<Module> modules = {M("", "LlamaForCausalLM"), M("model", "LlamaModel"),
                                 M("model.embed_tokens", "Embedding"),
                                 M("model.layers", "ModuleList")};
  for (int i = 0; i < 2; ++i) {
    std::string l = "model.layers." + std::to_string(i);
    modules.push_back(M(l, "LlamaDecoderLayer"));
    modules.push_back(M(l + ".self_attn", "LlamaAttention"));
    for (const char* p : {"q_proj", "k_proj", "v_proj", "o_proj"}) {
      modules.push_back(M(l + ".self_attn." + p, "Linear"));
    }
    modules.push_back(M(l + ".mlp", "LlamaMLP"));
    for (const char* p : {"gate_proj", "up_proj", "down_proj"}) {
      modules.push_back(M(l + ".mlp." + p, "Linear"));
    }
    modules.push_back(M(l + ".input_layernorm", "LlamaRMSNorm"));
    modules.push_back(M(l + ".post_attention_layernorm", "LlamaRMSNorm"));
  }
  modules.push_back(M("model.norm", "LlamaRMSNorm"));
  modules.push_back(M("lm_head", "Linear"));
  return *ModuleTree::Create(std::move(modules));
}

struct Fixture {
  ModuleTree tree = TwoLayerTree();
  PatternRegistry registry;
  std::vector<int> Ids(const std::vector<std::string>& targets) {
    return *registry.AddAll(targets);
  }
  MatchTable Table() { return *MatchTable::Build(tree, registry); }
  std::vector<std::string> Names(const std::vector<int>& modules) {
    std::vector<std::string> out;
    for (int m : modules) out.push_back(tree.module(m).name);
    return out;
  }
};

TEST(MatchNamedModulesTest, FirstTargetWinsAndIgnoreDrops) {
  Fixture f;
  auto targets = f.Ids({"Linear", "re:.*q_proj$"});
  auto ignore = f.Ids({"lm_head", "re:.*layers\\.1\\..*"});
  MatchTable table = f.Table();
  NamedModuleMatches result = MatchNamedModules(f.tree, table, targets, ignore);
  EXPECT_EQ(f.Names(result.modules),
            (std::vector<std::string>{
                "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj",
                "model.layers.0.self_attn.v_proj", "model.layers.0.self_attn.o_proj",
                "model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj",
                "model.layers.0.mlp.down_proj"}));
  // "Linear" claims every q_proj first, so upstream warns about the regex.
  ASSERT_EQ(result.unmatched_targets.size(), 1u);
  EXPECT_EQ(f.registry.text(result.unmatched_targets[0]), "re:.*q_proj$");
}

// torch.nn.Module is in every module's MRO (module trees leave it out), so
// the class name "Module" matches the root and everything under it.
TEST(MatchNamedModulesTest, ModuleMatchesEveryModule) {
  Fixture f;
  auto targets = f.Ids({"Module"});
  auto ignore = f.Ids({"re:model\\.layers.*", "lm_head"});
  MatchTable table = f.Table();
  NamedModuleMatches result = MatchNamedModules(f.tree, table, targets, ignore);
  EXPECT_EQ(f.Names(result.modules),
            (std::vector<std::string>{"", "model", "model.embed_tokens", "model.norm"}));
}

std::vector<std::vector<std::vector<std::string>>> CollectSets(Fixture& f,
                                                               const std::vector<int>& targets,
                                                               absl::Status* status) {
  std::vector<std::vector<std::vector<std::string>>> sets;
  MatchTable table = f.Table();
  *status = MatchModulesSet(f.tree, table, f.registry, targets, {}, [&](const ModuleSet& set) {
    std::vector<std::vector<std::string>> named;
    for (const auto& group : set) named.push_back(f.Names(group));
    sets.push_back(named);
    return absl::OkStatus();
  });
  return sets;
}

TEST(MatchModulesSetTest, GroupsPerDecoderLayerWhateverTheRegistrationOrder) {
  Fixture f;
  absl::Status status;
  auto sets = CollectSets(
      f, f.Ids({"re:.*input_layernorm$", "re:.*q_proj$", "re:.*k_proj$", "re:.*v_proj$"}),
      &status);
  ASSERT_TRUE(status.ok()) << status;
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_EQ(sets[1][0], std::vector<std::string>{"model.layers.1.input_layernorm"});
  EXPECT_EQ(sets[1][3], std::vector<std::string>{"model.layers.1.self_attn.v_proj"});
}

TEST(MatchModulesSetTest, FinalIncompleteSetNamesBothKeySets) {
  Fixture f;
  absl::Status status;
  CollectSets(f, f.Ids({"re:.*input_layernorm$", "re:.*nonexistent$"}), &status);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.message(),
            "Found a final incomplete set with matches found for keys: "
            "{'re:.*input_layernorm$'} but no matches found for keys: {'re:.*nonexistent$'}");
}

TEST(MatchModulesSetTest, NothingMatchingYieldsNothingSilently) {
  Fixture f;
  absl::Status status;
  auto sets = CollectSets(f, f.Ids({"re:.*foo$", "re:.*bar$"}), &status);
  EXPECT_TRUE(status.ok());
  EXPECT_TRUE(sets.empty());
}

TEST(MatchModulesSetTest, ModuleMatchingTwoTargetsIsAnError) {
  Fixture f;
  absl::Status status;
  CollectSets(f, f.Ids({"re:.*proj$", "re:.*q_proj$"}), &status);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.message(),
            "module: model.layers.0.self_attn.q_proj was matched with multiple targets: "
            "{'re:.*proj$', 're:.*q_proj$'} which is unexpected disable this check by "
            "setting `error_on_module_rematch = False`");
}

TEST(MatchModulesSetTest, MissingTargetInOneLayerCollapsesLayers) {
  // Layer 0 lacks the second target: before a set is complete its context
  // may widen freely, so layer 0's norm and all of layer 1 merge into one
  // set with two smooth layers (what makes AWQ raise on dense+MoE models).
  Fixture f;
  absl::Status status;
  auto sets = CollectSets(f, f.Ids({"re:.*input_layernorm$", "re:.*layers.1.self_attn.q_proj$"}),
                          &status);
  ASSERT_TRUE(status.ok()) << status;
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_EQ(sets[0][0], (std::vector<std::string>{"model.layers.0.input_layernorm",
                                                  "model.layers.1.input_layernorm"}));
}

TEST(MatchModulesSetTest, ConsumerErrorStopsTheWalk) {
  Fixture f;
  int calls = 0;
  auto targets = f.Ids({"re:.*up_proj$", "re:.*down_proj$"});
  MatchTable table = f.Table();
  absl::Status status = MatchModulesSet(f.tree, table, f.registry, targets, {},
                                        [&](const ModuleSet&) {
                                          ++calls;
                                          return absl::CancelledError("stop");
                                        });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled);
}

TEST(MatchTableTest, DigitSpellingPatternsSeeEveryIndex) {
  // Patterns without digits are evaluated once per digit-normalized name;
  // those that spell digits must still tell layer 0 from layer 1.
  Fixture f;
  int any_layer = *f.registry.Add("re:.*layers\\.\\d+\\.self_attn\\.q_proj$");
  int layer_one = *f.registry.Add("re:.*layers\\.1\\.self_attn\\.q_proj$");
  int low_layers = *f.registry.Add("re:.*layers\\.[0-0]\\.mlp$");
  int dots = *f.registry.Add("re:model.layers...mlp$");  // '.' matches digits and dots alike
  MatchTable table = f.Table();
  int q0 = *f.tree.Find("model.layers.0.self_attn.q_proj");
  int q1 = *f.tree.Find("model.layers.1.self_attn.q_proj");
  EXPECT_TRUE(table.NameMatches(q0, any_layer));
  EXPECT_TRUE(table.NameMatches(q1, any_layer));
  EXPECT_FALSE(table.NameMatches(q0, layer_one));
  EXPECT_TRUE(table.NameMatches(q1, layer_one));
  EXPECT_TRUE(table.NameMatches(*f.tree.Find("model.layers.0.mlp"), low_layers));
  EXPECT_FALSE(table.NameMatches(*f.tree.Find("model.layers.1.mlp"), low_layers));
  EXPECT_TRUE(table.NameMatches(*f.tree.Find("model.layers.1.mlp"), dots));
}

TEST(MatchTableTest, LiteralSuffixShortcutKeepsRegexMeaning) {
  // Names are skipped early when they cannot end in a pattern's literal;
  // quantifiers, alternations and flags must disable that shortcut.
  Fixture f;
  int quantified = *f.registry.Add("re:.*q_projj*$");
  int alternation = *f.registry.Add("re:.*down_proj$|.*q_proj$");
  int flags = *f.registry.Add("re:(?i).*Q_PROJ$");
  int escaped = *f.registry.Add("re:.*self_attn\\.q_proj$");
  int layer = *f.registry.Add("re:.*layers\\.(1)\\.self_attn\\.q_proj$");
  MatchTable table = f.Table();
  int q1 = *f.tree.Find("model.layers.1.self_attn.q_proj");
  int q0 = *f.tree.Find("model.layers.0.self_attn.q_proj");
  for (int p : {quantified, alternation, flags, escaped, layer}) {
    EXPECT_TRUE(table.NameMatches(q1, p)) << f.registry.text(p);
  }
  EXPECT_FALSE(table.NameMatches(q0, layer));
  EXPECT_TRUE(table.NameMatches(*f.tree.Find("model.layers.0.mlp.down_proj"), alternation));
}

TEST(PythonReprTest, QuotesLikePython) {
  EXPECT_EQ(PythonStrRepr("a"), "'a'");
  EXPECT_EQ(PythonStrRepr("it's"), "\"it's\"");
  EXPECT_EQ(PythonStrRepr("a\\b"), "'a\\\\b'");
  EXPECT_EQ(PythonListRepr({"a", "b"}), "['a', 'b']");
  EXPECT_EQ(PythonSetRepr({}), "set()");
}

}  // namespace
}  // namespace mapping
}  // namespace wring
