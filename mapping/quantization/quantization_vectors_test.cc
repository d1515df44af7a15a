// wring's quantization validation against compressed-tensors' and
// llm-compressor's own answers (tools/reference/vectors.py wrote
// testdata/quantization_vectors.json with the pinned releases): every
// QuantizationArgs / QuantizationScheme case validates to the same
// model_dump() or fails with the same message, every preset builds the same
// scheme, and QuantizationModifier / GPTQModifier resolve the same config
// groups (observer defaults included).
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "gtest/gtest.h"
#include "mapping/base/json.h"
#include "mapping/quantization/quantization_args.h"
#include "mapping/quantization/quantization_config.h"
#include "mapping/quantization/quantization_scheme.h"
#include "mapping/recipe/recipe_parser.h"
#include "mapping/testing/runfiles.h"

namespace wring {
namespace mapping {
namespace {

const Json& Vectors() {
  static const Json* vectors = [] {
    absl::StatusOr<Json> json = ParseJson(
        testing::ReadFileOrFail(
            testing::RunfilePath("mapping/quantization/testdata/quantization_vectors.json")),
        "quantization_vectors.json");
    EXPECT_TRUE(json.ok()) << json.status();
    return new Json(json.ok() ? *std::move(json) : Json::object());
  }();
  return *vectors;
}

// Key order means nothing in a dump (config.json sorts keys).
nlohmann::json Sorted(const Json& value) { return nlohmann::json::parse(value.dump()); }

// How upstream's exception maps onto an absl status code.
absl::StatusCode CodeOf(const Json& error) {
  return error["type"] == "NotImplementedError" ? absl::StatusCode::kUnimplemented
         : error["type"] == "KeyError"          ? absl::StatusCode::kNotFound
                                                : absl::StatusCode::kInvalidArgument;
}

// An error must match upstream's: the same text where a validator raised;
// for pydantic's own type errors, the same "Input should be ..." phrase.
void ExpectSameError(const absl::Status& status, const Json& error) {
  ASSERT_FALSE(status.ok()) << "upstream raised " << error.dump();
  EXPECT_EQ(status.code(), CodeOf(error)) << status;
  const std::string message = error["message"].get<std::string>();
  if (error["type"] == "ValidationError") {
    EXPECT_NE(std::string(status.message()).find(message), std::string::npos) << status;
  } else {
    EXPECT_EQ(status.message(), message);
  }
}

TEST(QuantizationVectorsTest, ArgsValidateLikeCompressedTensors) {
  int checked = 0;
  for (const Json& c : Vectors()["args"]) {
    SCOPED_TRACE(c["written"].dump());
    absl::StatusOr<wring::recipe::QuantizationArgs> written = WrittenArgsFromJson(c["written"]);
    ASSERT_TRUE(written.ok()) << written.status();
    absl::StatusOr<QuantizationArgs> args = ValidateQuantizationArgs(*written);
    if (c.contains("error")) {
      ExpectSameError(args.status(), c["error"]);
    } else {
      ASSERT_TRUE(args.ok()) << args.status();
      EXPECT_EQ(Sorted(QuantizationArgsToJson(*args)), Sorted(c["result"]));
    }
    ++checked;
  }
  EXPECT_GE(checked, 40);
}

absl::StatusOr<wring::recipe::QuantizationScheme> WrittenScheme(const Json& fields) {
  wring::recipe::QuantizationScheme written;
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    if (it.key() == "targets") {
      for (const Json& t : it.value()) written.add_targets(t.get<std::string>());
    } else if (it.key() == "format") {
      written.set_format(it.value().get<std::string>());
    } else {
      absl::StatusOr<wring::recipe::QuantizationArgs> args = WrittenArgsFromJson(it.value());
      if (!args.ok()) return args.status();
      if (it.key() == "weights") *written.mutable_weights() = *args;
      if (it.key() == "input_activations") *written.mutable_input_activations() = *args;
      if (it.key() == "output_activations") *written.mutable_output_activations() = *args;
    }
  }
  return written;
}

TEST(QuantizationVectorsTest, SchemesValidateLikeCompressedTensors) {
  int checked = 0;
  for (const Json& c : Vectors()["schemes"]) {
    SCOPED_TRACE(c["written"].dump());
    absl::StatusOr<wring::recipe::QuantizationScheme> written = WrittenScheme(c["written"]);
    ASSERT_TRUE(written.ok()) << written.status();
    std::vector<std::string> warnings;
    absl::StatusOr<QuantizationScheme> scheme = ValidateQuantizationScheme(*written, &warnings);
    if (c.contains("error")) {
      ExpectSameError(scheme.status(), c["error"]);
    } else {
      ASSERT_TRUE(scheme.ok()) << scheme.status();
      EXPECT_EQ(Sorted(QuantizationSchemeToJson(*scheme)), Sorted(c["result"]));
      EXPECT_EQ(Json(warnings), c.value("warnings", Json::array()));
    }
    ++checked;
  }
  EXPECT_GE(checked, 6);
}

TEST(QuantizationVectorsTest, PresetsAreCompressedTensorsPresets) {
  std::vector<std::string> upstream_names;
  for (const Json& c : Vectors()["presets"]) {
    const std::string name = c["name"].get<std::string>();
    SCOPED_TRACE(name);
    absl::StatusOr<QuantizationScheme> scheme = PresetScheme(name, {"Linear"});
    if (c.contains("error")) {
      ExpectSameError(scheme.status(), c["error"]);
      EXPECT_FALSE(IsPresetScheme(name));
    } else {
      ASSERT_TRUE(scheme.ok()) << scheme.status();
      EXPECT_EQ(Sorted(QuantizationSchemeToJson(*scheme)), Sorted(c["result"]));
      EXPECT_TRUE(IsPresetScheme(name));
      if (c["name"] == absl::AsciiStrToUpper(name)) upstream_names.push_back(name);
    }
  }
  // PRESET_SCHEMES' keys, in upstream's order (the vectors add a lower-case
  // lookup, which is not a key).
  EXPECT_EQ(ListPresetNames(), upstream_names);
}

// The recipe a vector's modifier fields make, parsed as a user's would be.
absl::StatusOr<wring::recipe::Recipe> RecipeFor(const Json& c) {
  Json recipe = {{"quant_stage", {{"quant_modifiers", {{c["modifier"], c["fields"]}}}}}};
  return ParseRecipe(recipe.dump(), "vector.json");
}

Json ResolvedJson(const ResolvedQuantizationConfig& config) {
  Json groups = Json::object();
  for (const NamedQuantizationScheme& group : config.config_groups) {
    groups[group.name] = QuantizationSchemeToJson(group.scheme);
  }
  return {{"config_groups", groups},
          {"kv_cache_scheme", config.kv_cache_scheme
                                  ? QuantizationArgsToJson(*config.kv_cache_scheme)
                                  : Json(nullptr)},
          {"ignore", config.ignore},
          {"requires_calibration_data", config.requires_calibration_data}};
}

TEST(QuantizationVectorsTest, ModifiersResolveLikeLlmCompressor) {
  int checked = 0;
  for (const Json& c : Vectors()["modifiers"]) {
    SCOPED_TRACE(c["modifier"].get<std::string>() + " " + c["fields"].dump());
    absl::StatusOr<wring::recipe::Recipe> recipe = RecipeFor(c);
    ASSERT_TRUE(recipe.ok()) << recipe.status();
    ASSERT_EQ(recipe->modifiers_size(), 1);
    const wring::recipe::Modifier& modifier = recipe->modifiers(0);
    absl::StatusOr<ResolvedQuantizationConfig> config =
        modifier.has_gptq() ? ResolveGptqModifier(modifier.gptq())
                            : ResolveQuantizationMixin(modifier.quantization());
    if (c.contains("error")) {
      ExpectSameError(config.status(), c["error"]);
    } else {
      ASSERT_TRUE(config.ok()) << config.status();
      EXPECT_EQ(Sorted(ResolvedJson(*config)), Sorted(c["result"]));
    }
    ++checked;
  }
  EXPECT_GE(checked, 25);
}

}  // namespace
}  // namespace mapping
}  // namespace wring
