#include "mapping/quantization/quantization_scheme.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mapping/base/json.h"

namespace wring {
namespace mapping {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

TEST(PresetSchemeTest, NamesAreCaseInsensitive) {
  EXPECT_TRUE(IsPresetScheme("w4a16"));
  EXPECT_TRUE(IsPresetScheme("Fp8_Dynamic"));
  EXPECT_FALSE(IsPresetScheme("W4A32"));
  auto lower = PresetScheme("nvfp4", {"re:.*proj$"});
  ASSERT_TRUE(lower.ok());
  EXPECT_EQ(*lower, *PresetScheme("NVFP4", {"re:.*proj$"}));
}

TEST(PresetSchemeTest, UnknownNameListsAvailableNames) {
  auto scheme = PresetScheme("w4a32", {"Linear"});
  ASSERT_FALSE(scheme.ok());
  EXPECT_EQ(scheme.status().message(),
            "Unknown preset scheme name W4A32, available names: ['UNQUANTIZED', 'W4A16_ASYM', "
            "'W8A8', 'INT8', 'W4AFP8', 'FP8', 'FP8_DYNAMIC', 'FP8_BLOCK', 'NVFP4A16', 'NVFP4', "
            "'MXFP4A16', 'MXFP4', 'MXFP8A16', 'MXFP8', 'W2A4', 'W2A8', 'W2A16', 'W3A4', "
            "'W3A8', 'W3A16', 'W4A4', 'W4A8', 'W4A16', 'W5A8', 'W5A16', 'W6A8', 'W6A16', "
            "'W7A8', 'W7A16', 'W8A16']");
}

wring::recipe::QuantizationScheme WrittenScheme() {
  wring::recipe::QuantizationScheme w;
  w.add_targets("Linear");
  w.mutable_weights()->set_num_bits(4);
  w.mutable_weights()->set_group_size(128);
  return w;
}

TEST(QuantizationSchemeTest, ValidatesArgsAndFormat) {
  auto w = WrittenScheme();
  w.set_format("pack-quantized");
  auto scheme = ValidateQuantizationScheme(w);
  ASSERT_TRUE(scheme.ok()) << scheme.status();
  EXPECT_EQ(scheme->weights->strategy, QuantizationStrategy::kGroup);
  EXPECT_EQ(scheme->format, CompressionFormat::kPackQuantized);
  EXPECT_FALSE(scheme->input_activations.has_value());

  w.set_format("mixed-precision");
  EXPECT_EQ(ValidateQuantizationScheme(w).status().message(),
            "mixed-precision cannot be set as a format for a QuantizationScheme");
  w.set_format("packed");
  EXPECT_THAT(std::string(ValidateQuantizationScheme(w).status().message()),
              HasSubstr("Input should be 'dense', 'sparse-bitmask'"));

  auto bad_args = WrittenScheme();
  bad_args.mutable_weights()->set_strategy("tensor");
  EXPECT_EQ(ValidateQuantizationScheme(bad_args).status().message(),
            "group_size requires strategy to be set to 'group'");
}

TEST(QuantizationSchemeTest, ActivationRules) {
  auto w = WrittenScheme();
  w.mutable_input_activations()->set_strategy("channel");
  auto channel = ValidateQuantizationScheme(w);
  EXPECT_EQ(channel.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(channel.status().message(),
            "Using channel strategy is not supported for activation quantization");

  // An inferred strategy is an enum member and prints with its class name.
  w.mutable_input_activations()->clear_strategy();
  w.mutable_input_activations()->set_group_size(-1);
  EXPECT_EQ(ValidateQuantizationScheme(w).status().message(),
            "Using QuantizationStrategy.CHANNEL strategy is not supported for activation "
            "quantization");

  auto actorder = WrittenScheme();
  actorder.mutable_input_activations()->set_group_size(128);
  actorder.mutable_input_activations()->set_actorder("weight");
  EXPECT_EQ(ValidateQuantizationScheme(actorder).status().message(),
            "Cannot apply actorder to input activations");
  auto output = WrittenScheme();
  output.mutable_output_activations()->set_actorder("static");
  EXPECT_EQ(ValidateQuantizationScheme(output).status().message(),
            "Cannot apply actorder to output activations");

  auto groups = WrittenScheme();
  groups.mutable_input_activations()->set_group_size(64);
  groups.mutable_input_activations()->set_dynamic("true");
  std::vector<std::string> warnings;
  ASSERT_TRUE(ValidateQuantizationScheme(groups, &warnings).ok());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], HasSubstr("different group sizes (128 vs 64)"));
}

TEST(QuantizationSchemeTest, JsonHasSchemeFieldsInOrder) {
  auto scheme = PresetScheme("W4A16", {"Linear"});
  ASSERT_TRUE(scheme.ok());
  Json json = QuantizationSchemeToJson(*scheme);
  std::vector<std::string> keys;
  for (auto it = json.begin(); it != json.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"targets", "weights", "input_activations",
                                            "output_activations", "format"}));
  EXPECT_EQ(json["weights"]["strategy"], "group");
  EXPECT_EQ(json["weights"]["group_size"], 128);
  EXPECT_TRUE(json["input_activations"].is_null());
  EXPECT_TRUE(json["format"].is_null());
}

}  // namespace
}  // namespace mapping
}  // namespace wring
