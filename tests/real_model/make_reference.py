"""Reference numbers for //tests/real_model:real_model_test, from
llm-compressor, compressed-tensors and transformers on the real model that
tests/real_model/setup.sh fetches and converts.

Not run by the tests or CI: it needs PyTorch, transformers, llmcompressor
and compressed-tensors (the team's reference env: llmcompressor 0.14.0.1,
compressed-tensors 0.19.0, transformers 5.17, torch 2.10 CPU; recorded in
the output). After `bash tools/setup.sh` and `bazel build //:wring`:

    python tests/real_model/make_reference.py [--wring-only] WORK_DIR [RECIPE...]

RECIPE names recipes/*.yaml (default: all three); the test checks the
recipes the reference has and says which it lacks.

WORK_DIR keeps the checkpoints (rerunning reuses them; delete one to redo
it). It writes tests/real_model/reference.json (keeping the numbers of recipes
not named, when they were measured on the same inputs) with:
  - inputs: SHA-256 of the converted model and of the token windows, so the
    test knows the set-up made what the numbers were measured on;
  - conversion: convert_gguf.py's tensors against transformers' own GGUF
    loader on the same file (the number of differing tensors must be 0);
  - llmcompressor.NAME: for each recipe, oneshot's checkpoint
    (WORK_DIR/llmcompressor/NAME): the perplexity transformers measures on
    it and a fingerprint of each of its tensors (fingerprint.py);
  - transformers.original: the original model's perplexity;
  - wring.NAME: the perplexity transformers measures on the checkpoint
    `wring compress` (bazel-bin/wring, the test's flags) wrote to
    WORK_DIR/wring/NAME, what wring itself reported for it, and its
    tensors' combined fingerprint (which tells the test whether its own run
    wrote the same checkpoint).

Perplexity: next-token NLL over each held-out window (the 16 after the 32
calibration windows), summed, exp of the mean: what wring's quality report
computes. Everything in float32 on the CPU.
"""
import json
import math
import os
import subprocess
import sys
import time

import torch
import transformers
from datasets import Dataset
from safetensors.numpy import load_file as load_numpy
from safetensors.torch import load_file

import compressed_tensors
import llmcompressor
from llmcompressor import oneshot
from llmcompressor.pipelines.cache import IntermediatesCache

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import real_model_layout as layout  # noqa: E402
from fingerprint import checkpoint_fingerprints, combined, file_sha256  # noqa: E402

RECIPES = ("w4a16_rtn", "w4a16_awq", "w4a16_gptq", "w8a8")

# Without a GPU, llm-compressor's sequential pipeline would pin CPU memory.
IntermediatesCache.pin_memory = lambda self, *args, **kwargs: None


def windows():
    with open(layout.DATASET) as f:
        return [json.loads(line)["input_ids"] for line in f if line.strip()]


def checkpoint_perplexity(path, rows):
    start = time.time()
    model = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    nll, tokens = 0.0, 0
    with torch.no_grad():
        for row in rows:
            ids = torch.tensor([row])
            log_probs = torch.log_softmax(model(ids).logits.float()[0, :-1], -1)
            nll -= log_probs.gather(-1, ids[0, 1:, None]).sum().item()
            tokens += len(row) - 1
    value = math.exp(nll / tokens)
    print("%s: perplexity %.6f over %d tokens (%.0f s)" % (path, value, tokens, time.time() - start),
          flush=True)
    return value


def tensor_fingerprints(checkpoint):
    return checkpoint_fingerprints(load_numpy(os.path.join(checkpoint, "model.safetensors")))


def check_conversion():
    gguf_dir, gguf_name = os.path.split(layout.GGUF)
    model = transformers.AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_name)
    expected = {k: v for k, v in model.state_dict().items() if k != "lm_head.weight"}
    converted = load_file(os.path.join(layout.MODEL, "model.safetensors"))
    differing = sorted(name for name in expected
                       if name not in converted or not torch.equal(expected[name], converted[name]))
    extra = sorted(set(converted) - set(expected))
    print("conversion: %d tensors, %d differ, %d extra" % (len(expected), len(differing), len(extra)))
    return {"tensors": len(expected), "differing": differing, "extra": extra}


def run_oneshot(name, rows, out):
    tokenizer = transformers.AutoTokenizer.from_pretrained(layout.MODEL)
    model = transformers.AutoModelForCausalLM.from_pretrained(layout.MODEL, dtype=torch.float32)
    calibration = rows[:layout.CALIBRATION_SAMPLES]
    dataset = Dataset.from_dict({"input_ids": calibration,
                                 "attention_mask": [[1] * len(r) for r in calibration]})
    start = time.time()
    oneshot(model=model, processor=tokenizer, dataset=dataset,
            recipe=os.path.join(HERE, "recipes", name + ".yaml"),
            num_calibration_samples=len(calibration), max_seq_length=len(calibration[0]),
            shuffle_calibration_samples=False, pipeline="sequential")
    print("oneshot %s: %.0f s" % (name, time.time() - start), flush=True)
    model.save_pretrained(out, save_compressed=True)
    tokenizer.save_pretrained(out)


def run_wring(name, out):
    os.makedirs(os.path.dirname(out), exist_ok=True)
    subprocess.run([os.path.join(layout.REPO, "bazel-bin", "wring"), "compress",
                    "--model", layout.MODEL, "--recipe", os.path.join(HERE, "recipes", name + ".yaml"),
                    "--dataset", layout.DATASET, "--output", out] + layout.WRING_FLAGS, check=True)


def main():
    args = [a for a in sys.argv[1:] if a != "--wring-only"]
    # --wring-only: measure wring's checkpoints without running oneshot
    # (llm-compressor's AWQ on this model takes hours on a small CPU).
    wring_only = len(args) < len(sys.argv) - 1
    work = args[0]
    recipes = args[1:] or RECIPES
    rows = windows()
    start = layout.CALIBRATION_SAMPLES
    evaluation = rows[start:start + layout.EVALUATION_SAMPLES]
    reference = {
        "inputs": {"model_sha256": file_sha256(os.path.join(layout.MODEL, "model.safetensors")),
                   "dataset_sha256": file_sha256(layout.DATASET)},
        "conversion": check_conversion(),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "llmcompressor": llmcompressor.__version__,
                     "compressed_tensors": compressed_tensors.__version__},
        "transformers": {"original": checkpoint_perplexity(layout.MODEL, evaluation)},
        "llmcompressor": {},
        "wring": {},
    }
    # Recipes not named now keep their numbers, if they were measured on the
    # same inputs: one recipe can be (re)measured without redoing the others.
    path = os.path.join(HERE, "reference.json")
    if os.path.exists(path):
        with open(path) as f:
            previous = json.load(f)
        if previous.get("inputs") == reference["inputs"]:
            for side in ("llmcompressor", "wring"):
                # --wring-only keeps oneshot's numbers of the named recipes too.
                keep_named = wring_only and side == "llmcompressor"
                reference[side].update({name: value for name, value in previous.get(side, {}).items()
                                        if keep_named or name not in recipes})
    for name in recipes:
        theirs = os.path.join(work, "llmcompressor", name)
        if not wring_only:
            if not os.path.exists(os.path.join(theirs, "model.safetensors")):
                run_oneshot(name, rows, theirs)
            reference["llmcompressor"][name] = {"perplexity": checkpoint_perplexity(theirs, evaluation),
                                                "tensors": tensor_fingerprints(theirs)}
        ours = os.path.join(work, "wring", name)
        if not os.path.exists(ours):
            run_wring(name, ours)
        with open(os.path.join(ours, "wring_quality.json")) as f:
            reported = json.load(f)["perplexity"]
        reference["wring"][name] = {
            "transformers_perplexity": checkpoint_perplexity(ours, evaluation),
            "reported_perplexity": reported["compressed"],
            "reported_original_perplexity": reported["original"],
            "tensors_fingerprint": combined(tensor_fingerprints(ours)),
        }
    with open(path, "w") as f:
        json.dump(reference, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
