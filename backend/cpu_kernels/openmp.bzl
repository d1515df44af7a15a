"""Flags for a library whose own code calls at::parallel_for.

at::parallel_for is a header template: its `#pragma omp parallel` is compiled
in the calling library, and without -fopenmp the pragma is ignored and every
such loop runs on one thread. LibTorch itself already links libgomp, so the
flags add no runtime.
"""

PARALLEL_FOR_COPTS = ["-fopenmp"]

PARALLEL_FOR_LINKOPTS = ["-fopenmp"]
