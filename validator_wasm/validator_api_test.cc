#include "validator_wasm/validator_api.h"

#include <string>

#include "gtest/gtest.h"
#include "mapping/archs/architectures.h"
#include "mapping/base/json.h"
#include "mapping/recipe/recipe_parser.h"
#include "mapping/report/report_json.h"
#include "mapping/testing/runfiles.h"

namespace wring {
namespace mapping {
namespace validator {
namespace {

constexpr char kLlamaConfigPath[] = "examples/models/Meta-Llama-3-8B/config.json";

report::CheckReport ParseReport(const std::string& json) {
  auto report = ReportFromJson(json);
  EXPECT_TRUE(report.ok()) << report.status() << "\n" << json;
  return report.ok() ? *report : report::CheckReport();
}

// An unusable-input report: verdict exit 2 and exactly one "input" error
// whose message contains `expected`, also used as the verdict's summary.
void ExpectUnusable(const std::string& json, const std::string& expected) {
  report::CheckReport report = ParseReport(json);
  EXPECT_FALSE(report.verdict().would_run());
  EXPECT_EQ(report.verdict().exit_code(), 2);
  ASSERT_EQ(report.diagnostics_size(), 1) << json;
  EXPECT_EQ(report.diagnostics(0).severity(), "error");
  EXPECT_EQ(report.diagnostics(0).code(), "input");
  EXPECT_NE(report.diagnostics(0).message().find(expected), std::string::npos)
      << "expected \"" << expected << "\" in: " << report.diagnostics(0).message();
  EXPECT_EQ(report.verdict().summary(), report.diagnostics(0).message());
  EXPECT_FALSE(report.has_model());
  EXPECT_FALSE(report.has_recipe());
  EXPECT_EQ(report.targets_size(), 0);
}

std::string LengthPrefixed(const std::string& header) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header;
}

// A two-layer Llama checkpoint's tensors, F16 [4, 4] each, as one shard.
std::string LlamaShardHeader(size_t* data_bytes) {
  Json header = Json::object();
  uint64_t offset = 0;
  auto add = [&](const std::string& name) {
    header[name] = {{"dtype", "F16"}, {"shape", {4, 4}}, {"data_offsets", {offset, offset + 32}}};
    offset += 32;
  };
  add("model.embed_tokens.weight");
  for (int layer = 0; layer < 2; ++layer) {
    const std::string p = "model.layers." + std::to_string(layer) + ".";
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "o_proj"}) {
      add(p + "self_attn." + proj + ".weight");
    }
    for (const char* proj : {"gate_proj", "up_proj", "down_proj"}) {
      add(p + "mlp." + proj + ".weight");
    }
    add(p + "input_layernorm.weight");
    add(p + "post_attention_layernorm.weight");
  }
  add("model.norm.weight");
  add("lm_head.weight");
  *data_bytes = offset;
  return header.dump();
}

std::string HeadersArgument(const std::string& name, const std::string& header, uint64_t size) {
  Json shard = {{"name", name}, {"header", header}, {"size", size}};
  return Json::array({shard}).dump();
}

TEST(ValidatorApiTest, ConfigAloneBuildsTheModel) {
  report::CheckReport report = ParseReport(Check("", testing::ReadFileOrFail(kLlamaConfigPath), ""));
  EXPECT_EQ(report.model().architecture(), "LlamaForCausalLM");
  EXPECT_EQ(report.model().source_kind(), "config");
  EXPECT_NE(report.verdict().exit_code(), 2) << report.verdict().summary();
  EXPECT_GT(report.targets_size(), 0);
}

TEST(ValidatorApiTest, ConfigGivenAsTheModelIsConfigOnly) {
  // As `wring check --model config.json`.
  EXPECT_EQ(Check(testing::ReadFileOrFail(kLlamaConfigPath), "", ""), Check("", testing::ReadFileOrFail(kLlamaConfigPath), ""));
}

TEST(ValidatorApiTest, SafetensorsHeadersMatchTheWholeFile) {
  size_t data_bytes = 0;
  const std::string header = LlamaShardHeader(&data_bytes);
  const std::string config = testing::ReadFileOrFail(kLlamaConfigPath);
  const std::string file = LengthPrefixed(header) + std::string(data_bytes, '\0');
  const std::string from_headers = CheckSafetensors(
      HeadersArgument("model.safetensors", header, file.size()), config, "");
  report::CheckReport report = ParseReport(from_headers);
  EXPECT_EQ(report.model().source_kind(), "safetensors");
  EXPECT_NE(report.verdict().exit_code(), 2) << report.verdict().summary();
  // Bytes of the whole file through Check give the same report.
  EXPECT_EQ(from_headers, Check(file, config, ""));
}

TEST(ValidatorApiTest, EmptyRecipeIsTheDefaultRecipe) {
  const std::string config = testing::ReadFileOrFail(kLlamaConfigPath);
  report::CheckReport implicit = ParseReport(Check("", config, ""));
  report::CheckReport explicit_default = ParseReport(Check("", config, DefaultRecipe()));
  EXPECT_TRUE(implicit.recipe().is_default());
  EXPECT_FALSE(explicit_default.recipe().is_default());
  EXPECT_EQ(implicit.verdict().summary(), explicit_default.verdict().summary());
  EXPECT_EQ(implicit.verdict().exit_code(), 0);
  ASSERT_EQ(implicit.targets_size(), explicit_default.targets_size());
  for (int i = 0; i < implicit.targets_size(); ++i) {
    EXPECT_EQ(implicit.targets(i), explicit_default.targets(i));
  }
  EXPECT_TRUE(ParseRecipe(DefaultRecipe(), "default").ok());
}

TEST(ValidatorApiTest, ProfileCheckTimesTheSameCheck) {
  CheckTimings t = ProfileCheck("", testing::ReadFileOrFail(kLlamaConfigPath), "");
  EXPECT_EQ(t.exit_code, 0);
  EXPECT_EQ(t.modules, 423);
  EXPECT_EQ(t.resolved_awq_mappings, 96);  // v_proj -> o_proj skipped (GQA)
  EXPECT_GT(t.resolve_ms, 0);
  EXPECT_GE(t.total_ms, t.read_model_ms + t.resolve_ms + t.report_ms);
  auto json = ParseJson(CheckTimingsToJson(t), "timings");
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ((*json)["modules"], 423);
  CheckTimings bad = ProfileCheck("{", "", "");
  EXPECT_EQ(bad.exit_code, 2);
}

TEST(ValidatorApiTest, NoModelAtAll) { ExpectUnusable(Check("", "", ""), "no model given"); }

TEST(ValidatorApiTest, MalformedModelJson) {
  ExpectUnusable(Check("{\"modules\": [", "", ""), "model");
}

TEST(ValidatorApiTest, MalformedConfigJson) {
  ExpectUnusable(Check("lm_head\n", "{\"architectures\": ", ""), "config.json");
  ExpectUnusable(Check("lm_head\n", "[1, 2]", ""), "config.json must be a JSON object");
}

TEST(ValidatorApiTest, UnknownArchitectureFromConfigListsTheKnownOnes) {
  const std::string json = Check("", R"({"architectures": ["NoSuchForCausalLM"]})", "");
  ExpectUnusable(json, "NoSuchForCausalLM");
  ExpectUnusable(json, KnownArchitectures().front());
}

TEST(ValidatorApiTest, MalformedYamlRecipe) {
  ExpectUnusable(Check("", testing::ReadFileOrFail(kLlamaConfigPath), "quant_stage:\n  quant_modifiers: [\n"),
                 "recipe:");
}

TEST(ValidatorApiTest, InvalidRegexInRecipe) {
  const std::string recipe =
      "quant_stage:\n  quant_modifiers:\n    QuantizationModifier:\n"
      "      targets: [\"Linear\"]\n      scheme: W4A16\n"
      "      ignore: [\"re:model.layers.(0\"]\n";
  ExpectUnusable(Check("", testing::ReadFileOrFail(kLlamaConfigPath), recipe), "re:model.layers.(0");
}

TEST(ValidatorApiTest, PythonOnlyRegexInRecipe) {
  const std::string recipe =
      "quant_stage:\n  quant_modifiers:\n    QuantizationModifier:\n"
      "      targets: [\"Linear\"]\n      scheme: W4A16\n"
      "      ignore: [\"re:.*(?<!mlp)\\\\.down_proj$\"]\n";
  ExpectUnusable(Check("", testing::ReadFileOrFail(kLlamaConfigPath), recipe), "(?<!");
}

TEST(ValidatorApiTest, MalformedSafetensorsHeaders) {
  const std::string config = testing::ReadFileOrFail(kLlamaConfigPath);
  ExpectUnusable(CheckSafetensors("{", config, ""), "safetensors headers");
  ExpectUnusable(CheckSafetensors("[]", config, ""), "non-empty JSON array");
  ExpectUnusable(CheckSafetensors(R"([{"header": "{}", "size": 10}])", config, ""), ".name");
  ExpectUnusable(CheckSafetensors(R"([{"name": "a.safetensors", "size": 10}])", config, ""),
                 ".header");
  ExpectUnusable(
      CheckSafetensors(R"([{"name": "a.safetensors", "header": "{}", "size": -1}])", config, ""),
      ".size");
  // Header text that is not JSON, and offsets past the end of the file.
  ExpectUnusable(CheckSafetensors(HeadersArgument("bad.safetensors", "{not json", 100), config, ""),
                 "bad.safetensors");
  size_t data_bytes = 0;
  const std::string header = LlamaShardHeader(&data_bytes);
  ExpectUnusable(
      CheckSafetensors(HeadersArgument("short.safetensors", header, 8 + header.size()), config,
                       ""),
      "short.safetensors");
}

TEST(ValidatorApiTest, KnownArchitecturesAndVersion) {
  auto names = ParseJson(KnownArchitecturesJson(), "known");
  ASSERT_TRUE(names.ok());
  ASSERT_TRUE(names->is_array());
  ASSERT_EQ(names->size(), KnownArchitectures().size());
  for (size_t i = 0; i < names->size(); ++i) {
    EXPECT_EQ((*names)[i], KnownArchitectures()[i]);
  }
  EXPECT_EQ(ParseReport(Check("", "", "")).wring_version(), Version());
  EXPECT_FALSE(Version().empty());
}

}  // namespace
}  // namespace validator
}  // namespace mapping
}  // namespace wring
