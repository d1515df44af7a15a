// compressed-tensors' CompressionFormat: how a quantized module is stored on
// disk (config.json `format`, per scheme and for the whole model).
#ifndef WRING_MAPPING_QUANTIZATION_COMPRESSION_FORMAT_H_
#define WRING_MAPPING_QUANTIZATION_COMPRESSION_FORMAT_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace wring {
namespace mapping {

// In upstream's declaration order.
enum class CompressionFormat {
  kDense,
  kSparseBitmask,
  kSparse24Bitmask,
  kIntQuantized,
  kFloatQuantized,
  kNaiveQuantized,
  kPackQuantized,
  kMarlin24,
  kMixedPrecision,
  kNvfp4PackQuantized,
  kMxfp4PackQuantized,
  kMxfp8Quantized,
};

// The value written to config.json: "pack-quantized", "nvfp4-pack-quantized", ...
absl::string_view CompressionFormatName(CompressionFormat format);

const std::vector<CompressionFormat>& AllCompressionFormats();

// CompressionFormat(value); an unknown value gets pydantic's enum message
// ("Input should be 'dense', 'sparse-bitmask', ... or 'mxfp8-quantized'").
absl::StatusOr<CompressionFormat> ParseCompressionFormat(absl::string_view value);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_QUANTIZATION_COMPRESSION_FORMAT_H_
