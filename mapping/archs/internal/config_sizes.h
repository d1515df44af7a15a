// Reads the sizes and flags a family's module tables are written in from
// config.json, applying transformers' config-class defaults where a field is
// optional and naming the field when one is missing or malformed.
#ifndef WRING_MAPPING_ARCHS_INTERNAL_CONFIG_SIZES_H_
#define WRING_MAPPING_ARCHS_INTERNAL_CONFIG_SIZES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mapping/archs/internal/family_table.h"
#include "mapping/base/json.h"

namespace wring {
namespace mapping {
namespace archs_internal {

// Upper bounds that keep a hostile config from asking for absurd trees.
inline constexpr int64_t kMaxLayers = 4096;
// Small enough that products of three sizes stay far from int64 overflow.
inline constexpr int64_t kMaxDimension = int64_t{1} << 24;

class ConfigSizes {
 public:
  // `config` must outlive this object.
  ConfigSizes(const Json& config, const FamilySpec& family, absl::string_view source);

  // Each field is read once, on first use, so a family only requires the
  // fields its modules need.
  absl::StatusOr<int64_t> Get(Size size);
  absl::StatusOr<bool> HasBias(Bias bias);
  // MRO of the MLP activation module chosen by the family's activation key.
  absl::StatusOr<std::string> ActivationMro();
  absl::StatusOr<bool> TieWordEmbeddings();
  absl::StatusOr<int64_t> NumHiddenLayers();
  // Whether layer `index` gets the sparse MoE block (MoePlacement rules).
  absl::StatusOr<bool> IsSparseLayer(int64_t index);
  // Per-layer "full_attention"/"linear_attention" (families with a linear
  // attention block only).
  absl::StatusOr<std::vector<std::string>> LayerTypes();

  // What was defaulted, for ModelInput::notes, in first-use order.
  const std::vector<std::string>& defaults_applied() const { return defaults_applied_; }

 private:
  absl::StatusOr<int64_t> RequiredInt(absl::string_view key, int64_t max = kMaxDimension);
  // Absent or null: `fallback`, recorded as a default.
  absl::StatusOr<int64_t> OptionalInt(absl::string_view key, int64_t fallback,
                                      absl::string_view fallback_reason,
                                      int64_t min = 1);
  absl::StatusOr<bool> OptionalBool(absl::string_view key, bool fallback);
  absl::StatusOr<int64_t> HeadDim();
  absl::StatusOr<int64_t> KeyValueHeads();
  absl::StatusOr<int64_t> NumExperts();
  absl::Status FieldError(absl::string_view key, absl::string_view problem) const;
  void NoteDefault(absl::string_view key, absl::string_view value, absl::string_view why);

  const Json& config_;
  const FamilySpec& family_;
  std::string source_;
  absl::flat_hash_map<std::string, int64_t> ints_;
  std::vector<int64_t> mlp_only_layers_;
  bool mlp_only_layers_read_ = false;
  std::vector<std::string> defaults_applied_;
};

}  // namespace archs_internal
}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_ARCHS_INTERNAL_CONFIG_SIZES_H_
