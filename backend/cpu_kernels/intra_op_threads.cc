#include "backend/cpu_kernels/intra_op_threads.h"

#include <sched.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace wring {
namespace backend {
namespace cpu_kernels {
namespace {

// A /sys topology file's number, or -1.
int ReadTopology(int cpu, const char* field) {
  std::ifstream in(absl::StrCat("/sys/devices/system/cpu/cpu", cpu, "/topology/", field));
  std::string text;
  int value = -1;
  if (!std::getline(in, text) || !absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &value)) return -1;
  return value;
}

}  // namespace

int PhysicalCoresAvailable() {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (sched_getaffinity(0, sizeof(mask), &mask) != 0) return 1;
  std::set<std::pair<int, int>> cores;  // (package, core)
  int cpus = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &mask)) continue;
    ++cpus;
    const int package = ReadTopology(cpu, "physical_package_id");
    const int core = ReadTopology(cpu, "core_id");
    // Without topology (some containers) every CPU counts as a core.
    cores.insert(core < 0 ? std::make_pair(-1, cpu) : std::make_pair(package, core));
  }
  return std::max(1, std::min(cpus, static_cast<int>(cores.size())));
}

int IntraOpThreads(const char* omp_num_threads, int physical_cores) {
  int threads = 0;
  if (omp_num_threads != nullptr && absl::SimpleAtoi(omp_num_threads, &threads) && threads > 0) {
    return threads;
  }
  return std::max(1, physical_cores);
}

void SetIntraOpThreads() {
  torch::set_num_threads(IntraOpThreads(std::getenv("OMP_NUM_THREADS"), PhysicalCoresAvailable()));
}

int ThreadsPerWorker(int workers, int physical_cores) {
  return std::max(1, physical_cores / std::max(1, workers));
}

}  // namespace cpu_kernels
}  // namespace backend
}  // namespace wring
