#include "backend/distributed/work_split.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace wring {
namespace backend {
namespace distributed {

SampleSlice RankSlice(int64_t num_samples, int rank, int world_size) {
  // The same float64 products as upstream's Python, so boundaries agree
  // even where n * r / w is not exact.
  const double n = static_cast<double>(num_samples);
  SampleSlice slice;
  slice.begin = static_cast<int64_t>(std::floor(n * (static_cast<double>(rank) / world_size)));
  slice.end = static_cast<int64_t>(std::floor(n * (static_cast<double>(rank + 1) / world_size)));
  return slice;
}

std::vector<int> GreedyBinPacking(absl::Span<const int64_t> weights, int num_bins) {
  std::vector<size_t> order(weights.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return weights[a] > weights[b]; });
  std::vector<int64_t> load(num_bins, 0);
  std::vector<int> bin(weights.size(), 0);
  for (size_t item : order) {
    const int lightest =
        static_cast<int>(std::min_element(load.begin(), load.end()) - load.begin());
    bin[item] = lightest;
    load[lightest] += weights[item];
  }
  return bin;
}

}  // namespace distributed
}  // namespace backend
}  // namespace wring
