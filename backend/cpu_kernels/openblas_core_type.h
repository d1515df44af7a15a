// LibTorch's CPU matmuls go through the system BLAS, on Debian OpenBLAS built
// for every x86 generation. OpenBLAS picks its kernels from the CPU's model
// number when it loads; on a virtual machine that reports a generic model
// ("Intel(R) Xeon(R) Processor") it falls back to its Prescott (SSE3)
// kernels, although the CPU has AVX2 or AVX-512: GPTQ's solves and AWQ's
// grid search then run 2-3x slower (measured on this project's build VM).
// OpenBLAS reads OPENBLAS_CORETYPE only as it loads, before main, so the
// fix is to set it and start the program again.
//
// The same start fixes a second cost: LibTorch's intra-op threads (libgomp)
// spin for about 300,000 iterations after each parallel operation, on the
// cores OpenBLAS's own threads (pthreads) need for the next matmul. With
// many small operations between matmuls, as AWQ's grid search on an MoE
// layer, the spinning took 40% of the CPU time and a Qwen3-30B-A3B layer
// ran in 38 s instead of 23 s (GOMP_SPINCOUNT=10000). libgomp too reads its
// settings only as it loads.
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

// The GOMP_SPINCOUNT to set when LibTorch's OpenMP runtime is libgomp and
// OpenBLAS runs its own thread pool (openblas_get_parallel() == 1), unless
// the user set OMP_WAIT_POLICY or GOMP_SPINCOUNT: empty where nothing
// should change.
std::string ShorterOpenMpSpin(bool libgomp, int openblas_parallel, const char* omp_wait_policy,
                              const char* gomp_spincount);

// The OPENBLAS_THREAD_TIMEOUT to set when OpenBLAS runs its own thread pool
// (openblas_get_parallel() == 1) and the user did not set it: "4", 2^4
// cycles, so that OpenBLAS's idle workers sleep at once instead of
// spinning in sched_yield (up to 2^28 cycles) on the cores LibTorch's
// threads use between two BLAS calls; empty where nothing should change.
// On a 2-core AMX VM: an MoE layer's AWQ 2-8% faster (5 of 5 alternating
// pairs), a Llama-3-8B layer's GPTQ 22.7 -> 21.4 s.
std::string ShorterOpenBlasSpin(int openblas_parallel, const char* thread_timeout);

// Before any computation (the program has not started threads or opened
// files it keeps): sets OPENBLAS_CORETYPE when the user has not and the
// loaded OpenBLAS chose a core BetterOpenBlasCoreType improves on,
// GOMP_SPINCOUNT where ShorterOpenMpSpin says so and OPENBLAS_THREAD_TIMEOUT
// where ShorterOpenBlasSpin does; then re-executes this
// program with `argv` (same process id, so locks and signals are
// unaffected). Returns when there is nothing to do or the re-execution
// failed (the run then goes on, slower).
void UseTheCpusKernelsAndThreads(char** argv);

}  // namespace cpu_kernels
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_CPU_KERNELS_OPENBLAS_CORE_TYPE_H_
