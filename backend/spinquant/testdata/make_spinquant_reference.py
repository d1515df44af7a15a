"""Reference data for //backend/spinquant and //backend/job:spinquant_job_test,
written by llm-compressor's SpinQuantModifier (oneshot) and compressed-tensors'
Hadamard constructors.

Rerun (CPU is enough; the pinned env of tools/reference/requirements.txt):
    python make_spinquant_reference.py backend/spinquant/testdata [RECIPE...]
Naming recipes rewrites only their references (the model, data and
matrices are rewritten too; they are deterministic).

Writes:
  tiny_llama/        random-init Llama, 1 layer, hidden = intermediate = 128,
                     4 heads / 2 kv heads of 32, tied embeddings, bf16, with an
                     outlier embedding channel; word-level tokenizer.
  calibration.jsonl  8 x 32 fixed token ids.
  recipes/<name>.yaml, reference/<name>/{config.json,model.safetensors}:
                     what oneshot + save_pretrained wrote for each recipe
                     (rotated-only recipes give the rotated dense weights).
  hadamards.safetensors  compressed-tensors' random_hadamard_matrix for a few
                     sizes (fresh torch.Generator(), as each TransformFactory
                     uses) and deterministic_hadamard_matrix(64).
  versions.json
"""
import os
import sys

import torch
import transformers
from safetensors.torch import save_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../..", "testing"))
import oneshot_reference as ref  # noqa: E402  (backend/testing/oneshot_reference.py)
from compressed_tensors.transform.utils.hadamard import (  # noqa: E402
    deterministic_hadamard_matrix, random_hadamard_matrix)

OUT = sys.argv[1]
NUM_SAMPLES = 8
SEQ_LEN = 32

SPIN = "    SpinQuantModifier:\n      rotations: {rot}\n      transform_type: {type}\n"
QUANT = ("    QuantizationModifier:\n      targets: [Linear]\n      ignore: [lm_head]\n"
         "      scheme: {scheme}\n")
RECIPES = {
    "rot_hadamard_r1r2r4": SPIN.format(rot="[R1, R2, R4]", type="hadamard"),
    "rot_random_hadamard_r1r2r4": SPIN.format(rot="[R1, R2, R4]", type="random-hadamard"),
    "rot_random_matrix_r1r2": SPIN.format(rot="[R1, R2]", type="random-matrix"),
    "w4a16_hadamard_r1r2": SPIN.format(rot="[R1, R2]", type="hadamard")
    + QUANT.format(scheme="W4A16"),
    # R4's online transform runs before the quantization's input observer.
    "w4a16_hadamard_r1r2r4": SPIN.format(rot="[R1, R2, R4]", type="hadamard")
    + QUANT.format(scheme="W4A16"),
    "fp8_random_hadamard_r1r2r4": SPIN.format(rot="[R1, R2, R4]", type="random-hadamard")
    + QUANT.format(scheme="FP8"),
    # R3 rotates the query and key states after RoPE, before the kv cache's
    # observer sees the keys.
    "fp8_kv_hadamard_r1r2r3": SPIN.format(rot="[R1, R2, R3]", type="hadamard")
    + QUANT.format(scheme="FP8") + "      kv_cache_scheme: {num_bits: 8, type: float, "
    "strategy: tensor, symmetric: true, dynamic: false, observer: static_minmax}\n",
}
ONLY = set(sys.argv[2:])


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=128, hidden_size=128, intermediate_size=128, num_hidden_layers=1,
        num_attention_heads=4, num_key_value_heads=2, head_dim=32,
        max_position_embeddings=256, rms_norm_eps=1e-5, rope_theta=10000.0,
        tie_word_embeddings=True, bos_token_id=0, eos_token_id=1)
    model = transformers.LlamaForCausalLM(config).to(torch.bfloat16)
    with torch.no_grad():
        # Outlier channel (what rotations are for) and non-trivial norms (what
        # norm fusion folds into the Linears).
        model.model.embed_tokens.weight[:, 5] *= 20
        for module in model.modules():
            if isinstance(module, transformers.models.llama.modeling_llama.LlamaRMSNorm):
                module.weight.copy_(1 + 0.5 * torch.rand_like(module.weight.float()))
    model_dir = os.path.join(OUT, "tiny_llama")
    model.save_pretrained(model_dir)
    tokenizer = ref.save_word_level_tokenizer(model_dir, 128)
    ids = ref.write_calibration_ids(OUT, NUM_SAMPLES, SEQ_LEN, 128)
    for name, body in RECIPES.items():
        if ONLY and name not in ONLY:
            continue
        recipe_path = ref.write_recipe(OUT, name, "quant_stage:\n  quant_modifiers:\n" + body)
        ref.run_oneshot(model_dir, tokenizer, ids, recipe_path, os.path.join(OUT, "reference", name))

    matrices = {"deterministic_64": deterministic_hadamard_matrix(64, torch.float64).to(torch.int8)}
    for size in (12, 20, 96, 128, 160, 256, 384):
        m = random_hadamard_matrix(size, torch.float64, gen=torch.Generator())
        matrices[f"random_{size}"] = m.to(torch.int8)
    # Sequential draws from one generator: the second matrix of a factory.
    gen = torch.Generator()
    random_hadamard_matrix(128, torch.float64, gen=gen)
    matrices["random_32_after_128"] = random_hadamard_matrix(32, torch.float64, gen=gen).to(torch.int8)
    matrices["rand_float64_8x8"] = torch.rand((8, 8), generator=torch.Generator(), dtype=torch.float64)
    matrices["rand_float32_8x8"] = torch.rand((8, 8), generator=torch.Generator(), dtype=torch.float32)
    save_file({k: v.contiguous() for k, v in matrices.items()}, os.path.join(OUT, "hadamards.safetensors"))

    ref.write_versions(OUT)


if __name__ == "__main__":
    main()
