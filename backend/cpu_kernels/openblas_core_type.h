// LibTorch's CPU matmuls go through the system BLAS, on Debian OpenBLAS built
// for every x86 generation. OpenBLAS picks its kernels from the CPU's model
// number when it loads; on a virtual machine that reports a generic model
// ("Intel(R) Xeon(R) Processor") it falls back to its Prescott (SSE3)
// kernels, although the CPU has AVX2 or AVX-512: GPTQ's solves and AWQ's
// grid search then run 2-3x slower (measured on this project's build VM).
// OpenBLAS reads OPENBLAS_CORETYPE only as it loads, before main, so the
// fix is to set it and start the program again.
#ifndef WRING_BACKEND_CPU_KERNELS_OPENBLAS_CORE_TYPE_H_
#define WRING_BACKEND_CPU_KERNELS_OPENBLAS_CORE_TYPE_H_

#include <string>

namespace wring {
namespace backend {
namespace cpu_kernels {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool avx512 = false;  // F, BW, VL and DQ: what OpenBLAS's SkylakeX kernels use
};

CpuFeatures DetectCpuFeatures();

// The OPENBLAS_CORETYPE to ask for when OpenBLAS chose `loaded_core` (its
// openblas_get_corename()) on a CPU with `cpu`: "SkylakeX" or "Haswell"
// where it fell back to a pre-AVX2 core, empty where its choice is fine.
std::string BetterOpenBlasCoreType(const std::string& loaded_core, const CpuFeatures& cpu);

// Before any computation (the program has not started threads or opened
// files it keeps): when the BLAS that is loaded is OpenBLAS, the user
// has not set OPENBLAS_CORETYPE and BetterOpenBlasCoreType names one, sets
// it and re-executes this program with `argv` (same process id, so locks
// and signals are unaffected). Returns when there is nothing to do or the
// re-execution failed (the run then goes on with the slower kernels).
void UseTheCpusOpenBlasKernels(char** argv);

}  // namespace cpu_kernels
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_CPU_KERNELS_OPENBLAS_CORE_TYPE_H_
