"""What llm-compressor's oneshot + save_pretrained writes for the MoE families
that make_family_oneshot_references.py does not cover with full checkpoints
(Mixtral, Qwen2-MoE, Qwen3.5-MoE from a fused-expert checkpoint), and how AWQ
treats the modules its mappings leave out. Names, dtypes, shapes and the
quantization_config only (no tensor values), to keep the repository small.

Rerun (CPU; same env as make_family_oneshot_references.py):
    nice -n 19 /work/venv-h15r/bin/python \
        backend/job/testdata/families/make_family_layouts.py [OUT_DIR]
Writes layouts/<case>.json:
  input_keys / output_keys   {name: [dtype, shape]} of the input checkpoint and
                             of the compressed one
  quantization_config        as written to config.json
  awq_mappings               smooth -> balance layers, as AWQ resolved them
  unbalanced_consumers       for every smoothed post_attention_layernorm: how
                             its weight changed (ratio range), and the modules
                             of the same MoE block that read its output without
                             being balance layers (router, shared expert,
                             shared-expert gate): unchanged / changed / quantized
"""
import json
import os
import sys

import torch
import transformers
from safetensors import safe_open

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../..", "testing"))
import make_family_oneshot_references as refs  # noqa: E402
import oneshot_reference as ref  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else refs.HERE
MOE_ONE_LAYER = dict(refs.ATTENTION, **refs.MOE, num_hidden_layers=1, intermediate_size=256,
                     rope_parameters=dict(rope_type="default", rope_theta=1000000.0))
AWQ_W4A16 = refs.recipe(refs.AWQ, refs.quantization(refs.W4A16_NEXT_IGNORE, "scheme: W4A16"))
W4A16 = refs.recipe(refs.quantization(refs.W4A16_NEXT_IGNORE, "scheme: W4A16"))


def cases():
    """(name, model factory, class, save_original_format of the input, recipe)."""
    yield "mixtral_awq_w4a16", lambda: transformers.MixtralForCausalLM(transformers.MixtralConfig(
        **{k: v for k, v in MOE_ONE_LAYER.items() if k not in ("num_experts", "moe_intermediate_size")}
        | {"intermediate_size": 128}, num_local_experts=4)), transformers.AutoModelForCausalLM, True, AWQ_W4A16
    yield "qwen2_moe_awq_w4a16", lambda: transformers.Qwen2MoeForCausalLM(transformers.Qwen2MoeConfig(
        **{k: v for k, v in MOE_ONE_LAYER.items() if k != "head_dim"}, shared_expert_intermediate_size=128,
        norm_topk_prob=False)), transformers.AutoModelForCausalLM, True, AWQ_W4A16
    yield "qwen3_5_moe_fused_w4a16", lambda: transformers.Qwen3_5MoeForConditionalGeneration(
        transformers.Qwen3_5MoeConfig(
            text_config=dict(refs.ATTENTION, **refs.LINEAR, moe_intermediate_size=128, num_experts=2,
                             num_experts_per_tok=1, shared_expert_intermediate_size=128, num_hidden_layers=2,
                             layer_types=refs.HYBRID_LAYERS,
                             rope_parameters=dict(rope_type="default", rope_theta=10000000.0,
                                                  partial_rotary_factor=0.25)),
            vision_config=dict(depth=1, hidden_size=16, intermediate_size=32, num_heads=2, patch_size=4,
                               out_hidden_size=128, num_position_embeddings=16, temporal_patch_size=2,
                               spatial_merge_size=2),
            image_token_id=124, video_token_id=125, vision_start_token_id=126, vision_end_token_id=127)), \
        transformers.Qwen3_5MoeForConditionalGeneration, False, \
        refs.recipe(refs.quantization(refs.W4A16_QWEN3_5_IGNORE[:-1] + ", 're:.*mlp.gate$', "
                                      "'re:.*shared_expert_gate$']", "scheme: W4A16"))


def keys(directory):
    out = {}
    for f in sorted(os.listdir(directory)):
        if f.endswith(".safetensors"):
            with safe_open(os.path.join(directory, f), "pt") as s:
                for k in s.keys():
                    out[k] = [s.get_slice(k).get_dtype(), list(s.get_slice(k).get_shape())]
    return out


def tensor(directory, name):
    with safe_open(os.path.join(directory, "model.safetensors"), "pt") as s:
        return s.get_tensor(name) if name in s.keys() else None


def unbalanced(model_dir, out_dir, mappings):
    """For each smoothed post_attention_layernorm: how its weight changed, and
    what became of the modules in the same MoE block that read its output but
    are not balance layers (router, shared expert, shared-expert gate):
    "unchanged" / "changed" (bf16 in the output) or "quantized"."""
    report = {}
    before, after = keys(model_dir), keys(out_dir)
    for m in mappings:
        if not m["smooth"].endswith("post_attention_layernorm"):
            continue
        norm = m["smooth"] + ".weight"
        ratio = tensor(out_dir, norm).float() / tensor(model_dir, norm).float()
        layer = m["smooth"].rsplit(".", 1)[0]
        balance = {b.replace(".block_sparse_moe.", ".mlp.") for b in m["balance"]}
        readers = {}
        for k in before:
            module = k.rsplit(".", 1)[0]
            if not module.startswith(layer + ".") or module.replace(".block_sparse_moe.", ".mlp.") in balance:
                continue
            if module.endswith(("mlp.gate", "block_sparse_moe.gate", "shared_expert_gate",
                                "shared_expert.gate_proj", "shared_expert.up_proj")):
                if k not in after:
                    readers[module] = "quantized"
                else:
                    readers[module] = "unchanged" if torch.equal(tensor(model_dir, k), tensor(out_dir, k)) \
                        else "changed"
        report[m["smooth"]] = {"norm_weight_ratio_min_max": [float(ratio.min()), float(ratio.max())],
                               "non_balance_readers": readers}
    return report


def main():
    if not torch.cuda.is_available():
        refs.IntermediatesCache.pin_memory = lambda self, *args, **kwargs: None
    recorder = refs.AwqRecorder()
    os.makedirs(os.path.join(OUT, "layouts"), exist_ok=True)
    work = os.path.join("/tmp", "wring_family_layouts")
    for index, (name, make_model, cls, original_format, text) in enumerate(cases(), start=11):
        base = os.path.join(work, name)
        os.makedirs(base, exist_ok=True)
        ids = ref.write_calibration_ids(base, refs.NUM_SAMPLES, refs.SEQ_LEN, refs.VOCAB)
        torch.manual_seed(index)
        model = make_model().to(torch.bfloat16)
        refs.add_outliers(model, index)
        model_dir = os.path.join(base, "model")
        model.save_pretrained(model_dir, save_original_format=original_format)
        tokenizer = ref.save_word_level_tokenizer(model_dir, refs.VOCAB)
        out_dir = os.path.join(base, "out")
        refs.run_oneshot(model_dir, cls, tokenizer, ids, ref.write_recipe(base, name, text), out_dir)
        mappings = [{k: m[k] for k in ("smooth", "parent", "balance")} for m in recorder.mappings]
        recorder.mappings.clear()
        layout = {"input_keys": keys(model_dir), "output_keys": keys(out_dir),
                  "quantization_config": json.load(open(os.path.join(out_dir, "config.json")))[
                      "quantization_config"],
                  "recipe": text, "awq_mappings": mappings,
                  "unbalanced_consumers": unbalanced(model_dir, out_dir, mappings)}
        refs.write_json(os.path.join(OUT, "layouts", name + ".json"), layout)
        print(name, json.dumps(layout["unbalanced_consumers"]))


if __name__ == "__main__":
    main()
