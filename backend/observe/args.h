// The quantization arguments an observer or calibrator works from, taken from
// validated compressed-tensors QuantizationArgs (mapping/quantization).
//
// The backend computes int 2..8-bit and fp8 e4m3 qparams for the strategies
// tensor, channel, group, block, token and attn_head. Arguments outside that
// (tensor_group / NVFP4, dynamic "local", scale_dtype, other zero-point
// dtypes) are rejected here, naming the recipe field, so that calibration
// never silently computes something upstream would not.
#ifndef WRING_BACKEND_OBSERVE_ARGS_H_
#define WRING_BACKEND_OBSERVE_ARGS_H_

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "backend/quantize/quantize.h"
#include "mapping/quantization/quantization_args.h"

namespace wring {
namespace backend {
namespace observe {

struct ObservedArgs {
  quantize::QuantizationArgs quantize;
  bool dynamic = false;
  // The observer the args name; none when they leave it to llm-compressor
  // (see ResolveObserverName).
  std::optional<std::string> observer;
  std::map<std::string, std::string> observer_kwargs;  // YAML scalar text
};

// `field` names the args in messages ("weights", "input_activations",
// "kv_cache_scheme").
absl::StatusOr<ObservedArgs> FromMappingArgs(const mapping::QuantizationArgs& args, absl::string_view field);

}  // namespace observe
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_OBSERVE_ARGS_H_
