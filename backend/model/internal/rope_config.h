// Reading RoPE parameters from config.json as transformers 5.17 standardizes
// them (rope_parameters, legacy rope_scaling, top-level rope_theta and
// partial_rotary_factor), for the family config readers.
#ifndef WRING_BACKEND_MODEL_INTERNAL_ROPE_CONFIG_H_
#define WRING_BACKEND_MODEL_INTERNAL_ROPE_CONFIG_H_

#include "absl/status/status.h"
#include "backend/model/config.h"
#include "backend/model/internal/config_fields.h"

namespace wring {
namespace backend {
namespace model {
namespace internal {

struct RopeDefaults {
  double theta = 10000.0;
  double partial_rotary_factor = 1.0;
  // Whether the family's attention rotates only the leading rotary_dim dims;
  // the others reject partial_rotary_factor != 1.
  bool allows_partial = false;
};

// Sets config.rope_theta, rope_scaling and rotary_dim (head_dim must be set).
absl::Status ReadRope(const FieldReader& fields, ModelConfig& config, const RopeDefaults& defaults);

// Gemma3: one set per layer type (rope_parameters.full_attention /
// .sliding_attention, or legacy rope_scaling + rope_theta +
// rope_local_base_freq); sets the full set and config.sliding_rope.
absl::Status ReadGemma3Rope(const FieldReader& fields, ModelConfig& config);

}  // namespace internal
}  // namespace model
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_MODEL_INTERNAL_ROPE_CONFIG_H_
