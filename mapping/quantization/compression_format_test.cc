#include "mapping/quantization/compression_format.h"

#include <string>

#include "gtest/gtest.h"

namespace wring {
namespace mapping {
namespace {

TEST(CompressionFormatTest, NamesRoundTrip) {
  for (CompressionFormat format : AllCompressionFormats()) {
    auto parsed = ParseCompressionFormat(CompressionFormatName(format));
    ASSERT_TRUE(parsed.ok()) << CompressionFormatName(format);
    EXPECT_EQ(*parsed, format);
  }
  EXPECT_EQ(CompressionFormatName(CompressionFormat::kNvfp4PackQuantized),
            "nvfp4-pack-quantized");
  EXPECT_EQ(AllCompressionFormats().size(), 12u);
}

TEST(CompressionFormatTest, UnknownValueListsAllowedValues) {
  auto parsed = ParseCompressionFormat("int_quantized");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().message(),
            "Input should be 'dense', 'sparse-bitmask', 'sparse-24-bitmask', 'int-quantized', "
            "'float-quantized', 'naive-quantized', 'pack-quantized', 'marlin-24', "
            "'mixed-precision', 'nvfp4-pack-quantized', 'mxfp4-pack-quantized' or "
            "'mxfp8-quantized'");
}

}  // namespace
}  // namespace mapping
}  // namespace wring
