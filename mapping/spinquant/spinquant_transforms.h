// The TransformConfig SpinQuantModifier builds (rotations R1..R4 as
// compressed-tensors TransformSchemes) and the checks apply_transform_config
// would fail when it places those transforms on a concrete model.
//
// A transform of size n is an n x n rotation (block-diagonal with blocks of
// `head_dim` when that is set); each targeted layer dictates n through its
// feature counts. Sizes that do not fit (a block size not dividing a layer,
// a non-power-of-two deterministic Hadamard) only surface upstream after the
// model is loaded and norms are fused; here they are found from the tree.
#ifndef WRING_MAPPING_SPINQUANT_SPINQUANT_TRANSFORMS_H_
#define WRING_MAPPING_SPINQUANT_SPINQUANT_TRANSFORMS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "mapping/base/json.h"
#include "mapping/proto/recipe.pb.h"
#include "mapping/spinquant/spinquant_mappings.h"
#include "mapping/tree/module_tree.h"

namespace wring {
namespace mapping {
namespace spinquant {

// compressed-tensors get_head_dim(config) on the top-level config (never
// text_config): `head_dim` when the key exists (null gives nullopt, as
// Python's None), else hidden_size // num_attention_heads, else
// ValueError("Cannot determine head_dim from config. ...").
absl::StatusOr<absl::optional<int64_t>> HeadDimFromConfig(const Json& config);

// SpinQuantModifier's arguments that shape the TransformConfig.
struct SpinQuantOptions {
  std::vector<std::string> rotations = {"R1", "R2"};  // upper-cased upstream
  std::string transform_type = "hadamard";            // | "random-hadamard" | "random-matrix"
  bool randomize = false;                             // True raises NotImplementedError
  bool learnable = false;                             // True raises NotImplementedError
  // TorchDtype as serialized; get_high_precision() is float64 off Apple MPS.
  std::string precision = "torch.float64";
  absl::optional<int64_t> transform_block_size;
};

// The options a recipe's SpinQuantModifier sets, defaults for the rest.
SpinQuantOptions SpinQuantOptionsFromRecipe(const recipe::SpinQuantModifier& modifier);

// The validators' errors: NotImplementedError("{field} is not supported as of
// now") as Unimplemented, an unknown rotation or transform type (pydantic
// ValidationError upstream) as InvalidArgument naming the value.
absl::Status ValidateSpinQuantOptions(const SpinQuantOptions& options);

// compressed-tensors TransformArgs / TransformScheme / TransformConfig.
struct TransformArgs {
  std::vector<std::string> targets;
  std::string location;  // "weight_output", "weight_input", "input", "q_attn", "k_cache"
  bool inverse = false;
  std::vector<std::string> ignore;
};
struct TransformScheme {
  std::string type;
  std::vector<TransformArgs> apply;
  bool randomize = false;
  bool requires_grad = false;
  absl::optional<int64_t> head_dim;
  std::string precision;
};
struct TransformConfig {
  // Only the requested rotations, always in R1, R2, R3, R4 order.
  std::vector<std::pair<std::string, TransformScheme>> config_groups;
};

// What on_initialize builds. R1/R4 use transform_block_size, R2/R3 the
// model head dim (which may be absent: full-size rotations then).
absl::StatusOr<TransformConfig> BuildTransformConfig(const SpinQuantMapping& mapping,
                                                     const SpinQuantOptions& options,
                                                     absl::optional<int64_t> model_head_dim);
// The same, taking the head dim from `config` as on_initialize does. It calls
// get_head_dim even when neither R2 nor R3 is requested, so a config without
// head dim information fails for every rotation set.
absl::StatusOr<TransformConfig> BuildTransformConfig(const SpinQuantMapping& mapping,
                                                     const SpinQuantOptions& options,
                                                     const Json& config);

// TransformConfig.model_dump(): {"config_groups": {"R1": {"type", "apply":
// [{"targets", "location", "inverse", "ignore"}], "randomize",
// "requires_grad", "head_dim", "precision"}, ...}} in pydantic field order
// (config.json writers sort the keys).
Json TransformConfigToJson(const TransformConfig& config);

// One transform apply_transform_config creates: scheme `scheme`, its
// apply[apply_index] on `module`.
struct TransformPlacement {
  std::string scheme;
  int apply_index = 0;
  int module = 0;
  std::string location;
  bool inverse = false;
  // get_transform_size(module, location, head_dim); nullopt when the module
  // dump lacks the feature counts (then no check ran for it).
  absl::optional<int64_t> size;
};

struct TransformPlan {
  // In application order: schemes in config order; in each, every module of
  // apply[0] (named_modules() order), then apply[1]. Stops before the first
  // placement that fails.
  std::vector<TransformPlacement> placements;
  // The first error apply_transform_config would raise, with upstream's text:
  //   ValueError("{head_dim} must divide {size} for {type(module)} at {location}")
  //   NotImplementedError("Transforms on {type(module)} are not supported without head_dim")
  //   ValueError("Cannot construct deterministic hadamard of size != 2^n") (or "<= 0")
  //   ValueError("Cannot construct random hadamard matrix of size {size}")
  absl::Status error;
  // Modules whose size could not be determined (missing features/params).
  std::vector<std::string> notes;
};

// Places `config` on `tree`. Fails only for an invalid target.
absl::StatusOr<TransformPlan> PlanTransforms(const ModuleTree& tree, const TransformConfig& config);

// Python's str(type(module)) for the module's class; torch's own Linear and
// Embedding get their full paths, other classes only their name (their
// defining Python module is not in the module dump).
std::string PythonTypeRepr(const Module& module);

}  // namespace spinquant
}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_SPINQUANT_SPINQUANT_TRANSFORMS_H_
