// compressed-tensors QuantizationScheme (one config group: the targets and
// how their weights / inputs / outputs are quantized) and the preset schemes
// a recipe can name (`scheme: W4A16`). The presets are data generated from
// the pinned release (mapping/quantization/data/preset_schemes.json,
// tools/reference/generate.py) and compiled in.
#ifndef WRING_MAPPING_QUANTIZATION_QUANTIZATION_SCHEME_H_
#define WRING_MAPPING_QUANTIZATION_QUANTIZATION_SCHEME_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "mapping/base/json.h"
#include "mapping/proto/recipe.pb.h"
#include "mapping/quantization/compression_format.h"
#include "mapping/quantization/quantization_args.h"

namespace wring {
namespace mapping {

struct QuantizationScheme {
  std::vector<std::string> targets;
  absl::optional<QuantizationArgs> weights;
  absl::optional<QuantizationArgs> input_activations;
  absl::optional<QuantizationArgs> output_activations;
  absl::optional<CompressionFormat> format;
};

bool operator==(const QuantizationScheme& a, const QuantizationScheme& b);
inline bool operator!=(const QuantizationScheme& a, const QuantizationScheme& b) {
  return !(a == b);
}

// QuantizationScheme.validate_model_after on already validated args:
// activation strategies, actorder on activations, mixed-precision format.
// Errors carry upstream's text (Unimplemented for its NotImplementedError).
// The GROUP/GROUP size-mismatch UserWarning goes to `warnings`.
absl::Status CheckQuantizationScheme(const QuantizationScheme& scheme,
                                     std::vector<std::string>* warnings = nullptr);

// QuantizationScheme(**written): each args validated, then the scheme rules.
absl::StatusOr<QuantizationScheme> ValidateQuantizationScheme(
    const wring::recipe::QuantizationScheme& written,
    std::vector<std::string>* warnings = nullptr);

// is_preset_scheme(name): case-insensitive.
bool IsPresetScheme(absl::string_view name);

// preset_name_to_scheme(name, targets). An unknown name fails NotFound with
// the text of upstream's KeyError: "Unknown preset scheme name NAME,
// available names: ['UNQUANTIZED', ...]".
absl::StatusOr<QuantizationScheme> PresetScheme(absl::string_view name,
                                                std::vector<std::string> targets);

// PRESET_SCHEMES keys, in upstream's order.
const std::vector<std::string>& ListPresetNames();

// scheme.model_dump() as config.json holds it: targets, weights,
// input_activations, output_activations, format (null when unset).
Json QuantizationSchemeToJson(const QuantizationScheme& scheme);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_QUANTIZATION_QUANTIZATION_SCHEME_H_
