// compressed-tensors' int32 packing of sub-byte integers ("pack-quantized").
//
// Mirrors compressors/pack_quantized/helpers.py of compressed-tensors 0.18
// (pack_to_int32 / unpack_from_int32), the layout vLLM's WNA16 kernels read:
// each value v of a b-bit signed integer is stored as u = v + 2^(b-1), and
// element i of a row occupies bits [i*b, i*b + b) of the row's bit stream,
// least significant bit first, spilling into the next int32 word when b does
// not divide 32. Rows are padded with zero bits to a whole word. Weights pack
// along the last dimension (input columns); zero points pack along dim 0 (8
// consecutive output rows share one int32 for b = 4). 3-D tensors (stacked
// MoE experts) are packed per leading slice.
#ifndef WRING_BACKEND_PACK_PACK_H_
#define WRING_BACKEND_PACK_PACK_H_

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace wring {
namespace backend {
namespace pack {

enum class PackedDim {
  kRows = 0,     // pack along dim 0 (zero points)
  kColumns = 1,  // pack along the last dim (weights)
};

// Number of int32 words that hold `count` values of `num_bits` bits.
int64_t PackedWordCount(int64_t count, int num_bits);

// Packs an int8 tensor (2-D, or 3-D packed per leading slice) whose values
// lie in [-2^(b-1), 2^(b-1) - 1] into int32. The result is contiguous, on
// the input's device; shape (rows, ceil(cols*b/32)) for kColumns and
// (ceil(rows*b/32), cols) for kRows.
absl::StatusOr<torch::Tensor> PackToInt32(const torch::Tensor& values, int num_bits,
                                          PackedDim packed_dim = PackedDim::kColumns);

// The inverse. `shape` is the unpacked shape (what `weight_shape` stores);
// the packed tensor's shape must match it. Returns int8.
absl::StatusOr<torch::Tensor> UnpackFromInt32(const torch::Tensor& packed, int num_bits,
                                              const std::vector<int64_t>& shape,
                                              PackedDim packed_dim = PackedDim::kColumns);

}  // namespace pack
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_PACK_PACK_H_
