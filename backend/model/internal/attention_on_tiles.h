// Eager causal attention of a bf16 model on the CPU's bf16 kernel (AMX
// tiles, or AVX512-BF16 dot products where there are none).
//
// CausalAttention's bf16 path spends most of its time outside arithmetic:
// [B, H, T, T] float32 scores and probabilities written and read several
// times over, the masked half of every product computed and thrown away.
// This computes the same steps one block of query rows of one head at a
// time, in the core's cache: scores for the keys up to the block's last
// query only, the eager roundings, LibTorch's softmax on those rows, the
// probabilities rounded to bf16 and multiplied by the values.
// The products are cpu_kernels::Bf16LinearToFloat32's float32 sums (the
// order the Linears use); everything else is bit for bit the eager steps.
#ifndef WRING_BACKEND_MODEL_INTERNAL_ATTENTION_ON_TILES_H_
#define WRING_BACKEND_MODEL_INTERNAL_ATTENTION_ON_TILES_H_

#include <torch/torch.h>

#include <cstdint>
#include <optional>

namespace wring {
namespace backend {
namespace model {
namespace internal {

// Whether CausalAttentionOnTiles takes these operands: bf16 on the CPU, and
// the bf16 kernel here (cpu_kernels::HasBf16Linear).
bool AttentionTilesTake(const torch::Tensor& query, const torch::Tensor& key, const torch::Tensor& value);

// CausalAttention without a softcap: query [B, heads, T, D], key/value
// [B, kv_heads, T, D] -> [B, T, heads * D], for operands
// AttentionTilesTake accepts.
torch::Tensor CausalAttentionOnTiles(const torch::Tensor& query, const torch::Tensor& key,
                                     const torch::Tensor& value, double scaling,
                                     std::optional<int64_t> sliding_window);

// The rows of keys a block of queries [first, first + rows) reads: up to
// its last query, rounded up to whole 32-key chunks of the tiles (at most
// `length`). Exposed for tests.
int64_t KeysForQueryBlock(int64_t first, int64_t rows, int64_t length);

}  // namespace internal
}  // namespace model
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_MODEL_INTERNAL_ATTENTION_ON_TILES_H_
