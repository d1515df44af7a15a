"""llm-compressor's own oneshot + save_pretrained on tiny random-init MoE and
hybrid-attention models, as references for `wring compress` on these
families: the input model, the calibration ids, the recipes, every written
checkpoint (tensors and quantization_config), the scales and grid losses AWQ
chose per mapping, and transformers' perplexity of each written checkpoint.

Rerun (CPU, 5-20 minutes; reference env: llmcompressor 0.14.0.1,
compressed-tensors 0.19.0, transformers 5.17, torch 2.10, see versions.json,
plus torchvision 0.25.0, which load_context needs: transformers' patching
imports every model module; /work/venv-h15r is /work/refvenv + torchvision):
    nice -n 19 /work/venv-h15r/bin/python \
        backend/job/testdata/families/make_family_oneshot_references.py [OUT_DIR [MODEL...]]
OUT_DIR defaults to this directory; naming models reruns only those, and
MODEL/RECIPE only that recipe of a model. For each
model it writes <model>/:
  model/                    the input checkpoint (bf16, save_pretrained's
                            layout) and a word-level tokenizer t0..tN
  calibration.jsonl         16 rows of fixed ids: rows 0-7 calibrate, rows 8-15
                            are held out for perplexity
  recipes/<name>.yaml
  reference/<name>/         model.safetensors + config.json as
                            save_pretrained(save_compressed=True) wrote them,
                            awq_scales.safetensors (smooth layer name -> the
                            scales AWQ divided it by) and awq_search.json (per
                            mapping in smoothing order: smooth, parent,
                            balance, grid, loss of every grid point) for AWQ
                            recipes, perplexity.json (transformers on the
                            written checkpoint, rows 8-15; null where
                            transformers leaves weights of it randomly
                            initialised, as for Mixtral's experts, with the
                            perplexity of the dense dequantized weights
                            instead for weight-only recipes)
  perplexity.json           the same for the input model

Models: qwen3_moe, qwen3_next, qwen3_5_text, qwen2_moe (shared expert with
its sigmoid gate, q/k/v biases, norm_topk_prob False), mixtral (three
experts, top-2; its checkpoint uses block_sparse_moe.experts.N.w1/w2/w3),
phi3 (fused qkv_proj / gate_up_proj, as many kv heads as heads, sliding
window 8), gemma3_text (sliding then global layer, tied embeddings) and
qwen3_5_moe_text (Qwen3_5MoeForConditionalGeneration, experts saved fused).

How the models are loaded and run mirrors llm-compressor's own examples
(examples/awq/qwen3_moe_example.py, examples/quantization_w4a16/
qwen3_8_gptq_awq_example.py): inside llmcompressor.utils.load_context(cls),
Qwen3.5 as Qwen3_5ForConditionalGeneration with its vision tower ignored;
oneshot unshuffled, one sample per batch, the sequential pipeline, the
default moe_calibrate_all_experts=True, and the causal mask kept on every
self_attn (keep_attention_causal: upstream drops it on Qwen3-MoE and Phi3,
and the hook applies a layer's sliding window too; added after the first
run, so of the models before Phi3 only qwen3_moe/reference/awq_w4a16 was
regenerated with it: the W8A8 weights are round-to-nearest, independent of
activations, and the other families' attention already received the mask,
as their matching losses show).

All sizes are multiples of 128 where a weight's input dimension is grouped
(group-128 W4A16), and routing has no near-ties on the calibration data
(bf16 router-logit gap >= 0.03 between the k-th and (k+1)-th expert), so a
reimplementation that rounds slightly differently routes the same tokens.
"""
import json
import math
import os
import sys

import torch
import transformers
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../..", "testing"))
import oneshot_reference as ref  # noqa: E402  (backend/testing/oneshot_reference.py)
from datasets import Dataset  # noqa: E402
from llmcompressor import oneshot  # noqa: E402
from llmcompressor.modifiers.transform.awq import base as awq_base  # noqa: E402
from llmcompressor.pipelines.cache import IntermediatesCache  # noqa: E402
from llmcompressor.utils import load_context  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1] if len(sys.argv) > 1 else HERE
VOCAB = 128
NUM_SAMPLES = 8
EVAL_SAMPLES = 8
SEQ_LEN = 32

ATTENTION = dict(vocab_size=VOCAB, hidden_size=128, num_attention_heads=4, num_key_value_heads=2, head_dim=32,
                 rms_norm_eps=1e-6, max_position_embeddings=512, bos_token_id=0, eos_token_id=1,
                 tie_word_embeddings=False)
# Gated DeltaNet: value dim 4 x 32 = 128 feeds out_proj (grouped by 128).
LINEAR = dict(linear_num_key_heads=2, linear_num_value_heads=4, linear_key_head_dim=32, linear_value_head_dim=32,
              linear_conv_kernel_dim=4)
MOE = dict(moe_intermediate_size=128, num_experts=4, num_experts_per_tok=2)
HYBRID_LAYERS = ["linear_attention", "full_attention"]

# Qwen3.5 and Qwen3.5-MoE: interleaved M-RoPE, a one-block vision tower.
QWEN3_5_ROPE = dict(rope_type="default", rope_theta=10000000.0, partial_rotary_factor=0.25, mrope_interleaved=True,
                    mrope_section=[2, 1, 1])
TINY_VISION = dict(depth=1, hidden_size=16, intermediate_size=32, num_heads=2, patch_size=4, out_hidden_size=128,
                   num_position_embeddings=16, temporal_patch_size=2, spatial_merge_size=2)
QWEN3_5_TOKENS = dict(image_token_id=124, video_token_id=125, vision_start_token_id=126, vision_end_token_id=127)

W4A16_MOE_IGNORE = "[lm_head, 're:.*mlp.gate$']"
# As examples/awq/qwen3_next_example.py (router and shared-expert gate stay bf16).
W4A16_NEXT_IGNORE = "[lm_head, 're:.*mlp.gate$', 're:.*mlp.shared_expert_gate$']"
# As examples/quantization_w4a16/qwen3_8_gptq_awq_example.py.
W4A16_QWEN3_5_IGNORE = ("['re:visual.*', 're:model.visual.*', 're:.*lm_head', 're:.*embed_tokens$', "
                        "'re:.*linear_attn\\.in_proj_a$', 're:.*linear_attn\\.in_proj_b$']")


def quantization(ignore, body):
    return f"    QuantizationModifier:\n      targets: [Linear]\n      ignore: {ignore}\n      {body}\n"


def recipe(*modifiers):
    return "quant_stage:\n  quant_modifiers:\n" + "".join(modifiers)


AWQ = "    AWQModifier: {}\n"
AWQ_BOTH = "    AWQModifier:\n      duo_scaling: both\n"
# Static per-tensor fp8 input scales and a static fp8 kv cache (observers named:
# compressed-tensors 0.18 and 0.19 default them differently).
FP8_STATIC_KV = """config_groups:
        group_0:
          targets: [Linear]
          weights: {num_bits: 8, type: float, strategy: channel, symmetric: true, dynamic: false, observer: memoryless_minmax}
          input_activations: {num_bits: 8, type: float, strategy: tensor, symmetric: true, dynamic: false, observer: static_minmax}
      kv_cache_scheme: {num_bits: 8, type: float, strategy: tensor, symmetric: true, dynamic: false, observer: static_minmax}"""


def cases():
    """(directory, model factory, class to load with, {recipe name: recipe text})."""
    yield "qwen3_moe", lambda: transformers.Qwen3MoeForCausalLM(transformers.Qwen3MoeConfig(
        **ATTENTION, **MOE, num_hidden_layers=2, intermediate_size=256, norm_topk_prob=True,
        rope_parameters=dict(rope_type="default", rope_theta=1000000.0))), transformers.AutoModelForCausalLM, {
        "awq_w4a16": recipe(AWQ, quantization(W4A16_MOE_IGNORE, "scheme: W4A16")),
        "w8a8": recipe(quantization(W4A16_MOE_IGNORE, "scheme: W8A8")),
        # GPTQ's Hessians per linearized expert, every expert seeing every token.
        "gptq_w4a16": recipe(f"    GPTQModifier:\n      targets: [Linear]\n      ignore: {W4A16_MOE_IGNORE}\n"
                             "      scheme: W4A16\n"),
    }
    yield "qwen3_next", lambda: transformers.Qwen3NextForCausalLM(transformers.Qwen3NextConfig(
        **ATTENTION, **LINEAR, **MOE, num_hidden_layers=2, layer_types=HYBRID_LAYERS, intermediate_size=256,
        shared_expert_intermediate_size=128, norm_topk_prob=True,
        rope_parameters=dict(rope_type="default", rope_theta=10000000.0, partial_rotary_factor=0.25))), \
        transformers.AutoModelForCausalLM, {
        "awq_w4a16": recipe(AWQ, quantization(W4A16_NEXT_IGNORE, "scheme: W4A16")),
        "fp8_static_kv": recipe(quantization(W4A16_NEXT_IGNORE, FP8_STATIC_KV)),
    }
    yield "qwen3_5_text", lambda: transformers.Qwen3_5ForConditionalGeneration(transformers.Qwen3_5Config(
        text_config=dict(ATTENTION, **LINEAR, num_hidden_layers=2, layer_types=HYBRID_LAYERS, intermediate_size=256,
                         rope_parameters=QWEN3_5_ROPE),
        vision_config=TINY_VISION, **QWEN3_5_TOKENS)), \
        transformers.Qwen3_5ForConditionalGeneration, {
        "awq_w4a16": recipe(AWQ_BOTH, quantization(W4A16_QWEN3_5_IGNORE, "scheme: W4A16")),
    }
    # q/k/v biases, shared expert with its sigmoid gate, norm_topk_prob False.
    yield "qwen2_moe", lambda: transformers.Qwen2MoeForCausalLM(transformers.Qwen2MoeConfig(
        **{k: v for k, v in ATTENTION.items() if k != "head_dim"}, **MOE, num_hidden_layers=2,
        intermediate_size=256, shared_expert_intermediate_size=128, norm_topk_prob=False,
        rope_parameters=dict(rope_type="default", rope_theta=1000000.0))), transformers.AutoModelForCausalLM, {
        "awq_w4a16": recipe(AWQ, quantization(W4A16_NEXT_IGNORE, "scheme: W4A16")),
    }
    # Three experts (top-2) keep the directory small with two recipes; the
    # checkpoint is written with Mixtral's block_sparse_moe.experts.N.w1/w2/w3.
    yield "mixtral", lambda: transformers.MixtralForCausalLM(transformers.MixtralConfig(
        **ATTENTION, num_hidden_layers=2, intermediate_size=128, num_local_experts=3, num_experts_per_tok=2,
        rope_parameters=dict(rope_type="default", rope_theta=1000000.0))), transformers.AutoModelForCausalLM, {
        "awq_w4a16": recipe(AWQ, quantization(W4A16_MOE_IGNORE, "scheme: W4A16")),
        "w8a8": recipe(quantization(W4A16_MOE_IGNORE, "scheme: W8A8")),
    }
    # Fused qkv_proj and gate_up_proj (the registry's _phi_mappings), partial
    # rotary (Phi-4-mini has 0.75), a sliding window shorter than the rows.
    # As many kv heads as heads (Phi-3-mini): qkv_proj's output is then 3x
    # o_proj's input, so the qkv_proj -> o_proj mapping applies and AWQ
    # divides only qkv_proj's last (v) rows.
    yield "phi3", lambda: transformers.Phi3ForCausalLM(transformers.Phi3Config(
        **{k: v for k, v in ATTENTION.items() if k != "head_dim"} | {"num_key_value_heads": 4},
        pad_token_id=None, num_hidden_layers=2, intermediate_size=256,
        sliding_window=8, rope_parameters=dict(rope_type="default", rope_theta=10000.0,
                                               partial_rotary_factor=0.75))), transformers.AutoModelForCausalLM, {
        "awq_w4a16": recipe(AWQ, quantization("[lm_head]", "scheme: W4A16")),
    }
    # (1 + w) norms, sqrt(hidden) embedding scaling, pre/post feed-forward
    # norms, a sliding layer (window 8) then a global one with linear RoPE
    # scaling, query_pre_attn_scalar != head_dim, tied embeddings (Gemma's
    # default); the registry's _gemma3_mappings leave input_layernorm alone.
    yield "gemma3_text", lambda: transformers.Gemma3ForCausalLM(transformers.Gemma3TextConfig(
        **{**ATTENTION, "tie_word_embeddings": True, "pad_token_id": 0, "bos_token_id": 2}, num_hidden_layers=2,
        intermediate_size=256, sliding_window=8, query_pre_attn_scalar=48,
        layer_types=["sliding_attention", "full_attention"],
        rope_parameters=dict(sliding_attention=dict(rope_type="default", rope_theta=10000.0),
                             full_attention=dict(rope_type="linear", rope_theta=1000000.0, factor=8.0)))), \
        transformers.AutoModelForCausalLM, {
        "awq_w4a16": recipe(AWQ, quantization("[lm_head]", "scheme: W4A16")),
    }
    # The language model of Qwen3.5-MoE, its experts stored fused (3-D
    # gate_up_proj / down_proj), as hub checkpoints are (FUSED_INPUT).
    yield "qwen3_5_moe_text", lambda: transformers.Qwen3_5MoeForConditionalGeneration(transformers.Qwen3_5MoeConfig(
        text_config=dict(ATTENTION, **LINEAR, **MOE, num_hidden_layers=2, layer_types=HYBRID_LAYERS,
                         shared_expert_intermediate_size=128, rope_parameters=QWEN3_5_ROPE),
        vision_config=TINY_VISION, **QWEN3_5_TOKENS)), \
        transformers.Qwen3_5MoeForConditionalGeneration, {
        "awq_w4a16": recipe(AWQ, quantization(W4A16_QWEN3_5_IGNORE[:-1] + ", 're:.*mlp.gate$', "
                                              "'re:.*shared_expert_gate$']", "scheme: W4A16")),
    }


# Saved with the experts fused (save_pretrained's save_original_format=False).
FUSED_INPUT = ("qwen3_5_moe_text",)
OFFSET_NORMS = ("Qwen3NextRMSNorm", "Qwen3_5RMSNorm", "Qwen3_5MoeRMSNorm", "Gemma3RMSNorm")


def add_outliers(model, seed):
    """transformers' init (std 0.02) plus what makes AWQ's choice matter:
    outlier channels in the embedding (input_layernorm's input), norm gains
    with outliers (in the (1 + w) convention where the model uses it), a few
    large up_proj rows (down_proj's input), and routers strong enough that
    routing is decided by the input rather than by rounding."""
    g = torch.Generator().manual_seed(seed)
    hidden = model.config.get_text_config().hidden_size
    with torch.no_grad():
        embed = model.get_input_embeddings().weight
        embed[:, torch.randint(0, hidden, (3,), generator=g)] *= 12
        for name, module in model.named_modules():
            if "visual" in name or not name.endswith("layernorm"):
                continue
            gain = 0.5 + torch.rand(hidden, generator=g)
            gain[torch.randint(0, hidden, (6,), generator=g)] *= 8
            offset = 1.0 if type(module).__name__ in OFFSET_NORMS else 0.0
            module.weight.copy_((gain - offset).to(module.weight.dtype))
        for name, p in model.named_parameters():
            if name.endswith("up_proj.weight") or name.endswith("gate_up_proj"):
                rows = torch.randint(0, p.shape[-2], (6,), generator=g)
                p[..., rows, :] *= 10
            elif name.endswith("mlp.gate.weight"):
                p.copy_(3.0 * torch.randn(p.shape, generator=g) / hidden ** 0.5)
            elif "visual" not in name and name.endswith(("q_proj.bias", "k_proj.bias", "v_proj.bias")):
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            elif name == "lm_head.weight":
                # Logits of a few units: perplexity then depends on every weight.
                p.copy_(0.5 * torch.randn(p.shape, generator=g) / hidden ** 0.5)


def router_margin(model, ids):
    """Smallest bf16 router-logit gap between the k-th and (k+1)-th expert."""
    gaps = []

    def keep(module, args, output):
        logits = (output[0] if isinstance(output, tuple) else output).float()
        top = logits.topk(module.top_k + 1, dim=-1).values
        gaps.append(float((top[:, -2] - top[:, -1]).min()))

    routers = [m for n, m in model.named_modules() if n.endswith("mlp.gate") and hasattr(m, "top_k")]
    handles = [r.register_forward_hook(keep) for r in routers]
    with torch.no_grad():
        for row in ids:
            model(input_ids=torch.tensor([row]), use_cache=False)
    for h in handles:
        h.remove()
    return min(gaps) if gaps else None


class AwqRecorder:
    """Wraps AWQModifier's grid search to keep, per mapping, the chosen scales
    and the loss of every grid point."""

    def __init__(self):
        self.mappings = []
        best_scale, loss = awq_base.AWQModifier._compute_best_scale, awq_base.AWQModifier._compute_loss
        recorder = self

        def compute_best_scale(modifier, mapping, fp16_outputs, orig_layer_weights):
            entry = {"smooth": mapping.smooth_name, "parent": mapping.parent_name,
                     "balance": list(mapping.balance_names), "losses": []}
            recorder.mappings.append(entry)
            scales = best_scale(modifier, mapping, fp16_outputs, orig_layer_weights)
            entry["scales"] = scales.clone()
            entry["grid"] = [list(p) for p in modifier._get_grid_search_params()]
            return scales

        def compute_loss(modifier, fp16_outputs, int_w_outputs):
            value = loss(modifier, fp16_outputs, int_w_outputs)
            recorder.mappings[-1]["losses"].append(value)
            return value

        awq_base.AWQModifier._compute_best_scale = compute_best_scale
        awq_base.AWQModifier._compute_loss = compute_loss

    def write(self, out_dir):
        if not self.mappings:
            return
        save_file({m["smooth"]: m["scales"].contiguous() for m in self.mappings},
                  os.path.join(out_dir, "awq_scales.safetensors"))
        with open(os.path.join(out_dir, "awq_search.json"), "w") as f:
            json.dump([{k: m[k] for k in ("smooth", "parent", "balance", "grid", "losses")}
                       | {"scales_dtype": str(m["scales"].dtype)} for m in self.mappings], f, indent=1)
        self.mappings.clear()


def loaded(model_dir, cls, seed):
    """The model as llm-compressor's load_context loads it, with `seed` for
    whatever transformers initialises instead of loading."""
    torch.manual_seed(seed)
    with load_context(cls):
        return cls.from_pretrained(model_dir, dtype="auto").eval()


def dense_dequantized(model_dir, input_dir, out_dir):
    """A pack-quantized weight-only checkpoint (W4A16, symmetric groups)
    dequantized into the input model's names and layout (Mixtral's
    block_sparse_moe.experts.N.w1/w3/w2 included), which transformers loads."""
    from compressed_tensors.compressors.pack_quantized.helpers import unpack_from_int32
    packed = load_file(os.path.join(model_dir, "model.safetensors"))
    legacy = {"gate_proj": "w1", "up_proj": "w3", "down_proj": "w2"}
    input_names = set(load_file(os.path.join(input_dir, "model.safetensors")))
    dense = {}
    for name, value in packed.items():
        if name.endswith((".weight_scale", ".weight_shape")):
            continue
        if not name.endswith(".weight_packed"):
            dense[name] = value
            continue
        module = name[:-len(".weight_packed")]
        shape = packed[module + ".weight_shape"].tolist()
        scale = packed[module + ".weight_scale"].float()
        q = unpack_from_int32(value, 4, torch.Size(shape)).float()
        weight = (q.reshape(shape[0], scale.shape[1], -1) * scale[:, :, None]).reshape(shape)
        if module + ".weight" not in input_names:
            parent, projection = module.rsplit(".", 1)
            module = f"{parent}.{legacy[projection]}"
        dense[module + ".weight"] = weight.to(torch.bfloat16)
    if set(dense) != input_names:
        raise ValueError(f"dequantized names differ from the input's: {sorted(set(dense) ^ input_names)}")
    os.makedirs(out_dir, exist_ok=True)
    save_file(dense, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(input_dir, "config.json")) as f:
        write_json(os.path.join(out_dir, "config.json"), json.load(f))


def perplexity(model_dir, cls, rows, input_dir=None):
    """transformers' perplexity on `rows`, loading as llm-compressor's
    load_context does: a plain from_pretrained does not load compressed
    per-expert tensors into transformers' fused experts (it leaves them
    randomly initialised), so the number of keys it misses is recorded too.
    Loaded twice with different seeds: parameters that differ were not loaded
    from the checkpoint (transformers 5.17 reads none of the
    block_sparse_moe.experts.N.{gate,up,down}_proj tensors oneshot writes for
    Mixtral). Then the perplexity is null, and for a weight-only checkpoint
    the perplexity of its dense dequantized weights is recorded instead."""
    _, info = cls.from_pretrained(model_dir, dtype="auto", output_loading_info=True)
    model = loaded(model_dir, cls, 0)
    again = loaded(model_dir, cls, 1).state_dict()
    not_loaded = sorted(k for k, v in model.state_dict().items() if not torch.equal(v, again[k]))
    result = {"rows": f"{NUM_SAMPLES}-{NUM_SAMPLES + len(rows) - 1}", "loaded_with": "llmcompressor.utils.load_context",
              "plain_from_pretrained_missing_keys": sorted(info["missing_keys"]),
              "load_context_not_loaded": not_loaded}
    if not_loaded:
        result["perplexity"] = None
        if input_dir is not None and os.path.exists(os.path.join(model_dir, "model.safetensors")):
            dense_dir = os.path.join("/tmp", "wring_dense_dequantized", os.path.basename(model_dir))
            dense_dequantized(model_dir, input_dir, dense_dir)
            nll, tokens = ref.nll_of(cls.from_pretrained(dense_dir, dtype="auto").eval(), rows)
            result["dense_dequantized_perplexity"] = math.exp(nll / tokens)
    else:
        nll, tokens = ref.nll_of(model, rows)
        result["perplexity"] = math.exp(nll / tokens)
    result["tokens"] = sum(len(row) - 1 for row in rows)
    return result


def keep_attention_causal(model):
    """On Qwen3-MoE and Phi3, oneshot's sequential pipeline calls every self_attn with
    attention_mask=None while calibration_forward_context forces eager
    attention, and eager attention without a mask is bidirectional: every
    calibration statistic after the first attention then comes from a model
    that sees future tokens (observed: layer 0's attention output differs
    from transformers' own eager or sdpa forward on the same ids by ~20%).
    The references are about the compression algorithms, not that defect:
    this supplies the causal mask (with the layer's sliding window, if any)
    where the pipeline passed none (a no-op where a mask arrives, as on
    Qwen3-Next's, Qwen3.5's and Gemma3's attention)."""
    supplied = set()

    def causal(module, args, kwargs):
        if kwargs.get("attention_mask") is not None or module.config._attn_implementation != "eager":
            return None
        hidden = args[0] if args else kwargs["hidden_states"]
        length = hidden.shape[1]
        blocked = torch.ones(length, length, dtype=torch.bool, device=hidden.device).triu(1)
        # Gemma3 keeps its window per layer, Phi3 in its config.
        window = getattr(module, "sliding_window", getattr(module.config, "sliding_window", None))
        if window is not None:
            blocked |= torch.ones(length, length, dtype=torch.bool, device=hidden.device).tril(-window)
        if type(module).__name__ not in supplied:
            supplied.add(type(module).__name__)
            print("keep_attention_causal: supplied the mask of", type(module).__name__, "window", window)
        mask = torch.zeros(length, length, dtype=hidden.dtype, device=hidden.device)
        mask = mask.masked_fill(blocked, torch.finfo(hidden.dtype).min)
        return args, kwargs | {"attention_mask": mask[None, None].expand(hidden.shape[0], 1, length, length)}
    for name, module in model.named_modules():
        if name.endswith("self_attn"):
            module.register_forward_pre_hook(causal, with_kwargs=True)


def run_oneshot(model_dir, cls, tokenizer, ids, recipe_path, out_dir):
    """oneshot as llm-compressor's examples run it, then save_pretrained without
    the files the references do not compare."""
    with load_context(cls):
        model = cls.from_pretrained(model_dir, dtype=torch.bfloat16)
    keep_attention_causal(model)
    dataset = Dataset.from_dict({"input_ids": ids, "attention_mask": [[1] * len(ids[0])] * len(ids)})
    oneshot(model=model, processor=tokenizer, dataset=dataset, recipe=recipe_path,
            num_calibration_samples=len(ids), max_seq_length=len(ids[0]),
            shuffle_calibration_samples=False, pipeline="sequential")
    model.save_pretrained(out_dir, save_compressed=True)
    for extra in ("recipe.yaml", "generation_config.json"):
        if os.path.exists(os.path.join(out_dir, extra)):
            os.remove(os.path.join(out_dir, extra))


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=1)
        f.write("\n")


def main():
    # Pinning host memory is a transfer optimisation that needs a CUDA driver.
    if not torch.cuda.is_available():
        IntermediatesCache.pin_memory = lambda self, *args, **kwargs: None
    recorder = AwqRecorder()
    # MODEL reruns a model's recipes; MODEL/RECIPE only that recipe (the
    # model is rebuilt the same way, from the same seeds).
    only = {arg.split("/")[0] for arg in sys.argv[2:]}
    only_recipes = {arg for arg in sys.argv[2:] if "/" in arg}
    for index, (name, make_model, cls, recipes) in enumerate(cases(), start=1):
        if only and name not in only:
            continue
        out = os.path.join(OUT, name)
        os.makedirs(out, exist_ok=True)
        all_ids = ref.write_calibration_ids(out, NUM_SAMPLES + EVAL_SAMPLES, SEQ_LEN, VOCAB)
        ids, held_out = all_ids[:NUM_SAMPLES], all_ids[NUM_SAMPLES:]
        for attempt in range(200):
            torch.manual_seed(index * 1000 + attempt)
            model = make_model().to(torch.bfloat16)
            add_outliers(model, index * 1000 + attempt)
            margin = router_margin(model, ids)
            if margin is None or margin >= 0.03:
                break
        print(name, "seed", index * 1000 + attempt, "router margin", margin)
        model_dir = os.path.join(out, "model")
        model.save_pretrained(model_dir, save_original_format=name not in FUSED_INPUT)
        tokenizer = ref.save_word_level_tokenizer(model_dir, VOCAB)
        write_json(os.path.join(out, "perplexity.json"), perplexity(model_dir, cls, held_out)
                   | {"seed": index * 1000 + attempt, "router_logit_margin_bf16": margin})
        for recipe_name, text in recipes.items():
            if any(r.startswith(name + "/") for r in only_recipes) and f"{name}/{recipe_name}" not in only_recipes:
                continue
            recipe_path = ref.write_recipe(out, recipe_name, text)
            out_dir = os.path.join(out, "reference", recipe_name)
            run_oneshot(model_dir, cls, tokenizer, ids, recipe_path, out_dir)
            recorder.write(out_dir)
            try:
                weight_only = "W4A16" in text
                result = perplexity(out_dir, cls, held_out, model_dir if weight_only else None)
            except Exception as error:  # recorded: whether transformers loads it is part of the reference
                result = {"error": f"{type(error).__name__}: {error}"}
            write_json(os.path.join(out_dir, "perplexity.json"), result)
            print(name, recipe_name, result)
    ref.write_versions(OUT)


if __name__ == "__main__":
    main()
