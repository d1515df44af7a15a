"""Reference checkpoints for //backend/job:compress_job_test, written by
llm-compressor's own oneshot + save_pretrained (compressed-tensors).

Rerun (CPU is enough; the pinned env of tools/reference/requirements.txt):
    python make_oneshot_reference.py OUT_DIR
and copy OUT_DIR's contents here (tiny_llama/, calibration.jsonl,
recipes/, reference/<scheme>/, versions.json).

The model is a random-init Llama-3-shaped model (GQA, llama3 RoPE scaling)
small enough for the repository; hidden/intermediate sizes are multiples of
128 so group-128 schemes apply. Calibration uses fixed token ids, no
shuffling, one sample per batch, as wring compress --no-shuffle does.
"""
import os
import sys

import torch
import transformers

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../..", "testing"))
import oneshot_reference as ref  # noqa: E402  (backend/testing/oneshot_reference.py)

OUT = sys.argv[1]
NUM_SAMPLES = 8
SEQ_LEN = 32

# fp8_static_kv names its observers; fp8_static_kv_defaults leaves them to
# llm-compressor 0.14 (minmax, a moving average, for the static inputs and
# the kv cache, whose config keeps observer null).
RECIPES = {
    "w4a16": "scheme: W4A16",
    "w4a16_asym": "scheme: W4A16_ASYM",
    "w8a16": "scheme: W8A16",
    "w8a8": "scheme: W8A8",
    "fp8_dynamic": "scheme: FP8_DYNAMIC",
    "fp8_block": "scheme: FP8_BLOCK",
    "fp8_static_kv": """config_groups:
        group_0:
          targets: [Linear]
          weights: {num_bits: 8, type: float, strategy: channel, symmetric: true, dynamic: false, observer: memoryless_minmax}
          input_activations: {num_bits: 8, type: float, strategy: tensor, symmetric: true, dynamic: false, observer: static_minmax}
      kv_cache_scheme: {num_bits: 8, type: float, strategy: tensor, symmetric: true, dynamic: false, observer: static_minmax}""",
    "fp8_static_kv_defaults": """config_groups:
        group_0:
          targets: [Linear]
          weights: {num_bits: 8, type: float, strategy: channel, symmetric: true, dynamic: false}
          input_activations: {num_bits: 8, type: float, strategy: tensor, symmetric: true, dynamic: false}
      kv_cache_scheme: {num_bits: 8, type: float, strategy: tensor, symmetric: true, dynamic: false}""",
}


def recipe_text(body):
    return (
        "quant_stage:\n  quant_modifiers:\n    QuantizationModifier:\n"
        "      targets: [Linear]\n      ignore: [lm_head]\n      " + body + "\n"
    )


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=256, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=32,
        max_position_embeddings=512, rms_norm_eps=1e-5, rope_theta=500000.0,
        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                      "high_freq_factor": 4.0, "original_max_position_embeddings": 128},
        tie_word_embeddings=False, bos_token_id=0, eos_token_id=1)
    model = transformers.LlamaForCausalLM(config).to(torch.bfloat16)
    # Outlier input channels make the activation scales non-trivial.
    with torch.no_grad():
        model.model.embed_tokens.weight[:, 5] *= 20
    model_dir = os.path.join(OUT, "tiny_llama")
    model.save_pretrained(model_dir)
    tokenizer = ref.save_word_level_tokenizer(model_dir, 256)
    ids = ref.write_calibration_ids(OUT, NUM_SAMPLES, SEQ_LEN, 256)
    for name, body in RECIPES.items():
        recipe_path = ref.write_recipe(OUT, name, recipe_text(body))
        ref.run_oneshot(model_dir, tokenizer, ids, recipe_path, os.path.join(OUT, "reference", name))
    ref.write_versions(OUT)


if __name__ == "__main__":
    main()
