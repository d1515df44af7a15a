#include "backend/data/tokenizer.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "backend/data/demo_data.h"
#include "backend/data/internal/nfc.h"
#include "gtest/gtest.h"
#include "mapping/base/json.h"
#include "mapping/testing/runfiles.h"

namespace wring {
namespace backend {
namespace data {
namespace {

using mapping::Json;

std::string TestdataPath(const std::string& name) {
  return mapping::testing::RunfilePath(absl::StrCat("backend/data/testdata/", name));
}

Json LoadJson(const std::string& path) {
  auto json = mapping::ParseJson(mapping::testing::ReadFileOrFail(path), path);
  EXPECT_TRUE(json.ok()) << json.status();
  return json.ok() ? *json : Json();
}

std::vector<int64_t> Ids(const Json& array) {
  std::vector<int64_t> ids;
  for (const Json& id : array) ids.push_back(id.get<int64_t>());
  return ids;
}

absl::StatusOr<Tokenizer> Load(const std::string& name) {
  if (name == "demo") return Tokenizer::FromJson(DemoTokenizerJson(), "demo tokenizer");
  return Tokenizer::FromFile(TestdataPath(name + ".json"));
}

// Loads or fails the test (the fixtures are part of the test).
#define LOAD_OR_FAIL(var, name)                   \
  auto var##_or = Load(name);                     \
  ASSERT_TRUE(var##_or.ok()) << var##_or.status(); \
  const Tokenizer& var = *var##_or

// Every corpus text, with and without special tokens, and the truncated
// encodings, against the ids `tokenizers` gave (testdata/gen_reference.py).
void ExpectReferenceIds(const Tokenizer& tokenizer, const Json& reference,
                        const Json& corpus) {
  const std::string name = reference["name"].get<std::string>();
  const Json& cases = reference["cases"];
  ASSERT_EQ(cases.size(), corpus.size());
  for (size_t i = 0; i < corpus.size(); ++i) {
    const std::string text = corpus[i].get<std::string>();
    for (bool special : {true, false}) {
      auto ids = tokenizer.Encode(text, special);
      ASSERT_TRUE(ids.ok()) << name << " text " << i << ": " << ids.status();
      EXPECT_EQ(*ids, Ids(cases[i][special ? "with_special" : "without_special"]))
          << name << " text " << i << " add_special_tokens=" << special << ": " << text;
    }
  }
  for (const Json& truncated : reference["truncated"]) {
    const std::string text = corpus[truncated["text_index"].get<size_t>()].get<std::string>();
    const int64_t max_length = truncated["max_length"].get<int64_t>();
    auto ids = tokenizer.Encode(text, true, max_length);
    ASSERT_TRUE(ids.ok()) << ids.status();
    EXPECT_EQ(*ids, Ids(truncated["ids"])) << name << " max_length " << max_length;
  }
}

class ReferenceIdsTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ReferenceIdsTest, MatchesHuggingFaceTokenizers) {
  const Json reference = LoadJson(TestdataPath("reference_ids.json"));
  const Json corpus = LoadJson(TestdataPath("corpus.json"));
  bool found = false;
  for (const Json& entry : reference["tokenizers"]) {
    if (entry["name"] != GetParam()) continue;
    found = true;
    LOAD_OR_FAIL(tokenizer, GetParam());
    ExpectReferenceIds(tokenizer, entry, corpus);
  }
  EXPECT_TRUE(found);
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, ReferenceIdsTest,
                         ::testing::Values("llama3_small", "qwen3_small", "gpt2_small", "demo"));

TEST(TokenizerTest, DemoTextIdsMatchReference) {
  const Json reference = LoadJson(TestdataPath("reference_ids.json"));
  LOAD_OR_FAIL(demo, "demo");
  auto ids = demo.Encode(DemoCalibrationText(), true);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(*ids, Ids(reference["demo_text_ids"]));
  EXPECT_EQ(DemoCalibrationText(), mapping::testing::ReadFileOrFail(TestdataPath("demo_text.txt")));
}

TEST(TokenizerTest, NfcMatchesReference) {
  const Json reference = LoadJson(TestdataPath("reference_ids.json"));
  ASSERT_FALSE(reference["nfc"].empty());
  for (const Json& pair : reference["nfc"]) {
    EXPECT_EQ(internal::NormalizeNfc(pair[0].get<std::string>()), pair[1].get<std::string>())
        << pair[0].get<std::string>();
  }
}

TEST(TokenizerTest, SpecialTokenFacts) {
  LOAD_OR_FAIL(llama, "llama3_small");
  EXPECT_EQ(llama.bos_token_id(), 128000);
  EXPECT_EQ(llama.num_special_tokens_to_add(), 1);
  // The cut vocabulary has 2463 entries; the reference numbers the added
  // tokens from there (see reference_ids.json), while the template keeps
  // the id it names.
  EXPECT_EQ(llama.TokenToId("<|begin_of_text|>"), 2463);
  EXPECT_EQ(llama.TokenToId("<|end_of_text|>"), 2464);
  EXPECT_EQ(llama.vocab_size(), 128001);
  LOAD_OR_FAIL(qwen, "qwen3_small");
  EXPECT_EQ(qwen.bos_token_id(), std::nullopt);
  EXPECT_EQ(qwen.num_special_tokens_to_add(), 0);
  EXPECT_EQ(qwen.TokenToId("<|endoftext|>"), 3256);
  EXPECT_EQ(qwen.TokenToId("<think>"), 3280);
  EXPECT_EQ(qwen.vocab_size(), 3256 + 26);
  LOAD_OR_FAIL(gpt2, "gpt2_small");
  EXPECT_EQ(gpt2.bos_token_id(), 0);
  EXPECT_EQ(gpt2.num_special_tokens_to_add(), 2);
}

TEST(TokenizerTest, RejectsInvalidUtf8) {
  LOAD_OR_FAIL(llama, "llama3_small");
  for (const std::string& bad : {std::string("ab\xff"), std::string("\xc3"),
                                std::string("\xed\xa0\x80"), std::string("\xc0\xaf")}) {
    auto ids = llama.Encode(bad, true);
    ASSERT_FALSE(ids.ok());
    EXPECT_NE(ids.status().message().find("UTF-8"), std::string::npos) << ids.status();
  }
}

TEST(TokenizerTest, MaxLengthMustLeaveRoomForSpecialTokens) {
  LOAD_OR_FAIL(gpt2, "gpt2_small");
  auto ids = gpt2.Encode("hello", true, 1);
  ASSERT_FALSE(ids.ok());
  EXPECT_NE(ids.status().message().find("special tokens"), std::string::npos);
}

std::string MinimalTokenizer(const std::string& normalizer, const std::string& pre_tokenizer,
                             const std::string& merges) {
  return absl::StrCat(R"({"added_tokens": [], "normalizer": )", normalizer,
                      R"(, "pre_tokenizer": )", pre_tokenizer,
                      R"(, "post_processor": null, "model": {"type": "BPE", "vocab": {"a": 0,
                      "b": 1, "ab": 2}, "merges": )",
                      merges, "}}");
}

TEST(TokenizerTest, RejectsUnsupportedConfigurationsNamingTheField) {
  struct Case {
    std::string json;
    std::string expected;
  };
  const std::string split = R"({"type": "Split", "behavior": "Isolated", "pattern": {"Regex": )";
  const std::vector<Case> cases = {
      {MinimalTokenizer(R"({"type": "Lowercase"})", "null", R"(["a b"])"),
       "normalizer: normalizer type \"Lowercase\""},
      {MinimalTokenizer("null", split + R"("(?<=a)b"}})", R"(["a b"])"),
       "lookaround"},
      {MinimalTokenizer("null", split + R"("\\p{Lu}+"}})", R"(["a b"])"), "\\p{Lu}"},
      {MinimalTokenizer("null", R"({"type": "Metaspace"})", R"(["a b"])"),
       "pre_tokenizer: pre-tokenizer type \"Metaspace\""},
      {MinimalTokenizer("null", "null", R"(["a c"])"), "merges[0]"},
      {MinimalTokenizer("null", "null", R"(["abc"])"), "merges[0]"},
      {MinimalTokenizer("null", "null", R"({"x": 1})"), "merges: expected an array"},
  };
  for (const Case& c : cases) {
    auto tokenizer = Tokenizer::FromJson(c.json, "tok.json");
    ASSERT_FALSE(tokenizer.ok()) << c.json;
    EXPECT_NE(tokenizer.status().message().find("tok.json"), std::string::npos);
    EXPECT_NE(tokenizer.status().message().find(c.expected), std::string::npos)
        << tokenizer.status();
  }
  EXPECT_FALSE(Tokenizer::FromJson("{not json", "tok.json").ok());
}

TEST(TokenizerTest, MergesApplyInRankOrderLeftmostFirst) {
  // "a a a": the pair (a, a) merges leftmost first: [aa, a].
  const std::string json = R"({"model": {"type": "BPE", "vocab": {"a": 0, "aa": 1},
      "merges": [["a", "a"]]}})";
  auto tokenizer = Tokenizer::FromJson(json, "tok.json");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  auto ids = tokenizer->Encode("aaa", false);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<int64_t>{1, 0}));
}

// The full real files (8-11 MB, not kept in the repository): set
// WRING_REAL_TOKENIZERS to a directory with llama3.json, qwen3.json and the
// reference_ids.json that gen_reference.py --full-reference writes.
TEST(TokenizerTest, FullRealTokenizerFiles) {
  const char* dir = std::getenv("WRING_REAL_TOKENIZERS");
  if (dir == nullptr) GTEST_SKIP() << "WRING_REAL_TOKENIZERS not set";
  const Json reference = LoadJson(absl::StrCat(dir, "/reference_ids.json"));
  const Json corpus = LoadJson(TestdataPath("corpus.json"));
  for (const Json& entry : reference["tokenizers"]) {
    const std::string name = entry["name"].get<std::string>();
    const std::string file = name == "llama3_full" ? "llama3.json" : "qwen3.json";
    auto tokenizer = Tokenizer::FromFile(absl::StrCat(dir, "/", file));
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    EXPECT_EQ(tokenizer->vocab_size(), name == "llama3_full" ? 128256 : 151669);
    ExpectReferenceIds(*tokenizer, entry, corpus);
  }
}

}  // namespace
}  // namespace data
}  // namespace backend
}  // namespace wring
