#include "backend/data/calibration_data.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "backend/data/demo_data.h"
#include "backend/data/tokenizer.h"
#include "gtest/gtest.h"
#include "mapping/testing/runfiles.h"

namespace wring {
namespace backend {
namespace data {
namespace {

using Ids = std::vector<int64_t>;

std::string TestdataPath(const std::string& name) {
  return mapping::testing::RunfilePath(absl::StrCat("backend/data/testdata/", name));
}

std::string TempPath(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", name);
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary);
  out << contents;
}

CalibrationOptions Options(int64_t num_samples, int64_t eval_samples, int64_t seq_len,
                           bool shuffle = false) {
  CalibrationOptions options;
  options.num_samples = num_samples;
  options.eval_samples = eval_samples;
  options.seq_len = seq_len;
  options.shuffle = shuffle;
  return options;
}

std::vector<Ids> AllIds(const std::vector<CalibrationSample>& samples) {
  std::vector<Ids> ids;
  for (const CalibrationSample& sample : samples) ids.push_back(sample.input_ids);
  return ids;
}

absl::Status ErrorOf(absl::string_view jsonl, const Tokenizer* tokenizer = nullptr) {
  return ParseCalibrationData(jsonl, CalibrationFormat::kJsonLines, "calib.jsonl", tokenizer,
                              Options(8, 0, 0))
      .status();
}

TEST(CalibrationDataTest, JsonLinesInFileOrderWithEvalAfterCalibration) {
  const std::string jsonl =
      "{\"input_ids\": [1, 2, 3, 4, 5]}\n"
      "\n"
      "{\"input_ids\": []}\n"
      "{\"input_ids\": [6, 7]}\n"
      "{\"text\": \"\"}\n"
      "{\"input_ids\": [8, 9, 10]}\r\n"
      "{\"input_ids\": [11]}\n";
  auto data = ParseCalibrationData(jsonl, CalibrationFormat::kJsonLines, "calib.jsonl",
                                   nullptr, Options(2, 1, 3));
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(AllIds(data->calibration), (std::vector<Ids>{{1, 2, 3}, {6, 7}}));
  EXPECT_EQ(AllIds(data->evaluation), (std::vector<Ids>{{8, 9, 10}}));
  EXPECT_EQ(data->records_available, 4);  // empty records are dropped
}

TEST(CalibrationDataTest, TextIsTruncatedLikeTheReference) {
  // reference_ids.json: llama3_small, corpus[2], max_length 5 is
  // tokenizers' encode(truncation=True, max_length=5): BOS + 4 ids.
  auto tokenizer = Tokenizer::FromFile(TestdataPath("llama3_small.json"));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const std::string jsonl =
      "{\"text\": \"The quick brown fox jumps over the lazy dog.\"}\n"
      "{\"text\": \"Hello world\", \"meta\": 1}\n";
  auto data = ParseCalibrationData(jsonl, CalibrationFormat::kJsonLines, "calib.jsonl",
                                   &*tokenizer, Options(5, 0, 5));
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->calibration.size(), 2u);
  EXPECT_EQ(data->calibration[0].input_ids, (Ids{128000, 791, 934, 875, 293}));
  auto untruncated = tokenizer->Encode("Hello world", true);
  ASSERT_TRUE(untruncated.ok());
  EXPECT_EQ(data->calibration[1].input_ids, *untruncated);
  EXPECT_EQ(data->calibration[1].input_ids.front(), 128000);
}

TEST(CalibrationDataTest, TextFileSamplesAreSeparatedByBlankLines) {
  auto tokenizer = Tokenizer::FromJson(DemoTokenizerJson(), "demo");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const std::string text = "first line\nstill first\n\n  \n\nsecond\r\n\n\nthird\n";
  CalibrationOptions options = Options(10, 0, 0);
  options.add_special_tokens = false;
  WriteFile(TempPath("calib.txt"), text);
  auto data = LoadCalibrationData(TempPath("calib.txt"), &*tokenizer, options);
  ASSERT_TRUE(data.ok()) << data.status();
  std::vector<Ids> expected;
  for (const char* sample : {"first line\nstill first", "second", "third"}) {
    expected.push_back(*tokenizer->Encode(sample, false));
  }
  EXPECT_EQ(AllIds(data->calibration), expected);
}

TEST(CalibrationDataTest, DemoTextGivesOneSamplePerParagraph) {
  auto tokenizer = Tokenizer::FromJson(DemoTokenizerJson(), "demo");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  auto data = ParseCalibrationData(DemoCalibrationText(), CalibrationFormat::kText, "demo",
                                   &*tokenizer, Options(4, 2, 64));
  ASSERT_TRUE(data.ok()) << data.status();
  const std::vector<std::string> paragraphs = absl::StrSplit(DemoCalibrationText(), "\n\n");
  EXPECT_EQ(data->records_available, static_cast<int64_t>(paragraphs.size()));
  ASSERT_EQ(data->calibration.size(), 4u);
  ASSERT_EQ(data->evaluation.size(), 2u);
  EXPECT_EQ(data->calibration[0].input_ids, *tokenizer->Encode(paragraphs[0], true, 64));
  EXPECT_EQ(data->evaluation[1].input_ids, *tokenizer->Encode(paragraphs[5], true, 64));
  EXPECT_EQ(data->calibration[0].input_ids.size(), 64u);
  EXPECT_EQ(data->calibration[0].input_ids.front(), *tokenizer->bos_token_id());
  EXPECT_LT(*std::max_element(data->calibration[0].input_ids.begin(),
                              data->calibration[0].input_ids.end()),
            512);
}

TEST(CalibrationDataTest, ShuffleIsTheDocumentedPermutation) {
  // Fisher-Yates over SplitMix64 as documented in calibration_data.h.
  EXPECT_EQ(ShuffledOrder(10, 42), (std::vector<int64_t>{0, 9, 5, 8, 6, 4, 7, 2, 1, 3}));
  EXPECT_EQ(ShuffledOrder(6, 0), (std::vector<int64_t>{4, 2, 5, 3, 0, 1}));
  EXPECT_EQ(ShuffledOrder(1000, 7), ShuffledOrder(1000, 7));
  EXPECT_NE(ShuffledOrder(1000, 7), ShuffledOrder(1000, 8));
  std::vector<int64_t> sorted = ShuffledOrder(1000, 7);
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(sorted[i], i);
  EXPECT_TRUE(ShuffledOrder(0, 1).empty());
}

TEST(CalibrationDataTest, ShuffledSelectionFollowsTheOrder) {
  std::string jsonl;
  for (int i = 0; i < 10; ++i) absl::StrAppend(&jsonl, "{\"input_ids\": [", i, "]}\n");
  CalibrationOptions options = Options(3, 2, 0, /*shuffle=*/true);
  options.seed = 42;
  auto data = ParseCalibrationData(jsonl, CalibrationFormat::kJsonLines, "calib.jsonl",
                                   nullptr, options);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(AllIds(data->calibration), (std::vector<Ids>{{0}, {9}, {5}}));
  EXPECT_EQ(AllIds(data->evaluation), (std::vector<Ids>{{8}, {6}}));
}

TEST(CalibrationDataTest, ErrorsNameFileLineAndField) {
  struct Case {
    std::string jsonl;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"{\"input_ids\": [1]}\n{\"input_ids\": [1, \"a\"]}\n",
       "calib.jsonl:2: field input_ids: expected an array of integers (element 1 is string)"},
      {"{\"input_ids\": 5}\n", "calib.jsonl:1: field input_ids: expected an array of integers"},
      {"{\"input_ids\": [1.5]}\n", "calib.jsonl:1: field input_ids: expected an array"},
      {"{\"input_ids\": [-1]}\n", "calib.jsonl:1: field input_ids: element 0"},
      {"{\"text\": 3}\n", "calib.jsonl:1: field text: expected a string, got number"},
      {"\n\n[1, 2]\n", "calib.jsonl:3: expected a JSON object"},
      {"{\"prompt\": \"x\"}\n", "calib.jsonl:1: expected a field \"input_ids\""},
      {"{\"text\": \"x\"}\n{oops\n", "calib.jsonl:2"},
      {"{\"text\": \"hello\"}\n", "calib.jsonl:1: field text: a text sample needs a tokenizer"},
      {"\n", "calib.jsonl: no calibration samples found"},
  };
  for (const Case& c : cases) {
    const absl::Status status = ErrorOf(c.jsonl);
    ASSERT_FALSE(status.ok()) << c.jsonl;
    EXPECT_NE(status.message().find(c.expected), std::string::npos) << status;
  }
}

TEST(CalibrationDataTest, InvalidUtf8TextNamesTheLine) {
  auto tokenizer = Tokenizer::FromJson(DemoTokenizerJson(), "demo");
  ASSERT_TRUE(tokenizer.ok());
  auto data = ParseCalibrationData("ok\n\nbad \xff text\n", CalibrationFormat::kText,
                                   "calib.txt", &*tokenizer, Options(5, 0, 0));
  ASSERT_FALSE(data.ok());
  EXPECT_NE(data.status().message().find("calib.txt:3: field text: text is not valid UTF-8"),
            std::string::npos)
      << data.status();
}

TEST(CalibrationDataTest, RejectsBadOptionsAndUnknownFiles) {
  EXPECT_FALSE(ParseCalibrationData("{\"input_ids\": [1]}", CalibrationFormat::kJsonLines,
                                    "c.jsonl", nullptr, Options(0, 0, 0))
                   .ok());
  EXPECT_FALSE(ParseCalibrationData("{\"input_ids\": [1]}", CalibrationFormat::kJsonLines,
                                    "c.jsonl", nullptr, Options(1, -1, 0))
                   .ok());
  auto unknown = LoadCalibrationData("calib.csv", nullptr, Options(1, 0, 0));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find(".jsonl"), std::string::npos);
  auto missing = LoadCalibrationData(TempPath("missing.jsonl"), nullptr, Options(1, 0, 0));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

TEST(CalibrationDataTest, ValidateTokenIdsReportsTheOffendingId) {
  const std::vector<CalibrationSample> samples = {{{0, 1, 2}}, {{3, 512, 4}}};
  EXPECT_TRUE(ValidateTokenIds(samples, 513, "calib.jsonl").ok());
  const absl::Status status = ValidateTokenIds(samples, 512, "calib.jsonl");
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("calib.jsonl: sample 1: token id 512 at position 1"),
            std::string::npos)
      << status;
}

}  // namespace
}  // namespace data
}  // namespace backend
}  // namespace wring
