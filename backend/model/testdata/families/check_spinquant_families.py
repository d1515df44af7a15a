"""Does llm-compressor's SpinQuantModifier keep each family's function?
(The evidence behind UPSTREAM_NOTES.md's SpinQuant section.)

Runs oneshot with SpinQuantModifier(transform_type=hadamard) and no
quantization on the fp32 forward-reference models beside this file, once with
rotations [R1, R2] and once with none, and prints the largest logit difference
between the two on the reference ids. Both runs also centre the embeddings and
fuse the norms (SpinQuant does that before rotating; centring is not
function-preserving under RMSNorm, so even Llama's logits move by O(1) against
the original model: upstream's own test allows an MSE of 8e-3); comparing the
two isolates the rotations, which change fp32 logits by ~1e-5 where the
mappings fit the model, by O(1) (or fail) where they do not.

    nice -n 19 /work/venv-h15r/bin/python \
        backend/model/testdata/families/check_spinquant_families.py
"""
import os
import sys
import tempfile

import torch
import transformers
from datasets import Dataset
from llmcompressor import oneshot
from llmcompressor.modifiers.transform import SpinQuantModifier
from safetensors.torch import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../../..", "testing"))
import oneshot_reference as ref  # noqa: E402  (backend/testing/oneshot_reference.py)
FAMILIES = {
    # Control: the architecture SpinQuant's registry lists.
    "../llama_fp32_llama3rope_sharded": transformers.AutoModelForCausalLM,
    "qwen3_moe": transformers.AutoModelForCausalLM,
    "qwen2_moe": transformers.AutoModelForCausalLM,
    "mixtral": transformers.AutoModelForCausalLM,
    "qwen3_next": transformers.AutoModelForCausalLM,
    "qwen3_5_text": transformers.Qwen3_5ForConditionalGeneration,
    "qwen3_5_moe_text": transformers.Qwen3_5MoeForConditionalGeneration,
    "gemma3_text": transformers.AutoModelForCausalLM,
    "phi3": transformers.AutoModelForCausalLM,
}


def spinquant_logits(cls, path, ids, tokenizer, rotations):
    model = cls.from_pretrained(path, dtype=torch.float32, attn_implementation="eager").eval()
    dataset = Dataset.from_dict({"input_ids": ids.tolist(), "attention_mask": torch.ones_like(ids).tolist()})
    oneshot(model=model, processor=tokenizer, dataset=dataset,
            recipe=SpinQuantModifier(rotations=rotations, transform_type="hadamard"),
            num_calibration_samples=ids.shape[0], max_seq_length=ids.shape[1], shuffle_calibration_samples=False)
    with torch.no_grad():
        return model(input_ids=ids, use_cache=False).logits


def main():
    tokenizer = ref.save_word_level_tokenizer(tempfile.mkdtemp(), 64)
    for name, cls in FAMILIES.items():
        path = os.path.join(HERE, name)
        ids = load_file(os.path.join(path, "reference.safetensors"))["input_ids"]
        try:
            unrotated = spinquant_logits(cls, path, ids, tokenizer, [])
            rotated = spinquant_logits(cls, path, ids, tokenizer, ["R1", "R2"])
            result = f"max |logit change by R1+R2| {float((rotated - unrotated).abs().max()):.3g} " \
                     f"(|logits| max {float(unrotated.abs().max()):.3g})"
        except Exception as error:  # the refusal or crash is the finding
            where = error.__traceback__
            while where.tb_next:
                where = where.tb_next
            detail = (str(error).splitlines() or [""])[0][:200]
            result = f"{type(error).__name__} {detail} at {os.path.basename(where.tb_frame.f_code.co_filename)}:" \
                     f"{where.tb_lineno}"
        print(f"{name}: {cls.__name__}: {result}", flush=True)


if __name__ == "__main__":
    main()
