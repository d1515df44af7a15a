"""Prints the reference table of work_split_test.cc from upstream's own code.

Run with the reference environment (llm-compressor 0.14.0.1,
compressed-tensors 0.19.0):
    /work/refvenv/bin/python backend/distributed/testdata/make_work_split_reference.py
and paste the output over the tables in work_split_test.cc.
"""
from compressed_tensors.distributed import greedy_bin_packing
from llmcompressor.datasets.utils import _get_partition_start_end

# (55, 11) and (90, 10) are cases where upstream's float64 product floors
# below the exact n * r / w.
SLICES = [(512, 1), (512, 2), (512, 3), (7, 3), (3, 4), (55, 11), (90, 10), (1000, 7)]
print("// {num_samples, world_size, {begin_0, end_0, begin_1, end_1, ...}}")
for n, w in SLICES:
    bounds = []
    for r in range(w):
        bounds.extend(_get_partition_start_end(n, r, w))
    print("{%d, %d, {%s}}," % (n, w, ", ".join(map(str, bounds))))

# Weights of a Llama decoder layer's Linears (q, k, v, o, gate, up, down),
# hidden 4096, kv 1024, intermediate 14336, and a case with ties.
PACKING = [
    ([4096 * 4096, 1024 * 4096, 1024 * 4096, 4096 * 4096, 14336 * 4096, 14336 * 4096,
      4096 * 14336], 2),
    ([4096 * 4096, 1024 * 4096, 1024 * 4096, 4096 * 4096, 14336 * 4096, 14336 * 4096,
      4096 * 14336], 3),
    ([5, 5, 5, 5, 1, 9], 4),
    ([3, 1, 2], 5),
]
print("// {weights, num_bins, bin of each item}")
for weights, bins in PACKING:
    items = list(range(len(weights)))
    _, _, item_to_bin = greedy_bin_packing(items, bins, item_weight_fn=lambda i: weights[i])
    print("{{%s}, %d, {%s}}," % (", ".join(map(str, weights)), bins,
                                 ", ".join(str(item_to_bin[i]) for i in range(len(weights)))))
