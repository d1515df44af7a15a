// at::parallel_for for the backend's own loops, with a guard.
//
// at::parallel_for is a header template: its `#pragma omp parallel` is
// compiled in the file that calls it, and without -fopenmp the pragma is
// silently ignored, so every such loop runs on one thread (the candidate
// weights of AWQ's grid search ran 2x slower that way on 2 cores). A file
// that includes this header fails to compile unless its library takes
// PARALLEL_FOR_COPTS and PARALLEL_FOR_LINKOPTS from openmp.bzl.
#ifndef WRING_BACKEND_CPU_KERNELS_PARALLEL_FOR_H_
#define WRING_BACKEND_CPU_KERNELS_PARALLEL_FOR_H_

#include <ATen/Parallel.h>

#if AT_PARALLEL_OPENMP && !defined(_OPENMP)
#error "at::parallel_for needs -fopenmp in this library (PARALLEL_FOR_COPTS in //backend/cpu_kernels:openmp.bzl)"
#endif

#endif  // WRING_BACKEND_CPU_KERNELS_PARALLEL_FOR_H_
