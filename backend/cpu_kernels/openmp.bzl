"""Flags for a library whose own code calls at::parallel_for.

at::parallel_for is a header template: its `#pragma omp parallel` is compiled
in the calling library, and without -fopenmp the pragma is ignored and every
such loop runs on one thread. LibTorch itself already links libgomp, so the
flags add no runtime.

EXACT_ROW_KERNEL_COPTS are for the fused row kernels that must give the bits
of the LibTorch operations they replace (rounding.h, fake_quantize.h): -O3,
at which GCC vectorizes them (if-conversion of the NaN selects; at -O2 its
cost model vectorizes none), and no contraction into fused multiply-adds,
which would round a product and a sum once where LibTorch rounds twice.
"""

PARALLEL_FOR_COPTS = ["-fopenmp"]

PARALLEL_FOR_LINKOPTS = ["-fopenmp"]

EXACT_ROW_KERNEL_COPTS = [
    "-O3",
    "-ffp-contract=off",
] + PARALLEL_FOR_COPTS
