"""transformers' perplexity on each GPTQ reference checkpoint that oneshot
wrote (reference/<name>/, make_gptq_reference.py), over the held-out rows
8-15 of calibration.jsonl: what `wring compress --eval-samples 8` reports
for the same checkpoint, so gptq_job_test can check that wring's report
predicts what transformers measures on such a file.

Reads the checkpoints, runs no oneshot. Rerun (CPU; reference env:
transformers 5.17, compressed-tensors 0.19.0, torch 2.10, see versions.json):
    python make_gptq_perplexity.py backend/job/testdata/gptq
Writes reference/<name>/perplexity.json for every reference whose model
calibrated on calibration.jsonl (the SpinQuant one has its own 8 rows, none
held out) and that is not a `_sequential` variant (not tested).
"""
import json
import math
import os
import sys

import torch
import transformers

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../../..", "testing"))
import oneshot_reference as ref  # noqa: E402  (backend/testing/oneshot_reference.py)

HELD_OUT = slice(8, 16)


def held_out_rows(gptq_dir):
    with open(os.path.join(gptq_dir, "calibration.jsonl")) as f:
        return [json.loads(line)["input_ids"] for line in f if line.strip()][HELD_OUT]


def perplexity(model_dir, rows):
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype="auto").eval()
    nll, tokens = ref.nll_of(model, rows)
    return math.exp(nll / tokens), tokens


def main():
    gptq_dir = sys.argv[1]
    rows = held_out_rows(gptq_dir)
    reference = os.path.join(gptq_dir, "reference")
    for name in sorted(os.listdir(reference)):
        with open(os.path.join(reference, name, "gptq.json")) as f:
            model = json.load(f)["model"]
        if name.endswith("_sequential") or "spinquant" in model:
            continue
        value, tokens = perplexity(os.path.join(reference, name), rows)
        result = {"rows": "8-15", "perplexity": value, "tokens": tokens,
                  "transformers": transformers.__version__, "torch": torch.__version__}
        with open(os.path.join(reference, name, "perplexity.json"), "w") as f:
            json.dump(result, f, indent=1)
            f.write("\n")
        print(name, result, flush=True)


if __name__ == "__main__":
    main()
