"""Unit reference data for //backend/smoothquant: llm-compressor 0.14.0.1's
own SmoothQuantModifier computing smoothing scales and smoothing weights
(_calculate_smoothing_scales, _apply_smoothing) on small synthetic layers.

Rerun (CPU is enough; a PyTorch env with torch and llmcompressor from PyPI):
    python make_smoothquant_unit_reference.py backend/smoothquant/testdata
Writes smoothquant_cases.safetensors (+ versions.json). Per case `c`:
  c.min, c.max            the smooth layer's per-channel output range (bf16)
  c.smooth.weight [, c.smooth.bias]   before smoothing
  c.balance.<k>.weight    before smoothing
  c.scales                the scales applied (float32, after the 1e-5 floor)
  c.smoothed.smooth.weight [, .bias], c.smoothed.balance.<k>.weight
CASES below gives each case's strength, algorithm and smooth-layer kind.
"""
import json
import os
import sys

import llmcompressor
import torch
from llmcompressor.modifiers.transform.smoothquant.base import (
    MINIMUM_SMOOTHING_SCALE, SmoothQuantMapping, SmoothQuantModifier, SmoothQuantScale)
from safetensors.torch import save_file

OUT = sys.argv[1]

# name: (smoothing_strength, algorithm, smooth kind, balance out-features)
CASES = {
    "norm_strength_0_5": (0.5, "smoothquant", "norm", [48, 16, 16]),
    "norm_strength_0_8": (0.8, "smoothquant", "norm", [96, 96]),
    "norm_strength_1": (1.0, "smoothquant", "norm", [32]),
    # A column of zeros in every balance weight: that channel keeps the
    # activation range as its scale.
    "norm_zero_weight_column": (0.5, "smoothquant", "norm_zero_column", [32, 8]),
    "linear_with_bias_0_7": (0.7, "smoothquant", "linear", [40]),
    "log_equalization": (0.5, "log_equalization", "norm", [48, 16]),
}
CHANNELS = 64


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(11)
    tensors = {}
    for name, (strength, algorithm, kind, outs) in CASES.items():
        if kind == "linear":
            smooth = torch.nn.Linear(32, CHANNELS, bias=True, dtype=torch.bfloat16)
            with torch.no_grad():
                smooth.weight.copy_(torch.randn(CHANNELS, 32, generator=g) * 0.1)
                smooth.bias.copy_(torch.randn(CHANNELS, generator=g) * 0.1)
        else:
            smooth = torch.nn.RMSNorm(CHANNELS, dtype=torch.bfloat16)
            with torch.no_grad():
                smooth.weight.copy_(0.5 + torch.rand(CHANNELS, generator=g))
        balance = []
        for out in outs:
            layer = torch.nn.Linear(CHANNELS, out, bias=False, dtype=torch.bfloat16)
            with torch.no_grad():
                w = torch.randn(out, CHANNELS, generator=g) * 0.05
                w[:, torch.randint(0, CHANNELS, (3,), generator=g)] *= 10
                if kind == "norm_zero_column":
                    w[:, 7] = 0
                layer.weight.copy_(w)
            balance.append(layer)
        outputs = torch.randn(300, CHANNELS, generator=g)
        outputs[:, torch.randint(0, CHANNELS, (4,), generator=g)] *= 30
        outputs = outputs.to(torch.bfloat16)
        lo, hi = outputs.min(dim=0)[0], outputs.max(dim=0)[0]
        tensors[f"{name}.min"] = lo
        tensors[f"{name}.max"] = hi
        for param, value in smooth.named_parameters():
            tensors[f"{name}.smooth.{param}"] = value.detach().clone()
        for k, layer in enumerate(balance):
            tensors[f"{name}.balance.{k}.weight"] = layer.weight.detach().clone()

        modifier = SmoothQuantModifier(smoothing_strength=strength, algorithm=algorithm)
        modifier.resolved_mappings_ = [SmoothQuantMapping("smooth", smooth, balance)]
        modifier.scales_ = {"smooth": SmoothQuantScale(lo, hi)}
        scales = modifier._calculate_smoothing_scales(balance, hi - lo)
        tensors[f"{name}.scales"] = torch.maximum(
            scales, torch.Tensor([MINIMUM_SMOOTHING_SCALE])).contiguous()
        modifier._apply_smoothing(model=None)
        for param, value in smooth.named_parameters():
            tensors[f"{name}.smoothed.smooth.{param}"] = value.detach().clone()
        for k, layer in enumerate(balance):
            tensors[f"{name}.smoothed.balance.{k}.weight"] = layer.weight.detach().clone()
    save_file({k: v.contiguous() for k, v in tensors.items()},
              os.path.join(OUT, "smoothquant_cases.safetensors"))
    with open(os.path.join(OUT, "versions.json"), "w") as f:
        json.dump({"torch": torch.__version__, "llmcompressor": llmcompressor.__version__},
                  f, indent=1)


if __name__ == "__main__":
    main()
