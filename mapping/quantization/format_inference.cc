#include "mapping/quantization/format_inference.h"

#include "absl/container/flat_hash_set.h"

namespace wring {
namespace mapping {
namespace {

bool IsFloat(const QuantizationArgs& args) { return args.type == QuantizationType::kFloat; }
bool IsInt(const QuantizationArgs& args) { return args.type == QuantizationType::kInt; }

// Each compressor's can_compress, for a compressible module type.
bool CanCompress(CompressionFormat format, const QuantizationScheme& scheme) {
  const auto& w = scheme.weights;
  const auto& in = scheme.input_activations;
  switch (format) {
    case CompressionFormat::kMxfp4PackQuantized:
      return w && w->num_bits == 4 && IsFloat(*w) && w->group_size == 32;
    case CompressionFormat::kMxfp8Quantized:
      return w && w->num_bits == 8 && IsFloat(*w) && w->group_size == 32 &&
             w->scale_dtype == std::string("uint8");
    case CompressionFormat::kNvfp4PackQuantized:
      return w && w->num_bits == 4 && IsFloat(*w) && w->group_size == 16;
    case CompressionFormat::kIntQuantized:
      return in && w && IsInt(*w);
    case CompressionFormat::kPackQuantized:
      if (in && IsFloat(*in)) return false;
      return w && w->num_bits >= 1 && w->num_bits <= 8 && IsInt(*w);
    case CompressionFormat::kFloatQuantized:
      return in && w && IsFloat(*w);
    case CompressionFormat::kNaiveQuantized:
      return w.has_value();
    default:
      return true;
  }
}

}  // namespace

const std::vector<CompressionFormat>& CompressionFormatPriority() {
  static const auto* priority = new std::vector<CompressionFormat>{
      CompressionFormat::kMxfp4PackQuantized, CompressionFormat::kMxfp8Quantized,
      CompressionFormat::kNvfp4PackQuantized, CompressionFormat::kIntQuantized,
      CompressionFormat::kPackQuantized,      CompressionFormat::kFloatQuantized,
      CompressionFormat::kNaiveQuantized,     CompressionFormat::kDense};
  return *priority;
}

bool IsCompressibleModuleType(const Module& module) {
  return module.class_name == "Linear" || module.class_name == "Embedding";
}

CompressionFormat InferModuleFormat(bool compressible_module_type,
                                    const QuantizationScheme& scheme) {
  // Every format but dense requires a Linear or Embedding.
  if (!compressible_module_type) return CompressionFormat::kDense;
  for (CompressionFormat format : CompressionFormatPriority()) {
    if (CanCompress(format, scheme)) return format;
  }
  return CompressionFormat::kDense;
}

CompressionFormat ResolveModuleFormat(bool compressible_module_type,
                                      const QuantizationScheme& scheme,
                                      const absl::optional<CompressionFormat>& override_format) {
  if (override_format) return *override_format;
  if (scheme.format) return *scheme.format;
  return InferModuleFormat(compressible_module_type, scheme);
}

CompressionFormat SummarizeModelFormat(const std::vector<CompressionFormat>& module_formats) {
  absl::flat_hash_set<CompressionFormat> formats;
  for (CompressionFormat format : module_formats) {
    if (format != CompressionFormat::kDense) formats.insert(format);
  }
  if (formats.empty()) return CompressionFormat::kDense;
  if (formats.size() == 1) return *formats.begin();
  return CompressionFormat::kMixedPrecision;
}

}  // namespace mapping
}  // namespace wring
