#include "backend/cpu_kernels/split_bf16_product.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "backend/cpu_kernels/bf16_linear.h"
#include "backend/cpu_kernels/internal/amx_tiles.h"
#include "backend/cpu_kernels/internal/avx512_bf16_dot.h"
#include "backend/cpu_kernels/parallel_for.h"
#include "backend/cpu_kernels/rounding.h"

namespace wring {
namespace backend {
namespace cpu_kernels {
namespace {

using internal::kTileColumns;
using internal::kTileElements;
constexpr int64_t kBlock = internal::kTileBlock;
// Four tiles per chunk of a strip: F_hi's two column groups, then F_lo's.
constexpr int64_t kChunkElements = 4 * kTileElements;
// Rows of x per task, as in the Linear kernel: a task's rows of x and its
// strip of F stay in the core's L2.
constexpr int64_t kRowsPerTask = 256;

// The product block [32, 32] of rows x0 (32 rows of `row_elements`) and one
// strip's tiles from chunk `first` on, into `block`.
__attribute__((target("amx-tile,amx-bf16"))) void MultiplyBlockOnTiles(const uint16_t* x0, int64_t row_elements,
                                                                         const uint16_t* tiles, int64_t first,
                                                                         int64_t chunks, float* block) {
  const uint16_t* x1 = x0 + kTileColumns * row_elements;
  const int64_t x_bytes = row_elements * 2;
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int64_t c = first; c < chunks; ++c, tiles += kChunkElements) {
    const int64_t kk = c * kBlock;
    _tile_loadd(4, x0 + kk, x_bytes);
    _tile_loadd(5, x1 + kk, x_bytes);
    _tile_loadd(6, tiles, 64);
    _tile_loadd(7, tiles + kTileElements, 64);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
    _tile_loadd(6, tiles + 2 * kTileElements, 64);
    _tile_loadd(7, tiles + 3 * kTileElements, 64);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, block, kBlock * 4);
  _tile_stored(1, block + kTileColumns, kBlock * 4);
  _tile_stored(2, block + kTileColumns * kBlock, kBlock * 4);
  _tile_stored(3, block + kTileColumns * kBlock + kTileColumns, kBlock * 4);
}

// The same block on the tiles where the process has them, else by
// AVX512-BF16 dot products (in the same order at the chunks' grain).
void MultiplyBlock(bool on_tiles, const uint16_t* x0, int64_t row_elements, const uint16_t* tiles, int64_t first,
                   int64_t chunks, float* block) {
  if (on_tiles) {
    MultiplyBlockOnTiles(x0, row_elements, tiles, first, chunks, block);
  } else {
    internal::SplitDotBlock(x0, row_elements, tiles, first, chunks, block);
  }
}

// sum (block - reference)^2 over `rows` x `columns` of the block, the
// differences in float32, their squares summed in float64 in a fixed order.
// (Masked forms throughout: GCC 12 warns on the unmasked ones' undefined
// pass-through operands.)
__attribute__((target("avx512f,avx512vl"))) double SquaredDistanceOfBlock(const float* block,
                                                                          const float* reference, int64_t ldr,
                                                                          int64_t rows, int64_t columns) {
  constexpr int64_t kQuarter = 8;
  __mmask8 masks[4];
  for (int64_t q = 0; q < 4; ++q) {
    const int64_t valid = std::max<int64_t>(0, std::min(kQuarter, columns - q * kQuarter));
    masks[q] = static_cast<__mmask8>((1u << valid) - 1);
  }
  __m512d sums[4] = {_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd()};
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t q = 0; q < 4; ++q) {
      const __m256 difference = _mm256_sub_ps(_mm256_maskz_loadu_ps(masks[q], block + r * kBlock + q * kQuarter),
                                              _mm256_maskz_loadu_ps(masks[q], reference + r * ldr + q * kQuarter));
      const __m512d wide = _mm512_mask_cvtps_pd(_mm512_setzero_pd(), 0xFF, difference);
      sums[q] = _mm512_fmadd_pd(wide, wide, sums[q]);
    }
  }
  alignas(64) double lanes[8];
  _mm512_store_pd(lanes, _mm512_add_pd(_mm512_add_pd(sums[0], sums[1]), _mm512_add_pd(sums[2], sums[3])));
  double total = 0;
  for (double lane : lanes) total += lane;
  return total;
}

}  // namespace

absl::StatusOr<SplitBf16Factor> SplitBf16Factor::Make(const torch::Tensor& factor) {
  if (!HasBf16Linear()) {
    return absl::FailedPreconditionError("split bf16 factor: neither AMX tiles nor AVX512-BF16 here");
  }
  if (factor.dim() != 2 || !factor.device().is_cpu() ||
      (factor.scalar_type() != torch::kFloat && factor.scalar_type() != torch::kDouble)) {
    return absl::InvalidArgumentError("split bf16 factor: a 2-D float32 or float64 CPU tensor");
  }
  const torch::Tensor f = factor.to(torch::kDouble).contiguous();
  if (!torch::isfinite(f).all().item<bool>()) {
    return absl::InvalidArgumentError("split bf16 factor: the factor holds NaN or infinity");
  }
  SplitBf16Factor split;
  split.k_ = f.size(0);
  split.n_ = f.size(1);
  split.k_padded_ = (split.k_ + kBlock - 1) / kBlock * kBlock;
  const int64_t chunks = split.k_padded_ / kBlock, strips = (split.n_ + kBlock - 1) / kBlock;
  const double* values = f.data_ptr<double>();
  int64_t total = 0;
  for (int64_t s = 0; s < strips; ++s) {
    int64_t first = chunks;
    for (int64_t row = 0; row < split.k_ && first == chunks; ++row) {
      for (int64_t col = s * kBlock; col < std::min(split.n_, (s + 1) * kBlock); ++col) {
        if (values[row * split.n_ + col] != 0) {
          first = row / kBlock;
          break;
        }
      }
    }
    split.first_chunk_.push_back(first);
    split.strip_offset_.push_back(total);
    total += (chunks - first) * kChunkElements;
  }
  split.tiles_ = torch::zeros({std::max<int64_t>(total, 1)}, torch::kInt16);
  uint16_t* tiles = reinterpret_cast<uint16_t*>(split.tiles_.data_ptr());
  for (int64_t s = 0; s < strips; ++s) {
    for (int64_t c = split.first_chunk_[s]; c < chunks; ++c) {
      uint16_t* chunk = tiles + split.strip_offset_[s] + (c - split.first_chunk_[s]) * kChunkElements;
      for (int64_t i = 0; i < kBlock && c * kBlock + i < split.k_; ++i) {
        const int64_t row = c * kBlock + i;
        for (int64_t j = 0; j < kBlock && s * kBlock + j < split.n_; ++j) {
          const double value = values[row * split.n_ + s * kBlock + j];
          const uint16_t hi = RoundBf16::Store(static_cast<float>(value));
          const double rest = value - static_cast<double>(RoundBf16::Load(hi));
          const uint16_t lo = RoundBf16::Store(static_cast<float>(rest));
          // Tile (part, group j / 16): row i / 2, column j % 16, element i % 2.
          const int64_t at = (j / kTileColumns) * kTileElements + (i / 2) * 2 * kTileColumns +
                             (j % kTileColumns) * 2 + (i % 2);
          chunk[at] = hi;
          chunk[2 * kTileElements + at] = lo;
        }
      }
    }
  }
  return split;
}

double SplitBf16Factor::MultiplyAddsPerRow() const {
  double total = 0;
  const int64_t chunks = k_padded_ / kBlock;
  for (int64_t first : first_chunk_) total += 2.0 * static_cast<double>((chunks - first) * kBlock * kBlock);
  return total;
}

absl::Status SplitBf16Factor::CheckLeft(const torch::Tensor& x) const {
  if (x.dim() != 2 || x.size(1) != k_ || x.scalar_type() != torch::kBFloat16 || !x.device().is_cpu()) {
    return absl::InvalidArgumentError(absl::StrCat("split bf16 product: x must be [M, ", k_, "] bf16 on the CPU"));
  }
  return absl::OkStatus();
}

void SplitBf16Factor::Run(const torch::Tensor& x, float* out) const {
  const int64_t m = x.size(0);
  if (m == 0 || n_ == 0) return;
  const internal::LeftBlocks left = internal::LeftOperandBlocks(x);
  const int64_t strips = static_cast<int64_t>(first_chunk_.size()), chunks = k_padded_ / kBlock;
  const int64_t row_tasks = (m + kRowsPerTask - 1) / kRowsPerTask;
  const uint16_t* tiles = reinterpret_cast<const uint16_t*>(tiles_.data_ptr());
  const bool on_tiles = HasAmxBf16Linear();
  at::parallel_for(0, row_tasks * strips, 1, [&](int64_t begin, int64_t end) {
    if (on_tiles) internal::LoadTileConfig();
    alignas(64) float block[kBlock * kBlock];
    for (int64_t task = begin; task < end; ++task) {
      const int64_t s = task % strips, n0 = s * kBlock, columns = std::min(kBlock, n_ - n0);
      const int64_t first_row = (task / strips) * kRowsPerTask;
      for (int64_t m0 = first_row; m0 < std::min(first_row + kRowsPerTask, m); m0 += kBlock) {
        MultiplyBlock(on_tiles, left.blocks[m0 / kBlock], left.row_elements, tiles + strip_offset_[s],
                      first_chunk_[s], chunks, block);
        for (int64_t r = 0; r < std::min(kBlock, m - m0); ++r) {
          std::memcpy(out + (m0 + r) * n_ + n0, block + r * kBlock, columns * sizeof(float));
        }
      }
    }
    if (on_tiles) internal::ReleaseTiles();
  });
}

absl::StatusOr<torch::Tensor> SplitBf16Factor::Multiply(const torch::Tensor& x) const {
  if (absl::Status status = CheckLeft(x); !status.ok()) return status;
  torch::Tensor out = torch::zeros({x.size(0), n_}, torch::kFloat32);
  Run(x, out.data_ptr<float>());
  return out;
}

absl::Status SplitBf16Factor::CheckReference(int64_t m, const torch::Tensor& reference) const {
  if (reference.dim() != 2 || reference.size(0) != m || reference.size(1) != n_ ||
      reference.scalar_type() != torch::kFloat || !reference.device().is_cpu() || !reference.is_contiguous()) {
    return absl::InvalidArgumentError(
        absl::StrCat("split bf16 product: the reference must be [", m, ", ", n_, "] contiguous float32"));
  }
  return absl::OkStatus();
}

absl::StatusOr<double> SplitBf16Factor::SquaredDistance(const torch::Tensor& x,
                                                        const torch::Tensor& reference) const {
  if (absl::Status status = CheckLeft(x); !status.ok()) return status;
  const torch::Tensor rows = x.contiguous();
  const uint16_t* bits = reinterpret_cast<const uint16_t*>(rows.data_ptr());
  return SquaredDistanceOfRows(
      x.size(0),
      [bits, k = k_](int64_t first, int64_t count, uint16_t* out, int64_t stride) {
        for (int64_t r = 0; r < count; ++r) {
          std::memcpy(out + r * stride, bits + (first + r) * k, k * sizeof(uint16_t));
        }
      },
      reference);
}

absl::StatusOr<double> SplitBf16Factor::SquaredDistanceOfRows(int64_t m, const RowSource& rows,
                                                              const torch::Tensor& reference) const {
  if (absl::Status status = CheckReference(m, reference); !status.ok()) return status;
  if (m == 0 || n_ == 0) return 0.0;
  // Tasks of kRowsPerTask rows: made at once, then each strip of F's tiles
  // serves all of them while it is in the cache.
  const int64_t tasks = (m + kRowsPerTask - 1) / kRowsPerTask, strips = static_cast<int64_t>(first_chunk_.size());
  const int64_t chunks = k_padded_ / kBlock;
  const uint16_t* tiles = reinterpret_cast<const uint16_t*>(tiles_.data_ptr());
  const float* ref = reference.data_ptr<float>();
  std::vector<double> partial(tasks, 0.0);
  const bool on_tiles = HasAmxBf16Linear();
  at::parallel_for(0, tasks, 1, [&](int64_t begin, int64_t end) {
    // Zero beyond K and beyond the last row, as the tiles read them.
    std::vector<uint16_t> x(kRowsPerTask * k_padded_, 0);
    alignas(64) float block[kBlock * kBlock];
    if (on_tiles) internal::LoadTileConfig();
    for (int64_t task = begin; task < end; ++task) {
      const int64_t first = task * kRowsPerTask, count = std::min(kRowsPerTask, m - first);
      if (count < kRowsPerTask) std::fill(x.begin(), x.end(), 0);
      rows(first, count, x.data(), k_padded_);
      double sum = 0;
      for (int64_t s = 0; s < strips; ++s) {
        const int64_t n0 = s * kBlock;
        for (int64_t r0 = 0; r0 < count; r0 += kBlock) {
          MultiplyBlock(on_tiles, x.data() + r0 * k_padded_, k_padded_, tiles + strip_offset_[s],
                        first_chunk_[s], chunks, block);
          sum += SquaredDistanceOfBlock(block, ref + (first + r0) * n_ + n0, n_, std::min(kBlock, count - r0),
                                        std::min(kBlock, n_ - n0));
        }
      }
      partial[task] = sum;
    }
    if (on_tiles) internal::ReleaseTiles();
  });
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

}  // namespace cpu_kernels
}  // namespace backend
}  // namespace wring
