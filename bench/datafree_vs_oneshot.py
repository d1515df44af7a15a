#!/usr/bin/env python3
"""Times a data-free run (RTN W4A16, no calibration pass) of `wring compress`
against llm-compressor's `oneshot` on the same checkpoint, and checks that
the two checkpoints hold the same tensors.

A weight-only recipe needs no activations, so llm-compressor picks its
data-free pipeline; wring does the same (pipeline::NeedsCalibrationPass) and
with `--eval-samples 0` runs no forward pass at all. This prints wall times
(median of --repeats runs, each a fresh process: model load, compression and
writing included) and the tensor comparison. Numbers, never a timed test.

  python bench/datafree_vs_oneshot.py --wring bazel-bin/wring \\
      --model DIR --dataset FILE.jsonl [--group-size 64] [--repeats 3]

Needs a Python with llmcompressor 0.14.0.1 / compressed-tensors 0.19.0 /
transformers 5.17 / torch (see tools/reference/ or the README's reference
environment). `--dataset` is only read by wring (for its tokenizer check and
the calibration-set bookkeeping; no sample runs through the model).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ONESHOT = r"""
import sys, time
start = time.perf_counter()
import torch
torch.Tensor.pin_memory = lambda self, *a, **k: self  # no GPU here
from transformers import AutoModelForCausalLM
from llmcompressor import oneshot
model = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype="auto")
oneshot(model=model, recipe=sys.argv[2], output_dir=sys.argv[3])
print("in-process seconds", time.perf_counter() - start)
"""


def recipe(group_size):
    return f"""quant_stage:
  quant_modifiers:
    QuantizationModifier:
      targets: [Linear]
      ignore: [lm_head]
      config_groups:
        group_0:
          targets: [Linear]
          weights: {{num_bits: 4, type: int, symmetric: true, strategy: group, group_size: {group_size}}}
"""


def timed(cmd):
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr[-4000:]}")
    return seconds


def tensors(directory):
    from safetensors.numpy import load_file
    out = {}
    for name in sorted(os.listdir(directory)):
        if name.endswith(".safetensors"):
            out.update(load_file(os.path.join(directory, name)))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wring", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--group-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--python", default=sys.executable, help="Python with llmcompressor")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="wring-datafree-")
    recipe_path = os.path.join(work, "recipe.yaml")
    with open(recipe_path, "w") as f:
        f.write(recipe(args.group_size))
    script = os.path.join(work, "oneshot_rtn.py")
    with open(script, "w") as f:
        f.write(ONESHOT)

    wring_times, oneshot_times = [], []
    for i in range(args.repeats):
        out = os.path.join(work, f"wring-{i}")
        wring_times.append(timed([args.wring, "compress", "--model", args.model, "--recipe",
                                  recipe_path, "--dataset", args.dataset, "--eval-samples", "0",
                                  "--num-samples", "1", "--quiet", "--output", out]))
        out = os.path.join(work, f"oneshot-{i}")
        oneshot_times.append(timed([args.python, script, args.model, recipe_path, out]))

    ours, theirs = tensors(os.path.join(work, "wring-0")), tensors(os.path.join(work, "oneshot-0"))
    differing = [n for n in theirs if n in ours and
                 (ours[n].shape != theirs[n].shape or ours[n].tobytes() != theirs[n].tobytes())]
    print(json.dumps({
        "model": args.model,
        "recipe": f"RTN W4A16 group {args.group_size}, data-free",
        "wring_seconds_median": round(statistics.median(wring_times), 2),
        "oneshot_seconds_median": round(statistics.median(oneshot_times), 2),
        "wring_seconds": [round(t, 2) for t in wring_times],
        "oneshot_seconds": [round(t, 2) for t in oneshot_times],
        "tensors_only_in_wring": sorted(set(ours) - set(theirs)),
        "tensors_only_in_oneshot": sorted(set(theirs) - set(ours)),
        "tensors_differing": differing,
        "work_dir": work,
    }, indent=2))


if __name__ == "__main__":
    main()
