#include "backend/cpu_kernels/openblas_core_type.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/ascii.h"

namespace wring {
namespace backend {
namespace cpu_kernels {

CpuFeatures DetectCpuFeatures() {
  CpuFeatures cpu;
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  cpu.avx2 = __builtin_cpu_supports("avx2");
  cpu.fma = __builtin_cpu_supports("fma");
  cpu.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#endif
  return cpu;
}

std::string BetterOpenBlasCoreType(const std::string& loaded_core, const CpuFeatures& cpu) {
  // OpenBLAS's x86-64 cores older than Haswell (its names, as
  // openblas_get_corename() returns them, compared case-insensitively).
  static constexpr const char* kPreAvx2[] = {"prescott", "core2",     "penryn", "dunnington",
                                             "nehalem",  "atom",      "barcelona", "bobcat",
                                             "sandybridge", "bulldozer", "piledriver",
                                             "steamroller", "excavator"};
  const std::string core = absl::AsciiStrToLower(loaded_core);
  bool old = false;
  for (const char* name : kPreAvx2) old = old || core == name;
  if (!old) return "";
  if (cpu.avx512 && cpu.avx2 && cpu.fma) return "SkylakeX";
  if (cpu.avx2 && cpu.fma) return "Haswell";
  return "";
}

std::string ShorterOpenMpSpin(bool libgomp, int openblas_parallel, const char* omp_wait_policy,
                              const char* gomp_spincount) {
  if (!libgomp || openblas_parallel != 1) return "";
  if (omp_wait_policy != nullptr || gomp_spincount != nullptr) return "";  // the user's choice, or done
  return "10000";
}

std::string ShorterOpenBlasSpin(int openblas_parallel, const char* thread_timeout) {
  if (openblas_parallel != 1 || thread_timeout != nullptr) return "";
  return "4";
}

namespace {

int OpenBlasParallel() {
  using Parallel = int (*)();
  const auto parallel = reinterpret_cast<Parallel>(dlsym(RTLD_DEFAULT, "openblas_get_parallel"));
  return parallel == nullptr ? 0 : parallel();
}

// OpenBLAS's core when it is the loaded BLAS and picked one worse than the
// CPU allows; empty otherwise.
std::string OpenBlasCoreToSet() {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return "";  // the user's choice, or already done
  using CoreName = char* (*)();
  const auto core_name = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (core_name == nullptr) return "";  // another BLAS
  const char* loaded = core_name();
  if (loaded == nullptr) return "";
  return BetterOpenBlasCoreType(loaded, DetectCpuFeatures());
}

std::string OpenMpSpinToSet(int openblas_parallel) {
  const bool libgomp = dlsym(RTLD_DEFAULT, "GOMP_parallel") != nullptr;
  return ShorterOpenMpSpin(libgomp, openblas_parallel, std::getenv("OMP_WAIT_POLICY"),
                           std::getenv("GOMP_SPINCOUNT"));
}

}  // namespace

void UseTheCpusKernelsAndThreads(char** argv) {
  const std::string core = OpenBlasCoreToSet();
  const int openblas_parallel = OpenBlasParallel();
  const std::string spin = OpenMpSpinToSet(openblas_parallel);
  const std::string blas_spin = ShorterOpenBlasSpin(openblas_parallel, std::getenv("OPENBLAS_THREAD_TIMEOUT"));
  if (core.empty() && spin.empty() && blas_spin.empty()) return;
  // The binary's own path, not /proc/self/exe: the process keeps its name
  // ("wring", not "exe") in ps and top.
  char path[4096];
  const ssize_t length = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (length <= 0 || static_cast<size_t>(length) >= sizeof(path) - 1) return;
  path[length] = '\0';
  if (!core.empty() && setenv("OPENBLAS_CORETYPE", core.c_str(), /*overwrite=*/1) != 0) return;
  if (!spin.empty() && setenv("GOMP_SPINCOUNT", spin.c_str(), /*overwrite=*/1) != 0) return;
  if (!blas_spin.empty() && setenv("OPENBLAS_THREAD_TIMEOUT", blas_spin.c_str(), /*overwrite=*/1) != 0) return;
  execv(path, argv);
  // Still here: the run goes on as it would have; the variables stay set,
  // so children started later get them.
}

}  // namespace cpu_kernels
}  // namespace backend
}  // namespace wring
