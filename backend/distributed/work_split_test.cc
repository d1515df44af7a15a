#include "backend/distributed/work_split.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace distributed {
namespace {

// Both tables were printed by upstream's own functions:
// testdata/make_work_split_reference.py (llm-compressor 0.14.0.1,
// compressed-tensors 0.19.0).
struct SliceCase {
  int64_t num_samples;
  int world_size;
  std::vector<int64_t> bounds;  // begin, end per rank
};
const SliceCase kSlices[] = {
    {512, 1, {0, 512}},
    {512, 2, {0, 256, 256, 512}},
    {512, 3, {0, 170, 170, 341, 341, 512}},
    {7, 3, {0, 2, 2, 4, 4, 7}},
    {3, 4, {0, 0, 0, 1, 1, 2, 2, 3}},
    {55, 11, {0, 5, 5, 10, 10, 14, 14, 20, 20, 25, 25, 29, 29, 35, 35, 40, 40, 45, 45, 50, 50, 55}},
    {90, 10, {0, 9, 9, 18, 18, 27, 27, 36, 36, 45, 45, 54, 54, 62, 62, 72, 72, 81, 81, 90}},
    {1000, 7, {0, 142, 142, 285, 285, 428, 428, 571, 571, 714, 714, 857, 857, 1000}},
};

struct PackingCase {
  std::vector<int64_t> weights;
  int num_bins;
  std::vector<int> bins;
};
const PackingCase kPackings[] = {
    {{16777216, 4194304, 4194304, 16777216, 58720256, 58720256, 58720256}, 2, {1, 1, 1, 1, 0, 1, 0}},
    {{16777216, 4194304, 4194304, 16777216, 58720256, 58720256, 58720256}, 3, {0, 2, 2, 1, 0, 1, 2}},
    {{5, 5, 5, 5, 1, 9}, 4, {1, 2, 3, 1, 2, 0}},
    {{3, 1, 2}, 5, {0, 2, 1}},
};

TEST(WorkSplitTest, SampleSlicesAreUpstreamsPartitions) {
  for (const SliceCase& c : kSlices) {
    for (int rank = 0; rank < c.world_size; ++rank) {
      SampleSlice slice = RankSlice(c.num_samples, rank, c.world_size);
      EXPECT_EQ(slice.begin, c.bounds[2 * rank]) << c.num_samples << " / " << c.world_size;
      EXPECT_EQ(slice.end, c.bounds[2 * rank + 1]) << c.num_samples << " / " << c.world_size;
    }
  }
}

TEST(WorkSplitTest, SlicesCoverEverySampleOnce) {
  for (int world = 1; world <= 16; ++world) {
    for (int64_t n = 0; n <= 300; ++n) {
      int64_t next = 0;
      for (int rank = 0; rank < world; ++rank) {
        SampleSlice slice = RankSlice(n, rank, world);
        ASSERT_EQ(slice.begin, next) << n << " / " << world;
        ASSERT_GE(slice.size(), 0);
        next = slice.end;
      }
      ASSERT_EQ(next, n);
    }
  }
}

TEST(WorkSplitTest, GreedyBinPackingIsUpstreams) {
  for (const PackingCase& c : kPackings) {
    EXPECT_EQ(GreedyBinPacking(c.weights, c.num_bins), c.bins);
  }
}

}  // namespace
}  // namespace distributed
}  // namespace backend
}  // namespace wring
