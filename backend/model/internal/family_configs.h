// The config readers of the families wring runs: each fills a ModelConfig
// (sizes, block kinds per layer, biases, norms, RoPE, windows, experts) from
// its config.json fields with the transformers 5.17 config class's defaults.
#ifndef WRING_BACKEND_MODEL_INTERNAL_FAMILY_CONFIGS_H_
#define WRING_BACKEND_MODEL_INTERNAL_FAMILY_CONFIGS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "backend/model/config.h"
#include "backend/model/internal/config_fields.h"

namespace wring {
namespace backend {
namespace model {
namespace internal {

struct FamilyReader {
  const char* model_type;
  bool default_tie_word_embeddings;
  // Fills everything but model_type, architectures, module_prefix, dtype and
  // tie_word_embeddings; `layers` gets num_hidden_layers entries.
  absl::Status (*read)(const FieldReader& fields, ModelConfig& config);
};

// nullptr when wring does not run the family.
const FamilyReader* FindFamily(absl::string_view model_type);
std::vector<std::string> FamilyModelTypes();

}  // namespace internal
}  // namespace model
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_MODEL_INTERNAL_FAMILY_CONFIGS_H_
