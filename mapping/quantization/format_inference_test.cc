#include "mapping/quantization/format_inference.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace wring {
namespace mapping {
namespace {

using Written = wring::recipe::QuantizationArgs;

// The scheme llm-compressor's test_correct_compressor_inferred builds from
// "W{w}A{a}": channel weights, tensor inputs when a < 16.
QuantizationScheme StyleScheme(int weight_bits, int act_bits, const char* type) {
  QuantizationScheme scheme;
  scheme.targets = {"Linear"};
  Written w;
  w.set_num_bits(weight_bits);
  w.set_type(type);
  w.set_strategy("channel");
  w.set_symmetric(true);
  scheme.weights = *ValidateQuantizationArgs(w);
  if (act_bits < 16) {
    Written a;
    a.set_num_bits(act_bits);
    a.set_type(type);
    a.set_strategy("tensor");
    a.set_symmetric(true);
    scheme.input_activations = *ValidateQuantizationArgs(a);
  }
  return scheme;
}

std::string Inferred(const QuantizationScheme& scheme, bool linear = true) {
  return std::string(CompressionFormatName(InferModuleFormat(linear, scheme)));
}

std::string Preset(const char* name) { return Inferred(*PresetScheme(name, {"Linear"})); }

TEST(FormatInferenceTest, UpstreamCompressorTable) {
  EXPECT_EQ(Inferred(StyleScheme(8, 8, "int")), "int-quantized");
  EXPECT_EQ(Inferred(StyleScheme(4, 16, "int")), "pack-quantized");
  EXPECT_EQ(Inferred(StyleScheme(8, 16, "int")), "pack-quantized");
  EXPECT_EQ(Inferred(StyleScheme(8, 8, "float")), "float-quantized");
  EXPECT_EQ(Inferred(StyleScheme(8, 16, "float")), "naive-quantized");
}

TEST(FormatInferenceTest, Presets) {
  EXPECT_EQ(Preset("W4A16"), "pack-quantized");
  EXPECT_EQ(Preset("W4A16_ASYM"), "pack-quantized");
  EXPECT_EQ(Preset("W8A16"), "pack-quantized");
  EXPECT_EQ(Preset("W3A16"), "pack-quantized");
  EXPECT_EQ(Preset("W8A8"), "int-quantized");
  EXPECT_EQ(Preset("W4A8"), "int-quantized");  // int4 weights stored unpacked
  EXPECT_EQ(Preset("W2A4"), "int-quantized");
  EXPECT_EQ(Preset("W4AFP8"), "int-quantized");
  EXPECT_EQ(Preset("FP8"), "float-quantized");
  EXPECT_EQ(Preset("FP8_DYNAMIC"), "float-quantized");
  EXPECT_EQ(Preset("FP8_BLOCK"), "float-quantized");
  EXPECT_EQ(Preset("NVFP4"), "nvfp4-pack-quantized");
  EXPECT_EQ(Preset("NVFP4A16"), "nvfp4-pack-quantized");
  EXPECT_EQ(Preset("MXFP4"), "mxfp4-pack-quantized");
  EXPECT_EQ(Preset("MXFP4A16"), "mxfp4-pack-quantized");
  EXPECT_EQ(Preset("MXFP8"), "mxfp8-quantized");
  EXPECT_EQ(Preset("MXFP8A16"), "mxfp8-quantized");
  EXPECT_EQ(Preset("UNQUANTIZED"), "dense");
}

TEST(FormatInferenceTest, OnlyExactLinearOrEmbeddingIsCompressed) {
  auto scheme = *PresetScheme("W4A16", {"Linear"});
  EXPECT_EQ(Inferred(scheme, /*linear=*/false), "dense");
  Module linear{"a", "Linear", {"Linear", "Module"}};
  Module subclass{"b", "LoraLinear", {"LoraLinear", "Linear", "Module"}};
  Module embedding{"c", "Embedding", {"Embedding", "Module"}};
  EXPECT_TRUE(IsCompressibleModuleType(linear));
  EXPECT_TRUE(IsCompressibleModuleType(embedding));
  EXPECT_FALSE(IsCompressibleModuleType(subclass));
}

TEST(FormatInferenceTest, Fp8WeightsWithGroup32NeedUint8ScalesForMxfp8) {
  QuantizationScheme scheme;
  Written w;
  w.set_type("float");
  w.set_group_size(32);
  scheme.weights = *ValidateQuantizationArgs(w);
  EXPECT_EQ(Inferred(scheme), "naive-quantized");
  w.set_scale_dtype("uint8");
  scheme.weights = *ValidateQuantizationArgs(w);
  EXPECT_EQ(Inferred(scheme), "mxfp8-quantized");
}

TEST(FormatInferenceTest, OverridesAndModelSummary) {
  auto scheme = *PresetScheme("W4A16", {"Linear"});
  EXPECT_EQ(ResolveModuleFormat(true, scheme, absl::nullopt), CompressionFormat::kPackQuantized);
  scheme.format = CompressionFormat::kNaiveQuantized;
  EXPECT_EQ(ResolveModuleFormat(true, scheme, absl::nullopt), CompressionFormat::kNaiveQuantized);
  EXPECT_EQ(ResolveModuleFormat(true, scheme, CompressionFormat::kDense),
            CompressionFormat::kDense);

  EXPECT_EQ(SummarizeModelFormat({}), CompressionFormat::kDense);
  EXPECT_EQ(SummarizeModelFormat({CompressionFormat::kDense}), CompressionFormat::kDense);
  EXPECT_EQ(SummarizeModelFormat({CompressionFormat::kPackQuantized, CompressionFormat::kDense,
                                  CompressionFormat::kPackQuantized}),
            CompressionFormat::kPackQuantized);
  EXPECT_EQ(SummarizeModelFormat({CompressionFormat::kPackQuantized,
                                  CompressionFormat::kFloatQuantized}),
            CompressionFormat::kMixedPrecision);
}

}  // namespace
}  // namespace mapping
}  // namespace wring
