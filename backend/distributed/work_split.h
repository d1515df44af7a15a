// How llm-compressor's distributed oneshot divides the work between ranks,
// so N wring workers divide it the same way.
//
//  - Calibration samples: contiguous slices, rank r taking
//    [floor(n * (r / w)), floor(n * ((r + 1) / w))) in float64 arithmetic
//    (llmcompressor.datasets.utils._get_partition_start_end): every rank gets
//    n / w or one more, the last ends at n.
//  - Modules whose weight qparams (or GPTQ solve) one rank computes for all:
//    compressed_tensors.distributed.greedy_bin_packing. Items sorted by
//    weight, heaviest first (a stable sort), each to the bin with the least
//    weight so far (the lowest index on ties).
#ifndef WRING_BACKEND_DISTRIBUTED_WORK_SPLIT_H_
#define WRING_BACKEND_DISTRIBUTED_WORK_SPLIT_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"

namespace wring {
namespace backend {
namespace distributed {

struct SampleSlice {
  int64_t begin = 0;
  int64_t end = 0;  // exclusive
  int64_t size() const { return end - begin; }
};

SampleSlice RankSlice(int64_t num_samples, int rank, int world_size);

// The bin (rank) of each item, in the items' order.
std::vector<int> GreedyBinPacking(absl::Span<const int64_t> weights, int num_bins);

}  // namespace distributed
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_DISTRIBUTED_WORK_SPLIT_H_
