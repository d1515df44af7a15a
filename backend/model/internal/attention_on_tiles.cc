#include "backend/model/internal/attention_on_tiles.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "backend/cpu_kernels/bf16_linear.h"
#include "backend/cpu_kernels/parallel_for.h"
#include "backend/cpu_kernels/rounding.h"

namespace wring {
namespace backend {
namespace model {
namespace internal {
namespace {

using cpu_kernels::RoundBf16;

// Query rows per task: their float32 scores (128 x T) and bf16
// probabilities stay in the core's L2 for T up to several thousand.
constexpr int64_t kQueryRows = 128;
// The tiles sum a product's inner dimension in chunks of this many.
constexpr int64_t kKeyChunk = 32;

// One query's scores over keys [0, keys): the eager steps' roundings
// (scores.to(bf16), * scaling in float32, .to(bf16)) where the mask allows
// the key (allowed_first <= j <= query), -inf elsewhere.
WRING_CPU_CLONES void RoundScaleAndMaskRow(float* s, int64_t keys, int64_t allowed_first, int64_t query,
                                           float scaling) {
  const float minus_infinity = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < keys; ++j) {
    const float v = RoundBf16::Round(RoundBf16::Round(s[j]) * scaling);
    s[j] = j >= allowed_first && j <= query ? v : minus_infinity;
  }
}

// probabilities.to(bf16).
WRING_CPU_CLONES void StoreBf16(const float* p, uint16_t* out, int64_t n) {
  for (int64_t j = 0; j < n; ++j) out[j] = RoundBf16::Store(p[j]);
}

torch::Tensor Product(const torch::Tensor& x, const torch::Tensor& weight) {
  absl::StatusOr<torch::Tensor> sums = cpu_kernels::Bf16LinearToFloat32(x, weight, torch::Tensor());
  TORCH_CHECK(sums.ok(), "attention on AMX tiles: ", std::string(sums.status().message()));
  return *std::move(sums);
}

}  // namespace

bool AttentionTilesTake(const torch::Tensor& query, const torch::Tensor& key, const torch::Tensor& value) {
  for (const torch::Tensor* t : {&query, &key, &value}) {
    if (t->scalar_type() != torch::kBFloat16 || !t->device().is_cpu()) return false;
  }
  return cpu_kernels::HasBf16Linear();
}

int64_t KeysForQueryBlock(int64_t first, int64_t rows, int64_t length) {
  return std::min(length, (first + rows + kKeyChunk - 1) / kKeyChunk * kKeyChunk);
}

torch::Tensor CausalAttentionOnTiles(const torch::Tensor& query, const torch::Tensor& key,
                                     const torch::Tensor& value, double scaling,
                                     std::optional<int64_t> sliding_window) {
  const int64_t batch = query.size(0), heads = query.size(1), length = query.size(2), dim = query.size(3);
  const int64_t n_rep = heads / key.size(1);
  const torch::Tensor q = query.contiguous(), k = key.contiguous();
  // The values as a Linear's weight [D, T], per kv head.
  const torch::Tensor values = value.transpose(2, 3).contiguous();
  torch::Tensor out = torch::empty({batch, length, heads * dim}, query.options());
  const int64_t blocks = (length + kQueryRows - 1) / kQueryRows;
  const float scale = static_cast<float>(scaling);
  at::parallel_for(0, batch * heads * blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t b = task / (heads * blocks), h = task / blocks % heads, kv = h / n_rep;
      const int64_t first = task % blocks * kQueryRows, rows = std::min(kQueryRows, length - first);
      // Keys past the block's last query are masked for all its rows: their
      // scores are never needed, and their probabilities are exact zeros,
      // which add nothing to the values' sums (nor, at the row's end, to
      // the softmax's, whose vector lanes are fixed by position).
      const int64_t keys = KeysForQueryBlock(first, rows, length);
      torch::Tensor scores = Product(q[b][h].narrow(0, first, rows), k[b][kv].narrow(0, 0, keys));
      float* s = scores.data_ptr<float>();
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t i = first + r;
        const int64_t allowed_first = sliding_window.has_value() ? std::max<int64_t>(0, i - *sliding_window + 1) : 0;
        RoundScaleAndMaskRow(s + r * keys, keys, allowed_first, i, scale);
      }
      const torch::Tensor probabilities = torch::softmax(scores, -1);
      torch::Tensor rounded = torch::empty({rows, keys}, query.options());
      StoreBf16(probabilities.data_ptr<float>(), reinterpret_cast<uint16_t*>(rounded.data_ptr()), rows * keys);
      const torch::Tensor attended = Product(rounded, values[b][kv].narrow(1, 0, keys));  // [rows, D]
      out[b].narrow(0, first, rows).narrow(1, h * dim, dim).copy_(attended);
    }
  });
  return out;
}

}  // namespace internal
}  // namespace model
}  // namespace backend
}  // namespace wring
