#include "mapping/quantization/compression_format.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace wring {
namespace mapping {

absl::string_view CompressionFormatName(CompressionFormat format) {
  switch (format) {
    case CompressionFormat::kDense:
      return "dense";
    case CompressionFormat::kSparseBitmask:
      return "sparse-bitmask";
    case CompressionFormat::kSparse24Bitmask:
      return "sparse-24-bitmask";
    case CompressionFormat::kIntQuantized:
      return "int-quantized";
    case CompressionFormat::kFloatQuantized:
      return "float-quantized";
    case CompressionFormat::kNaiveQuantized:
      return "naive-quantized";
    case CompressionFormat::kPackQuantized:
      return "pack-quantized";
    case CompressionFormat::kMarlin24:
      return "marlin-24";
    case CompressionFormat::kMixedPrecision:
      return "mixed-precision";
    case CompressionFormat::kNvfp4PackQuantized:
      return "nvfp4-pack-quantized";
    case CompressionFormat::kMxfp4PackQuantized:
      return "mxfp4-pack-quantized";
    case CompressionFormat::kMxfp8Quantized:
      return "mxfp8-quantized";
  }
  return "";
}

const std::vector<CompressionFormat>& AllCompressionFormats() {
  static const auto* formats = new std::vector<CompressionFormat>{
      CompressionFormat::kDense,           CompressionFormat::kSparseBitmask,
      CompressionFormat::kSparse24Bitmask, CompressionFormat::kIntQuantized,
      CompressionFormat::kFloatQuantized,  CompressionFormat::kNaiveQuantized,
      CompressionFormat::kPackQuantized,   CompressionFormat::kMarlin24,
      CompressionFormat::kMixedPrecision,  CompressionFormat::kNvfp4PackQuantized,
      CompressionFormat::kMxfp4PackQuantized, CompressionFormat::kMxfp8Quantized};
  return *formats;
}

absl::StatusOr<CompressionFormat> ParseCompressionFormat(absl::string_view value) {
  const auto& formats = AllCompressionFormats();
  for (CompressionFormat format : formats) {
    if (CompressionFormatName(format) == value) return format;
  }
  std::string expected;
  for (size_t i = 0; i < formats.size(); ++i) {
    if (i > 0) expected += i + 1 == formats.size() ? " or " : ", ";
    absl::StrAppend(&expected, "'", CompressionFormatName(formats[i]), "'");
  }
  return absl::InvalidArgumentError(absl::StrCat("Input should be ", expected));
}

}  // namespace mapping
}  // namespace wring
