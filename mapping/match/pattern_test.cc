#include "mapping/match/pattern.h"

#include <string>

#include "gtest/gtest.h"
#include "mapping/base/json.h"
#include "mapping/testing/runfiles.h"

namespace wring {
namespace mapping {
namespace {

Module MakeModule(std::string name, std::vector<std::string> mro) {
  Module m;
  m.name = std::move(name);
  m.class_name = mro.empty() ? "" : mro[0];
  m.mro = std::move(mro);
  return m;
}

bool NameMatches(const std::string& target, const std::string& name) {
  auto p = Pattern::Compile(target);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() && p->MatchesName(name);
}

TEST(PatternTest, RegexIsAnchoredAtStartOnly) {
  EXPECT_FALSE(NameMatches("re:q_proj", "model.layers.0.self_attn.q_proj"));
  EXPECT_TRUE(NameMatches("re:.*q_proj", "model.layers.0.self_attn.q_proj_extra"));
  EXPECT_FALSE(NameMatches("re:.*q_proj$", "model.layers.0.self_attn.q_proj_extra"));
  EXPECT_TRUE(NameMatches("re:layer", "layer1"));
  EXPECT_FALSE(NameMatches("re:layer", "model.layer1"));
  // Unescaped dots match any character, as in Python.
  EXPECT_TRUE(NameMatches("re:.*mlp.gate$", "model.layers.0.mlp_gate"));
  // The root module's name is "" and `re:.*` matches it.
  EXPECT_TRUE(NameMatches("re:.*", ""));
}

TEST(PatternTest, PlainStringIsExactNameOrClass) {
  EXPECT_TRUE(NameMatches("lm_head", "lm_head"));
  EXPECT_FALSE(NameMatches("lm_head", "model.lm_head"));
  EXPECT_FALSE(NameMatches("q_proj", "model.layers.0.self_attn.q_proj"));
  auto linear = Pattern::Compile("Linear");
  ASSERT_TRUE(linear.ok());
  EXPECT_TRUE(linear->Matches(MakeModule("model.x", {"Linear"})));
  EXPECT_TRUE(linear->Matches(MakeModule("model.x", {"QuantLinear", "Linear"})));
  EXPECT_TRUE(linear->Matches(MakeModule("model.x", {"RowParallelLinear", "LinearBase"})));
  EXPECT_FALSE(linear->Matches(MakeModule("model.x", {"Embedding"})));
  auto module = Pattern::Compile("ModuleList");
  ASSERT_TRUE(module.ok());
  EXPECT_TRUE(module->MatchesClass(MakeModule("experts", {"LinearExperts2D", "ModuleList"})));
}

TEST(PatternTest, RegexNeverMatchesClassNames) {
  auto p = Pattern::Compile("re:Linear");
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->MatchesClass(MakeModule("model.x", {"Linear"})));
  EXPECT_TRUE(p->MatchesName("Linear"));
}

TEST(PatternTest, UpstreamMatchNameVectors) {
  auto doc = ParseJson(testing::ReadFileOrFail(testing::RunfilePath("mapping/match/testdata/match_vectors.json")),
                       "match_vectors.json");
  ASSERT_TRUE(doc.ok()) << doc.status();
  int checked = 0;
  for (const Json& c : (*doc)["match_name"]) {
    const std::string name = c["name"].get<std::string>();
    const std::string target = c["target"].get<std::string>();
    EXPECT_EQ(NameMatches(target, name), c["expected"].get<bool>())
        << "name=" << name << " target=" << target;
    ++checked;
  }
  EXPECT_GT(checked, 14);
}

TEST(PatternTest, UpstreamClassMatchVectors) {
  auto doc = ParseJson(testing::ReadFileOrFail(testing::RunfilePath("mapping/match/testdata/match_vectors.json")),
                       "match_vectors.json");
  ASSERT_TRUE(doc.ok()) << doc.status();
  int checked = 0;
  for (const Json& c : (*doc)["match_class"]) {
    // Module trees list the MRO without torch.nn.Module itself.
    std::vector<std::string> mro;
    for (const Json& cls : c["mro"]) {
      if (cls != "Module") mro.push_back(cls.get<std::string>());
    }
    const std::string target = c["target"].get<std::string>();
    auto p = Pattern::Compile(target);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->MatchesClass(MakeModule("model.x", mro)), c["expected"].get<bool>())
        << "mro=" << c["mro"].dump() << " target=" << target;
    ++checked;
  }
  EXPECT_GE(checked, 15);
}

TEST(PatternTest, PythonOnlyConstructsAreRejectedByName) {
  struct Case {
    const char* target;
    const char* construct;
  } cases[] = {
      {"re:model\\.layers\\.(?!0\\.).*", "negative lookahead"},
      {"re:.*(?=q_proj)", "lookahead"},
      {"re:.*(?<=self_attn\\.)q_proj", "lookbehind"},
      {"re:.*(?<!mlp\\.)down_proj", "negative lookbehind"},
      {"re:(a)\\1", "backreference"},
      {"re:(?P<x>a)(?P=x)", "named backreference"},
      {"re:(?>abc)", "atomic group"},
      {"re:a*+", "possessive quantifier"},
      {"re:(a)?(?(1)b|c)", "conditional group"},
      {"re:(?x) a b", "inline flag"},
  };
  for (const Case& c : cases) {
    auto p = Pattern::Compile(c.target);
    ASSERT_FALSE(p.ok()) << c.target;
    EXPECT_NE(p.status().message().find(c.construct), std::string::npos)
        << c.target << ": " << p.status().message();
    EXPECT_NE(p.status().message().find(c.target), std::string::npos) << p.status().message();
  }
}

TEST(PatternTest, InvalidRegexIsAnError) {
  auto p = Pattern::Compile("re:.*(q_proj");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("not a valid regular expression"), std::string::npos);
  EXPECT_FALSE(Pattern::Compile("re:abc\\").ok());
}

TEST(PatternTest, PythonSpellingsTranslateToEquivalentRe2) {
  // Python's \Z is RE2's \z; Python's {,n} means {0,n}.
  EXPECT_TRUE(NameMatches("re:.*q_proj\\Z", "a.q_proj"));
  EXPECT_FALSE(NameMatches("re:.*q_proj\\Z", "a.q_proj_x"));
  EXPECT_TRUE(NameMatches("re:a{,2}b$", "aab"));
  EXPECT_TRUE(NameMatches("re:a{,2}b$", "b"));
  EXPECT_FALSE(NameMatches("re:a{,2}b$", "aaab"));
  // Character classes keep their contents, escapes included.
  EXPECT_TRUE(NameMatches("re:.*[\\]x]$", "a]"));
  EXPECT_TRUE(NameMatches("re:.*layers\\.(1|2)\\.", "model.layers.2.mlp"));
}

}  // namespace
}  // namespace mapping
}  // namespace wring
