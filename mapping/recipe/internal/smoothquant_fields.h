// Reading SmoothQuantModifier's (and LogarithmicEqualizationModifier's)
// fields into recipe.proto's SmoothQuantModifier.
#ifndef WRING_MAPPING_RECIPE_INTERNAL_SMOOTHQUANT_FIELDS_H_
#define WRING_MAPPING_RECIPE_INTERNAL_SMOOTHQUANT_FIELDS_H_

#include <string>

#include "absl/status/status.h"
#include "mapping/proto/recipe.pb.h"
#include "mapping/recipe/internal/value_reader.h"

namespace wring {
namespace mapping {
namespace recipe_internal {

// `modifier_name` decides the algorithm's default ("log_equalization" for
// LogarithmicEqualizationModifier).
absl::Status ParseSmoothQuant(const ValueReader& reader, int body_id, const std::string& path,
                              const std::string& modifier_name,
                              wring::recipe::SmoothQuantModifier* out);

}  // namespace recipe_internal
}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_RECIPE_INTERNAL_SMOOTHQUANT_FIELDS_H_
