"""Reference data for wring's GPTQ and SmoothQuant: llm-compressor's own
oneshot with GPTQModifier (alone and after SmoothQuantModifier, AWQModifier
or SpinQuantModifier) on the tiny reference models, the checkpoints it
saves, and what each modifier computed on the way.

Rerun (CPU is enough; a PyTorch env with transformers, llmcompressor and
compressed-tensors from PyPI; reference: llmcompressor 0.14.0.1,
compressed-tensors 0.19.0, transformers 5.17, torch 2.10):
    python make_gptq_reference.py backend/job/testdata/gptq [RECIPE...]
Naming recipes rewrites only their references.

Models (read, not written): backend/job/testdata/oneshot/tiny_llama (GQA,
llama3 RoPE, an outlier embedding channel), backend/job/testdata/awq/tiny_llama
(multi-head with outlier channels, all four AWQ mappings resolve) and
backend/spinquant/testdata/tiny_llama (one layer, tied embeddings).

Writes:
  calibration.jsonl  16 x 32 fixed token ids: the first 8 calibrate, the
                     next 8 are wring's held-out samples (the SpinQuant model,
                     vocabulary 128, calibrates on its own
                     backend/spinquant/testdata/calibration.jsonl).
  recipes/<name>.yaml
  reference/<name>/{config.json,model.safetensors}: what oneshot +
                     save_pretrained wrote.
  reference/<name>/gptq.json: every GPTQ batch in the order upstream
                     quantized it: module names, the loss CompressionLogger
                     logs per module, whether it fell back to RTN, and the
                     number of samples its Hessian saw.
  reference/<name>/gptq_hessians.safetensors (only for recipes in
                     HESSIANS_FOR): the normalized Hessian (H / num_samples,
                     float32) of every Linear of layer 0, as quantize_weight
                     received it.
  reference/<name>/smoothquant.safetensors (recipes with SmoothQuant):
                     per smooth layer `<name>.min` / `.max` (the per-channel
                     activation range observed over calibration) and
                     `.scales` (after the 1e-5 floor).
  versions.json

`pipeline`: llm-compressor's oneshot runs each modifier in its own
calibration pass over the whole model ("independent", its default); the
`_sequential` variants pass pipeline="sequential", which runs all modifiers
in one pass per layer (GPTQ's Hessians then see the inputs before this
layer's smoothing).
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../../..", "testing"))
import oneshot_reference as ref  # noqa: E402  (backend/testing/oneshot_reference.py)
from llmcompressor.modifiers.gptq import base as gptq_base  # noqa: E402
from llmcompressor.modifiers.transform.smoothquant import base as sq_base  # noqa: E402
from llmcompressor.pipelines.cache import IntermediatesCache  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402

OUT = sys.argv[1]
NUM_SAMPLES = 8
EVAL_SAMPLES = 8
SEQ_LEN = 32

MODELS = {
    "oneshot": os.path.join(HERE, "..", "oneshot", "tiny_llama"),
    "awq": os.path.join(HERE, "..", "awq", "tiny_llama"),
    "spinquant": os.path.join(HERE, "../../..", "spinquant", "testdata", "tiny_llama"),
}

GPTQ = "    GPTQModifier:\n      targets: [Linear]\n      ignore: [lm_head]\n"
KV = ("      kv_cache_scheme: {num_bits: 8, type: float, strategy: tensor, "
      "symmetric: true, dynamic: false, observer: static_minmax}\n")
GROUP32 = """      config_groups:
        group_0:
          targets: [Linear]
          weights: {num_bits: 4, type: int, symmetric: true, strategy: group, group_size: 32}
"""
SQ = "    SmoothQuantModifier:\n      smoothing_strength: 0.8\n"
AWQ = "    AWQModifier: {}\n"
SPIN = "    SpinQuantModifier:\n      rotations: [R1, R2]\n      transform_type: hadamard\n"

# name -> (model, modifiers text, pipeline)
RECIPES = {
    # Defaults: actorder static, block_size 128, dampening_frac 0.01.
    "gptq_w4a16": ("oneshot", GPTQ + "      scheme: W4A16\n", "sequential"),
    # Four groups per row with activation ordering across them, several blocks.
    "gptq_w4a16_g32_weight": (
        "oneshot", GPTQ + "      actorder: weight\n      block_size: 64\n"
        "      dampening_frac: 0.05\n" + GROUP32, "sequential"),
    "gptq_w4a16_asym_no_actorder": (
        "oneshot", GPTQ + "      actorder: null\n      scheme: W4A16_ASYM\n", "sequential"),
    "gptq_w8a8": ("oneshot", GPTQ + "      scheme: W8A8\n", "sequential"),
    "gptq_w4a16_fp8_kv": ("oneshot", GPTQ + "      scheme: W4A16\n" + KV, "sequential"),
    "sq_gptq_w8a8": ("oneshot", SQ + GPTQ + "      scheme: W8A8\n", "independent"),
    "sq_gptq_w8a8_sequential": ("oneshot", SQ + GPTQ + "      scheme: W8A8\n", "sequential"),
    "awq_gptq_w4a16": ("awq", AWQ + GPTQ + "      scheme: W4A16\n", "independent"),
    "awq_gptq_w4a16_sequential": ("awq", AWQ + GPTQ + "      scheme: W4A16\n", "sequential"),
    "spinquant_gptq_w4a16": ("spinquant", SPIN + GPTQ + "      scheme: W4A16\n", "independent"),
}
HESSIANS_FOR = {"gptq_w4a16"}
ONLY = set(sys.argv[2:])


def recipe_text(modifiers):
    return "quant_stage:\n  quant_modifiers:\n" + modifiers


# What the wrapped upstream functions saw, per oneshot run.
batches = []       # [{"modules": [module...], "losses": [...], "rtn": [...], "samples": [...]}]
hessians = {}      # module -> normalized Hessian
sq_ranges = {}     # smooth name -> (min, max)
sq_scales = {}     # smooth name -> scales after the floor

original_prepare_batch = gptq_base.prepare_batch
original_quantize_weight = gptq_base.quantize_weight


def capture_prepare_batch(batch, batch_qparams, hessians_by_module, num_samples_by_module):
    samples = [float(num_samples_by_module[m]) for m in batch]
    for m in batch:
        hessians[m] = (hessians_by_module[m] / num_samples_by_module[m]).clone()
    batches.append({"modules": list(batch), "samples": samples})
    return original_prepare_batch(batch, batch_qparams, hessians_by_module,
                                  num_samples_by_module)


def capture_quantize_weight(*args, **kwargs):
    quantized, losses, rtn = original_quantize_weight(*args, **kwargs)
    batches[-1]["losses"] = [float(x) for x in losses]
    batches[-1]["rtn"] = [bool(x) for x in rtn]
    return quantized, losses, rtn


original_apply_smoothing = sq_base.SmoothQuantModifier._apply_smoothing
original_smoothing_scales = sq_base.SmoothQuantModifier._calculate_smoothing_scales
current_smooth = []


def capture_apply_smoothing(self, model):
    for mapping in self.resolved_mappings_:
        if mapping.smooth_name in self.scales_:
            s = self.scales_[mapping.smooth_name]
            sq_ranges[mapping.smooth_name] = (s.min_channel_vals.clone(),
                                              s.max_channel_vals.clone())
            current_smooth.append(mapping.smooth_name)
    return original_apply_smoothing(self, model)


def capture_smoothing_scales(self, balance_layers, activation_scales):
    scales = original_smoothing_scales(self, balance_layers, activation_scales)
    name = current_smooth.pop(0)
    sq_scales[name] = torch.maximum(
        scales, torch.Tensor([sq_base.MINIMUM_SMOOTHING_SCALE]).to(scales.device)).clone()
    return scales


gptq_base.prepare_batch = capture_prepare_batch
gptq_base.quantize_weight = capture_quantize_weight
sq_base.SmoothQuantModifier._apply_smoothing = capture_apply_smoothing
sq_base.SmoothQuantModifier._calculate_smoothing_scales = capture_smoothing_scales
# Pinning host memory is only a transfer optimisation and needs a CUDA driver.
if not torch.cuda.is_available():
    IntermediatesCache.pin_memory = lambda self, *args, **kwargs: None


def main():
    os.makedirs(OUT, exist_ok=True)
    # The first NUM_SAMPLES calibrate; the rest are wring's held-out samples.
    ids = ref.write_calibration_ids(OUT, NUM_SAMPLES + EVAL_SAMPLES, SEQ_LEN, 256)[:NUM_SAMPLES]
    with open(os.path.join(HERE, "../../..", "spinquant", "testdata", "calibration.jsonl")) as f:
        spinquant_ids = [json.loads(line)["input_ids"] for line in f][:NUM_SAMPLES]
    for name, (model_key, modifiers, pipeline) in RECIPES.items():
        if ONLY and name not in ONLY:
            continue
        model_dir = MODELS[model_key]
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        recipe_path = ref.write_recipe(OUT, name, recipe_text(modifiers))
        out_dir = os.path.join(OUT, "reference", name)
        batches.clear()
        hessians.clear()
        sq_ranges.clear()
        sq_scales.clear()
        model = ref.run_oneshot(model_dir, tokenizer,
                                spinquant_ids if model_key == "spinquant" else ids,
                                recipe_path, out_dir,
                                pipeline=pipeline)
        names = {m: n for n, m in model.named_modules()}
        record = {"model": os.path.relpath(model_dir, HERE), "pipeline": pipeline,
                  "batches": [{"modules": [names[m] for m in b["modules"]],
                               "losses": b["losses"], "rtn": b["rtn"],
                               "samples": b["samples"]} for b in batches]}
        with open(os.path.join(out_dir, "gptq.json"), "w") as f:
            json.dump(record, f, indent=1)
        if name in HESSIANS_FOR:
            save_file({names[m]: h.contiguous() for m, h in hessians.items()
                       if names[m].startswith("model.layers.0.")},
                      os.path.join(out_dir, "gptq_hessians.safetensors"))
        if sq_ranges:
            tensors = {}
            for smooth, (lo, hi) in sq_ranges.items():
                tensors[smooth + ".min"] = lo.contiguous()
                tensors[smooth + ".max"] = hi.contiguous()
                tensors[smooth + ".scales"] = sq_scales[smooth].contiguous()
            save_file(tensors, os.path.join(out_dir, "smoothquant.safetensors"))
    ref.write_versions(OUT)


if __name__ == "__main__":
    main()
