"""Reference data for //backend/job:awq_job_test: llm-compressor's own oneshot
with AWQModifier + QuantizationModifier on a tiny Llama with outlier
channels, the checkpoint it saves, and the scales and losses AWQ chose.

Rerun (CPU is enough; the pinned env of tools/reference/requirements.txt):
    python make_awq_reference.py OUT_DIR
and copy OUT_DIR's contents here (tiny_llama/, calibration.jsonl, recipes/,
reference/<name>/{model.safetensors,config.json,awq_scales.safetensors,
awq_search.json}, versions.json).

The model is random-init but multi-head (num_key_value_heads ==
num_attention_heads) so all four Llama mappings resolve, including
v_proj -> o_proj, and has outlier channels where AWQ looks: the embedding
(input_layernorm's input), both RMSNorm weights, and some up_proj rows
(down_proj's input). The chosen scales are captured by wrapping
AWQModifier._compute_best_scale, each grid point's loss by wrapping
_compute_loss.
"""
import json
import os
import sys

import torch
import transformers
from safetensors.torch import save_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../..", "testing"))
import oneshot_reference as ref  # noqa: E402  (backend/testing/oneshot_reference.py)
from llmcompressor.modifiers.transform.awq import base as awq_base
from llmcompressor.pipelines.cache import IntermediatesCache

OUT = sys.argv[1]
NUM_SAMPLES = 8       # calibration (the first 8 lines)
EVAL_SAMPLES = 8      # held out (the next 8 lines), used by wring's quality test
SEQ_LEN = 32

RECIPES = {
    "awq_w4a16": ("", "W4A16"),
    "awq_w4a16_asym_both": ("\n      duo_scaling: both\n      n_grid: 10", "W4A16_ASYM"),
    "awq_w4a16_no_duo": ("\n      duo_scaling: false\n      n_grid: 8", "W4A16"),
}


def recipe_text(awq_fields, scheme):
    return (
        "quant_stage:\n  quant_modifiers:\n"
        "    AWQModifier:" + (awq_fields or " {}") + "\n"
        "    QuantizationModifier:\n"
        "      targets: [Linear]\n      ignore: [lm_head]\n      scheme: " + scheme + "\n"
    )


def make_model(model_dir):
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=256, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, head_dim=32,
        max_position_embeddings=512, rms_norm_eps=1e-5, rope_theta=500000.0,
        tie_word_embeddings=False, bos_token_id=0, eos_token_id=1)
    model = transformers.LlamaForCausalLM(config).to(torch.bfloat16)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        model.model.embed_tokens.weight[:, [5, 40, 77]] *= 12
        for layer in model.model.layers:
            for norm in (layer.input_layernorm, layer.post_attention_layernorm):
                w = 0.5 + torch.rand(128, generator=g)
                w[torch.randint(0, 128, (6,), generator=g)] *= 8
                norm.weight.copy_(w.to(torch.bfloat16))
            rows = torch.randint(0, 256, (8,), generator=g)
            layer.mlp.up_proj.weight[rows] *= 10
            layer.self_attn.v_proj.weight[torch.randint(0, 128, (6,), generator=g)] *= 6
    model.save_pretrained(model_dir)
    return ref.save_word_level_tokenizer(model_dir, 256)


captured = []  # one entry per mapping, in the order AWQ smooths them
original_best_scale = awq_base.AWQModifier._compute_best_scale
original_loss = awq_base.AWQModifier._compute_loss


def capture_best_scale(self, mapping, fp16_outputs, orig_layer_weights):
    captured.append({"smooth": mapping.smooth_name, "parent": mapping.parent_name,
                     "balance": list(mapping.balance_names), "losses": []})
    scales = original_best_scale(self, mapping, fp16_outputs, orig_layer_weights)
    captured[-1]["scales"] = scales.clone()
    captured[-1]["grid"] = [list(p) for p in self._get_grid_search_params()]
    return scales


def capture_loss(self, fp16_outputs, int_w_outputs):
    loss = original_loss(self, fp16_outputs, int_w_outputs)
    captured[-1]["losses"].append(loss)
    return loss


awq_base.AWQModifier._compute_best_scale = capture_best_scale
# Pinning host memory is only a transfer optimisation and needs a CUDA driver.
if not torch.cuda.is_available():
    IntermediatesCache.pin_memory = lambda self, *args, **kwargs: None
awq_base.AWQModifier._compute_loss = capture_loss


def main():
    os.makedirs(OUT, exist_ok=True)
    model_dir = os.path.join(OUT, "tiny_llama")
    tokenizer = make_model(model_dir)

    # The first NUM_SAMPLES calibrate; the rest are wring's held-out samples.
    ids = ref.write_calibration_ids(OUT, NUM_SAMPLES + EVAL_SAMPLES, SEQ_LEN, 256)[:NUM_SAMPLES]
    for name, (awq_fields, scheme) in RECIPES.items():
        recipe_path = ref.write_recipe(OUT, name, recipe_text(awq_fields, scheme))
        out_dir = os.path.join(OUT, "reference", name)
        captured.clear()
        ref.run_oneshot(model_dir, tokenizer, ids, recipe_path, out_dir)
        save_file({c["smooth"]: c["scales"].contiguous() for c in captured},
                  os.path.join(out_dir, "awq_scales.safetensors"))
        search = [{k: c[k] for k in ("smooth", "parent", "balance", "losses", "grid")}
                  | {"scales_dtype": str(c["scales"].dtype)} for c in captured]
        with open(os.path.join(out_dir, "awq_search.json"), "w") as f:
            json.dump(search, f, indent=1)

    ref.write_versions(OUT)


if __name__ == "__main__":
    main()
