// compressed-tensors QuantizationArgs (the release tools/reference pins): how
// one tensor (weights, input or output activations, KV cache) is quantized,
// after pydantic validation.
//
// A recipe states only some fields; compressed-tensors fills in the rest
// (strategy from group_size, zp_dtype) and rejects contradictory
// combinations. Since 0.19 it leaves `observer` as written: the modifier
// (quantization_config.h) or the calibration code picks the default. ValidateQuantizationArgs runs those validators
// in upstream's order with upstream's messages, so wring's effective args and
// errors are the ones llm-compressor would produce. ToJson writes the dict
// compressed-tensors serializes into config.json's quantization_config.
#ifndef WRING_MAPPING_QUANTIZATION_QUANTIZATION_ARGS_H_
#define WRING_MAPPING_QUANTIZATION_QUANTIZATION_ARGS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "mapping/base/json.h"
#include "mapping/proto/recipe.pb.h"

namespace wring {
namespace mapping {

enum class QuantizationType { kInt, kFloat };

enum class QuantizationStrategy {
  kTensor,
  kChannel,
  kGroup,
  kBlock,
  kToken,
  kTensorGroup,
  kAttnHead,
};

// `dynamic`: False, True or "local" (only local qparams are dynamic; NVFP4).
enum class DynamicMode { kStatic, kDynamic, kLocal };

// Upstream keeps the alias that was written ("dynamic" stays "dynamic" in
// config.json) and compares through the alias table (dynamic == group,
// static == weight).
enum class ActivationOrdering { kGroup, kWeight, kDynamic, kStatic };

// "int" / "float", "tensor" / "tensor_group" / ..., as upstream spells them.
absl::string_view QuantizationTypeName(QuantizationType type);
absl::string_view QuantizationStrategyName(QuantizationStrategy strategy);
absl::string_view ActivationOrderingName(ActivationOrdering actorder);
// True for group and its alias dynamic.
bool IsGroupActorder(ActivationOrdering actorder);

struct QuantizationArgs {
  int num_bits = 8;
  QuantizationType type = QuantizationType::kInt;
  bool symmetric = true;
  absl::optional<int> group_size;
  QuantizationStrategy strategy = QuantizationStrategy::kTensor;
  // [rows, cols]; set exactly when strategy is block.
  std::vector<int> block_structure;
  DynamicMode dynamic = DynamicMode::kStatic;
  absl::optional<ActivationOrdering> actorder;
  // Observer registry name ("memoryless_minmax", "static_minmax", ...);
  // none for fully dynamic args.
  absl::optional<std::string> observer;
  // Observer constructor kwargs, each value as its YAML scalar text.
  std::map<std::string, std::string> observer_kwargs;
  // Canonical torch dtype names without the "torch." prefix ("float8_e4m3fn").
  absl::optional<std::string> scale_dtype;
  std::string zp_dtype;  // always filled in by validation
  // Upstream stores an inferred strategy as an enum member, which Python
  // 3.11+ formats as "QuantizationStrategy.CHANNEL" in messages, while a
  // written one stays the plain string "channel".
  bool strategy_was_inferred = false;

  bool is_dynamic() const { return dynamic != DynamicMode::kStatic; }
};

// Field-for-field equality as pydantic's == sees it (strategy_was_inferred
// is bookkeeping and ignored).
bool operator==(const QuantizationArgs& a, const QuantizationArgs& b);
inline bool operator!=(const QuantizationArgs& a, const QuantizationArgs& b) {
  return !(a == b);
}

// QuantizationArgs(**written): the field validators, then
// validate_model_after. Errors are InvalidArgument with compressed-tensors'
// ValueError text (Unimplemented for its NotImplementedError). Validation
// logs nothing in the pinned release; `warnings` receives what it would.
absl::StatusOr<QuantizationArgs> ValidateQuantizationArgs(
    const wring::recipe::QuantizationArgs& written,
    std::vector<std::string>* warnings = nullptr);

// A JSON object of QuantizationArgs fields (model_dump(mode="json") or a
// subset, as tools/reference writes them) as a written recipe value; null
// fields are left unset. For generated data and test vectors.
absl::StatusOr<wring::recipe::QuantizationArgs> WrittenArgsFromJson(const Json& fields);

// args.model_dump() as a written recipe value, so that it can be validated
// again with one field changed (llm-compressor's observer overrides do
// exactly this). zp_dtype is dropped for symmetric args, as upstream's
// serializer drops it.
wring::recipe::QuantizationArgs ToWrittenArgs(const QuantizationArgs& args);

// The JSON object compressed-tensors writes for these args (pydantic field
// order; config.json sorts keys anyway): "strategy": "group",
// "dynamic": false | true | "local", "zp_dtype": null when symmetric, dtypes
// as "torch.xxx".
Json QuantizationArgsToJson(const QuantizationArgs& args);

// The legacy "AxB" block_structure string ("128x128") as [A, B], with
// upstream's error for anything else. For recipe parsers.
absl::StatusOr<std::vector<int>> ParseBlockStructureString(absl::string_view text);

// A torch dtype name as TorchDtype accepts it ("torch.float16", "half",
// "float8_e4m3fn") -> its canonical name without "torch." ("float16").
absl::StatusOr<std::string> CanonicalTorchDtype(absl::string_view name);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_QUANTIZATION_QUANTIZATION_ARGS_H_
