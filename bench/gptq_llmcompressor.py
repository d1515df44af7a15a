"""llm-compressor 0.14's own GPTQ on the work bench/gptq_bench.cc times
(never a timed test): the same shapes, W4A16 scheme, defaults and number of
calibration tokens, through the functions GPTQModifier runs in oneshot:
calibrate_module's accumulate_hessian for every Linear's hook call, then
on_sequential_epoch_end's weight observer (memoryless_minmax) and
compress_module_list (assign_batches, prepare_batch, quantize_weight).

    python bench/gptq_llmcompressor.py --shape=llama3-8b --samples=4 --seq_len=512

Needs torch, compressed-tensors and llmcompressor from PyPI (e.g. the pinned
reference env). Run beside the C++ bench on the same machine:
bench/gptq_side_by_side.sh.
"""
import argparse
import resource
import time

import torch
from compressed_tensors.quantization import QuantizationArgs, QuantizationScheme
from llmcompressor.modifiers.gptq.gptq_quantize import quantize_weight
from llmcompressor.modifiers.gptq.helpers import (
    accumulate_hessian, assign_batches, make_empty_hessian, prepare_batch)
from llmcompressor.observers import Observer


def linears(shape, experts):
    if shape == "llama3-8b":
        return [4096, 4096, 4096, 14336], [
            ("self_attn.q_proj", 4096, 4096, 0), ("self_attn.k_proj", 1024, 4096, 0),
            ("self_attn.v_proj", 1024, 4096, 0), ("self_attn.o_proj", 4096, 4096, 1),
            ("mlp.gate_proj", 14336, 4096, 2), ("mlp.up_proj", 14336, 4096, 2),
            ("mlp.down_proj", 4096, 14336, 3)]
    widths, out = [2048], []
    for e in range(experts):
        widths.append(768)
        out += [(f"mlp.experts.{e}.gate_proj", 768, 2048, 0),
                (f"mlp.experts.{e}.up_proj", 768, 2048, 0),
                (f"mlp.experts.{e}.down_proj", 2048, 768, e + 1)]
    return widths, out


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", default="llama3-8b", choices=["llama3-8b", "qwen3-30b-a3b"])
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--seq_len", type=int, default=512)
    parser.add_argument("--experts", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batched", default="auto", help="auto, none or a batch size")
    parser.add_argument("--threads", type=int, default=0)
    a = parser.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    batched = None if a.batched == "none" else ("auto" if a.batched == "auto" else int(a.batched))

    torch.manual_seed(0)
    args = QuantizationArgs(num_bits=4, type="int", symmetric=True, strategy="group",
                            group_size=128, actorder="static")
    widths, specs = linears(a.shape, a.experts)
    modules, names = [], {}
    for name, out, inp, _ in specs:
        m = torch.nn.Linear(inp, out, bias=False, dtype=torch.bfloat16, device=device)
        with torch.no_grad():
            m.weight.copy_(torch.randn(out, inp) * 0.02)
        m.quantization_scheme = QuantizationScheme(targets=["Linear"], weights=args)
        modules.append(m)
        names[m] = name

    hessians, num_samples = {}, {}
    hessian_seconds = 0.0
    for _ in range(a.samples):
        inputs = []
        for width in widths:
            x = torch.randn(1, a.seq_len, width)
            x[..., 7] *= 20
            inputs.append(x.to(device, torch.bfloat16))
        sync(device)
        start = time.perf_counter()
        with torch.no_grad():
            for m, (_, _, _, which) in zip(modules, specs):  # GPTQModifier.calibrate_module
                if m not in num_samples:
                    hessians[m] = make_empty_hessian(m, device=device)
                    num_samples[m] = torch.zeros((), device=device)
                hessians[m], num_samples[m] = accumulate_hessian(
                    inputs[which], m, hessians[m], num_samples[m])
        sync(device)
        hessian_seconds += time.perf_counter() - start

    start = time.perf_counter()
    loss = 0.0
    with torch.no_grad():
        for m in modules:  # observe(modules, base_name="weight")
            m.weight_observer = Observer.load_from_registry(
                "memoryless_minmax", base_name="weight", args=args)
            m.weight_observer(m.weight)
        for batch in assign_batches(list(num_samples.keys()), batched, 128):  # compress_module_list
            qparams = [m.weight_observer.get_qparams() for m in batch]
            weights, h, scales, zero_points, global_scales = prepare_batch(
                batch, qparams, hessians, num_samples)
            quantized, losses, _ = quantize_weight(
                weights=weights, hessians=h, scale=scales, zero_point=zero_points,
                global_scale=global_scales, quant_args=args, blocksize=128, percdamp=0.01)
            for i, m in enumerate(batch):
                m.weight.copy_(quantized[i].to(m.weight.dtype))
            loss += float(losses.sum())
    sync(device)
    solve_seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024.0 * 1024.0)
    print(f"llm-compressor GPTQ W4A16, {a.shape} layer, {len(modules)} Linears, "
          f"{a.samples} x {a.seq_len} tokens, device {device}, {torch.get_num_threads()} threads")
    print(f"  hessians: {len(modules)} accumulated                          {hessian_seconds:8.2f} s")
    print(f"  solve (observer + factorization + quantization)         {solve_seconds:8.2f} s")
    print(f"  per layer                                               {hessian_seconds + solve_seconds:8.2f} s")
    print(f"  sum of logged losses {loss:.6g}; peak host memory {peak:.2f} GiB")


if __name__ == "__main__":
    main()
