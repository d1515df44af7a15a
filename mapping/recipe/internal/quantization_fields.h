// Reading compressed-tensors QuantizationArgs / QuantizationScheme and the
// QuantizationMixin fields of llm-compressor's quantization modifiers.
//
// Only shape, types and enum spellings are checked here; the semantic rules
// (strategy inference, preset names, scheme-vs-config_groups) belong to the
// validation in mapping/quantization.
#ifndef WRING_MAPPING_RECIPE_INTERNAL_QUANTIZATION_FIELDS_H_
#define WRING_MAPPING_RECIPE_INTERNAL_QUANTIZATION_FIELDS_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mapping/proto/recipe.pb.h"
#include "mapping/recipe/internal/value_reader.h"

namespace wring {
namespace mapping {
namespace recipe_internal {

absl::StatusOr<wring::recipe::QuantizationArgs> ParseQuantizationArgs(
    const ValueReader& reader, int id, absl::string_view path);

absl::StatusOr<wring::recipe::QuantizationScheme> ParseQuantizationScheme(
    const ValueReader& reader, int id, absl::string_view path);

// Reads `key: value` into `mixin` when `key` is a QuantizationMixin field;
// returns false (and leaves `mixin` alone) for any other key.
absl::StatusOr<bool> ReadMixinField(const ValueReader& reader, absl::string_view key,
                                    int value_id, absl::string_view path,
                                    wring::recipe::QuantizationMixin* mixin);

}  // namespace recipe_internal
}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_RECIPE_INTERNAL_QUANTIZATION_FIELDS_H_
