// How many threads LibTorch uses inside one operation on the CPU.
//
// Debian's LibTorch 1.13 (native thread pool) starts with half the logical
// CPUs, taking every other one for a hyper-thread: on a VM whose cores have
// one thread each that is half the machine (1 of 2 cores on this project's
// build VM), while PyTorch's wheels use every physical core. wring sets the
// count to the physical cores this process may run on, as the wheels do,
// unless OMP_NUM_THREADS says otherwise (`wring compress --nproc N` gives
// each worker its share).
#ifndef WRING_BACKEND_CPU_KERNELS_INTRA_OP_THREADS_H_
#define WRING_BACKEND_CPU_KERNELS_INTRA_OP_THREADS_H_

namespace wring {
namespace backend {
namespace cpu_kernels {

// Physical cores among the CPUs of this process's affinity mask (at least 1).
int PhysicalCoresAvailable();

// `omp_num_threads` (the environment variable, may be null) when it is a
// positive integer, else `physical_cores`.
int IntraOpThreads(const char* omp_num_threads, int physical_cores);

// torch::set_num_threads(IntraOpThreads(getenv("OMP_NUM_THREADS"),
// PhysicalCoresAvailable())). Call once, before the first tensor operation.
void SetIntraOpThreads();

// The OMP_NUM_THREADS each of `workers` local processes should get so
// that together they use the physical cores once (at least 1).
int ThreadsPerWorker(int workers, int physical_cores);

}  // namespace cpu_kernels
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_CPU_KERNELS_INTRA_OP_THREADS_H_
