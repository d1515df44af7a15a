// llm-compressor's flatten_for_calibration: the observed value reshaped to
// (observations, *qparam_shape, elements per qparam), so that every observer
// reduces over dims (0, -1) whatever is observed.
//
//   weight [rows, cols]     tensor (1, 1, rows*cols); channel (1, rows, 1,
//                           cols); group (1, rows, cols/g, g); block: zero-
//                           padded to whole blocks, (1, rows/bh, cols/bw,
//                           bh*bw). token / attn_head: error.
//   activation [B, T, H]    tensor (B*T, 1, H); token unchanged; group
//                           (B*T, H/g, g). channel / block / attn_head: error.
//   attention [B, heads, T, D]  (q/k/v states) tensor (B*T, 1, heads*D);
//                           attn_head (B*T, heads, 1, 1, D); others: error.
#ifndef WRING_BACKEND_OBSERVE_FLATTEN_H_
#define WRING_BACKEND_OBSERVE_FLATTEN_H_

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "backend/quantize/quantize.h"

namespace wring {
namespace backend {
namespace observe {

// What an observer watches; upstream tells them apart by base name.
enum class ObservedValue { kWeight, kActivation, kAttention };

// "weight" -> kWeight; "input" / "output" -> kActivation; "q" / "k" / "v" ->
// kAttention; anything else is an error, as upstream.
absl::StatusOr<ObservedValue> ObservedValueFromBaseName(absl::string_view base_name);

absl::StatusOr<torch::Tensor> FlattenForCalibration(const torch::Tensor& value, ObservedValue kind,
                                                    const quantize::QuantizationArgs& args);

}  // namespace observe
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_OBSERVE_FLATTEN_H_
