"""Unit reference data for //backend/gptq: llm-compressor 0.14.0.1's own GPTQ
functions (modifiers/gptq/helpers.py and gptq_quantize.py) and its
memoryless_minmax weight observer run on small synthetic weights and
inputs.

Rerun (CPU is enough; a PyTorch env with torch, llmcompressor and
compressed-tensors from PyPI):
    python make_gptq_unit_reference.py backend/gptq/testdata
Writes gptq_cases.safetensors and gptq_cases.json (+ versions.json).

Per case `c` (see CASES below), stacked over the batch of same-shaped modules:
  c.weight      [B, out, in] bf16    the modules' weights
  c.hessian     [B, in, in] float32  H / num_samples, accumulated by
                                     accumulate_hessian from c.input.<b>.<k>
  c.input.<b>.<k>                    the bf16 calibration inputs of module b
  c.scale, c.zero_point              the weight observer's qparams
  c.quantized   [B, out, in] float32 quantize_weight's result
  c.losses      [B] float32          the loss it logs per module
  c.rtn         [B] bool (as uint8)  whether the module fell back to RTN
Cases whose Hessian is built directly (not from inputs: an indefinite one
to make the Cholesky fail) have no c.input tensors.
"""
import json
import os
import sys

import compressed_tensors
import llmcompressor
import torch
from compressed_tensors.quantization import QuantizationArgs
from llmcompressor.modifiers.gptq.gptq_quantize import quantize_weight
from llmcompressor.modifiers.gptq.helpers import accumulate_hessian, make_empty_hessian
from llmcompressor.observers import Observer
from safetensors.torch import save_file

OUT = sys.argv[1]

INT8_CHANNEL = dict(num_bits=8, type="int", symmetric=True, strategy="channel")
INT4_G32 = dict(num_bits=4, type="int", symmetric=True, strategy="group", group_size=32)
INT4_G32_ASYM = dict(num_bits=4, type="int", symmetric=False, strategy="group", group_size=32)
INT8_TENSOR = dict(num_bits=8, type="int", symmetric=True, strategy="tensor")
FP8_CHANNEL = dict(num_bits=8, type="float", symmetric=True, strategy="channel")
FP8_BLOCK = dict(num_bits=8, type="float", symmetric=True, strategy="block",
                 block_structure=[16, 32])

# name: (args, actorder, batch, out, in, blocksize, percdamp, special)
CASES = {
    "int8_channel": (INT8_CHANNEL, None, 1, 64, 96, 128, 0.01, None),
    "int4_g32_weight_order": (INT4_G32, "weight", 1, 48, 128, 32, 0.01, None),
    "int4_g32_static_order_batch2": (INT4_G32, "static", 2, 40, 96, 64, 0.01, None),
    "int4_g32_asym_dead_columns": (INT4_G32_ASYM, None, 1, 32, 96, 64, 0.01, "dead"),
    "int8_tensor_weight_order": (INT8_TENSOR, "weight", 1, 32, 64, 16, 0.1, None),
    "fp8_channel": (FP8_CHANNEL, None, 1, 32, 64, 32, 0.01, None),
    "fp8_block_weight_order": (FP8_BLOCK, "weight", 1, 48, 96, 32, 0.01, None),
    # The middle module's Hessian is indefinite: it falls back to RTN.
    "int4_g32_cholesky_fails": (INT4_G32, "weight", 3, 24, 64, 32, 0.01, "indefinite"),
    # >= 16 same-shaped modules take the batched factorization.
    "int4_g32_batched16": (INT4_G32, "weight", 16, 16, 64, 32, 0.01, "indefinite"),
}


def make_inputs(generator, in_features, dead):
    """Three calibration batches shaped as upstream's hooks see them: a
    [1, T, in] sample, a [2, T, in] batch (two samples), a 2-D [T, in]."""
    shapes = [(1, 24, in_features), (2, 9, in_features), (13, in_features)]
    outliers = torch.randint(0, in_features, (4,), generator=generator)
    inputs = []
    for shape in shapes:
        x = torch.randn(shape, generator=generator)
        x[..., outliers] *= 8
        if dead:
            x[..., :5] = 0
        inputs.append(x.to(torch.bfloat16))
    return inputs


def main():
    os.makedirs(OUT, exist_ok=True)
    generator = torch.Generator().manual_seed(7)
    tensors = {}
    meta = {}
    for name, (args_dict, actorder, batch, rows, cols, blocksize, percdamp, special) in CASES.items():
        args = QuantizationArgs(**args_dict, actorder=actorder)
        weights, hessians, scales, zero_points = [], [], [], []
        for b in range(batch):
            linear = torch.nn.Linear(cols, rows, bias=False)
            weight = (torch.randn(rows, cols, generator=generator) * 0.05).to(torch.bfloat16)
            linear.weight.data = weight
            if special == "indefinite" and b == 1:
                # Not a Gram matrix: a negative eigenvalue dampening cannot lift.
                q, _ = torch.linalg.qr(torch.randn(cols, cols, generator=generator))
                eig = torch.rand(cols, generator=generator) + 0.5
                eig[3] = -4.0
                h = (q * eig) @ q.T
            else:
                h = make_empty_hessian(linear)
                n = torch.zeros(())
                for k, x in enumerate(make_inputs(generator, cols, special == "dead")):
                    tensors[f"{name}.input.{b}.{k}"] = x.contiguous()
                    h, n = accumulate_hessian(x, linear, h, n)
                meta.setdefault(name, {})["num_samples"] = float(n)
                h = h / n
            observer = Observer.load_from_registry("memoryless_minmax", base_name="weight",
                                                   args=args)
            observer(weight)
            qparams = observer.get_qparams()
            weights.append(weight)
            hessians.append(h)
            scales.append(qparams["scale"])
            zero_points.append(qparams["zero_point"])
        weight = torch.stack(weights)
        hessian = torch.stack(hessians)
        scale = torch.stack(scales)
        zero_point = torch.stack(zero_points)
        quantized, losses, rtn = quantize_weight(
            weights=weight.to(torch.float32), hessians=hessian.clone(), scale=scale,
            zero_point=zero_point, global_scale=None, quant_args=args,
            blocksize=blocksize, percdamp=percdamp)
        tensors.update({
            f"{name}.weight": weight.contiguous(),
            f"{name}.hessian": hessian.contiguous(),
            f"{name}.scale": scale.contiguous(),
            f"{name}.zero_point": zero_point.contiguous(),
            f"{name}.quantized": quantized.contiguous(),
            f"{name}.losses": losses.contiguous(),
            f"{name}.rtn": rtn.to(torch.uint8).contiguous(),
        })
        meta.setdefault(name, {}).update({
            "args": {k: v for k, v in args_dict.items()}, "actorder": actorder,
            "block_size": blocksize, "dampening_frac": percdamp,
            "losses": [float(x) for x in losses], "rtn": [bool(x) for x in rtn]})
    save_file(tensors, os.path.join(OUT, "gptq_cases.safetensors"))
    with open(os.path.join(OUT, "gptq_cases.json"), "w") as f:
        json.dump(meta, f, indent=1)
    with open(os.path.join(OUT, "versions.json"), "w") as f:
        json.dump({"torch": torch.__version__, "llmcompressor": llmcompressor.__version__,
                   "compressed_tensors": compressed_tensors.__version__}, f, indent=1)


if __name__ == "__main__":
    main()
