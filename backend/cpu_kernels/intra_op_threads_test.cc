#include "backend/cpu_kernels/intra_op_threads.h"

#include <sched.h>
#include <torch/torch.h>

#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace cpu_kernels {
namespace {

TEST(IntraOpThreads, OmpNumThreadsWinsWhenItIsAPositiveInteger) {
  EXPECT_EQ(IntraOpThreads("3", 8), 3);
  EXPECT_EQ(IntraOpThreads(nullptr, 8), 8);
  for (const char* bad : {"", "0", "-2", "four", "2x"}) EXPECT_EQ(IntraOpThreads(bad, 8), 8) << bad;
  EXPECT_EQ(IntraOpThreads(nullptr, 0), 1);
}

TEST(IntraOpThreads, WorkersShareTheCores) {
  EXPECT_EQ(ThreadsPerWorker(2, 8), 4);
  EXPECT_EQ(ThreadsPerWorker(3, 8), 2);
  EXPECT_EQ(ThreadsPerWorker(4, 2), 1);
  EXPECT_EQ(ThreadsPerWorker(0, 2), 2);
}

TEST(IntraOpThreads, PhysicalCoresAreAtMostTheCpusThisProcessMayUse) {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  ASSERT_EQ(sched_getaffinity(0, sizeof(mask), &mask), 0);
  const int cores = PhysicalCoresAvailable();
  EXPECT_GE(cores, 1);
  EXPECT_LE(cores, CPU_COUNT(&mask));
}

TEST(IntraOpThreads, SetIntraOpThreadsIsWhatLibTorchThenUses) {
  SetIntraOpThreads();
  EXPECT_EQ(torch::get_num_threads(), IntraOpThreads(std::getenv("OMP_NUM_THREADS"), PhysicalCoresAvailable()));
}

}  // namespace
}  // namespace cpu_kernels
}  // namespace backend
}  // namespace wring
