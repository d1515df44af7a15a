"""Forward references for the model families beyond the dense decoder:
tiny random-init transformers models, saved as transformers saves them, with
the outputs of every block on fixed token ids. The C++ model tests compare
against these without Python in CI.

Rerun (CPU, about a minute) from the repository root with the reference env
(torch 2.10, transformers 5.17; see versions.json):
    /work/refvenv/bin/python backend/model/testdata/families/make_family_references.py
It rewrites backend/model/testdata/families/<dir>/ for every entry of FAMILIES
and tolerances.json beside this file. UPSTREAM_NOTES.md explains the math.

Each <dir>/ holds config.json + model.safetensors exactly as save_pretrained
wrote them (generation_config.json dropped), and reference.safetensors with
float32 tensors (holding values of the checkpoint dtype), B=2 sequences:
  input_ids              [B, T] int64
  embeddings             input of decoder layer 0 (Gemma: already scaled)
  layer_{i}_mixer        output of self_attn / linear_attn (before the residual;
                         for Gemma before post_attention_layernorm)
  layer_{i}_mlp          output of mlp (dense or sparse MoE block; for Gemma
                         before post_feedforward_layernorm)
  layer_{i}_router_logits  [B*T, E] router logits of a sparse MoE layer
  layer_{i}_output       output of decoder layer i (after both residuals)
  final_norm             model.norm output
  logits                 [B, T, vocab]
Everything is computed by the reloaded checkpoint with eager attention and
eager experts (the per-expert loop), the way wring mirrors it.

Weights are random but rounded to bf16-representable values (stored as
float32 in the fp32 checkpoints), so a bf16 load holds exactly the same
weights: qwen3_5_moe_text_bf16/ is qwen3_5_moe_text/ saved in bf16.
qwen3_moe_fused/ is qwen3_moe/ written with the fused 3-D expert tensors;
its reference is qwen3_moe/reference.safetensors (same weights).

tolerances.json records, per family, how far transformers' own kernels are
apart (max |diff| of logits / of the last layer output): eager vs sdpa
attention, eager vs grouped_mm / batched_mm experts, chunked vs recurrent
gated delta rule, in fp32 and in bf16, and bf16 vs fp32.
"""
import copy as copy_module
import json
import os
import shutil

import torch
import transformers
from safetensors.torch import save_file
from transformers import (Gemma3ForCausalLM, Gemma3TextConfig, MixtralConfig, MixtralForCausalLM, Phi3Config,
                          Phi3ForCausalLM, Qwen2MoeConfig, Qwen2MoeForCausalLM, Qwen3_5Config,
                          Qwen3_5ForConditionalGeneration, Qwen3_5MoeConfig, Qwen3_5MoeForConditionalGeneration,
                          Qwen3MoeConfig, Qwen3MoeForCausalLM, Qwen3NextConfig, Qwen3NextForCausalLM)
from transformers.models.qwen3_5 import modeling_qwen3_5
from transformers.models.qwen3_5_moe import modeling_qwen3_5_moe
from transformers.models.qwen3_next import modeling_qwen3_next

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB = 64
# Token ids are drawn below this: the Qwen3.5 image/video/vision markers sit above it.
TEXT_VOCAB = 60
BASE = dict(vocab_size=VOCAB, hidden_size=64, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
            rms_norm_eps=1e-6, max_position_embeddings=512, bos_token_id=0, eos_token_id=1, pad_token_id=None)
# Gated DeltaNet: 2 key heads, 4 value heads (so q/k are repeated per value head), head dims 16.
LINEAR = dict(linear_num_key_heads=2, linear_num_value_heads=4, linear_key_head_dim=16, linear_value_head_dim=16,
              linear_conv_kernel_dim=4)
HYBRID_LAYERS = ["linear_attention", "full_attention"]
TINY_VISION = dict(depth=1, hidden_size=16, intermediate_size=32, num_heads=2, patch_size=4, out_hidden_size=64,
                   num_position_embeddings=16, temporal_patch_size=2, spatial_merge_size=2)
QWEN3_5_TOKENS = dict(image_token_id=60, video_token_id=61, vision_start_token_id=62, vision_end_token_id=63)
# Text-only positions are equal on the three M-RoPE axes, so the sections do
# not change the result; real configs carry them, so the reader must accept them.
QWEN3_5_ROPE = dict(rope_type="default", rope_theta=10000000.0, partial_rotary_factor=0.25,
                    mrope_interleaved=True, mrope_section=[1, 1, 0])


def families():
    """(directory, model, sequence length, save_original_format). The hybrid
    models get 66 tokens: the chunked gated delta rule works in chunks of 64,
    so the state is carried across a chunk boundary."""
    yield "qwen3_moe", Qwen3MoeForCausalLM(Qwen3MoeConfig(
        **BASE, num_hidden_layers=2, intermediate_size=64, moe_intermediate_size=16, num_experts=8,
        num_experts_per_tok=2, norm_topk_prob=True,
        rope_parameters=dict(rope_type="default", rope_theta=1000000.0))), 16, True
    # Qwen1.5-MoE style: q/k/v biases, norm_topk_prob False, shared expert with
    # sigmoid gate; layer 1 is a dense MLP (mlp_only_layers).
    yield "qwen2_moe", Qwen2MoeForCausalLM(Qwen2MoeConfig(
        **{k: v for k, v in BASE.items() if k != "head_dim"}, num_hidden_layers=2, intermediate_size=64,
        moe_intermediate_size=16, shared_expert_intermediate_size=32, num_experts=6, num_experts_per_tok=3,
        norm_topk_prob=False, mlp_only_layers=[1], qkv_bias=True,
        rope_parameters=dict(rope_type="default", rope_theta=1000000.0))), 16, True
    # Router probabilities stay float32 in Mixtral (no cast back to the model dtype).
    yield "mixtral", MixtralForCausalLM(MixtralConfig(
        **BASE, num_hidden_layers=2, intermediate_size=16, num_local_experts=4, num_experts_per_tok=2,
        sliding_window=6, rope_parameters=dict(rope_type="default", rope_theta=1000000.0))), 16, True
    yield "qwen3_next", Qwen3NextForCausalLM(Qwen3NextConfig(
        **BASE, **LINEAR, num_hidden_layers=2, layer_types=HYBRID_LAYERS, intermediate_size=64,
        moe_intermediate_size=16, shared_expert_intermediate_size=32, num_experts=4, num_experts_per_tok=2,
        norm_topk_prob=True,
        rope_parameters=dict(rope_type="default", rope_theta=10000000.0, partial_rotary_factor=0.25))), 66, True
    yield "qwen3_5_text", Qwen3_5ForConditionalGeneration(Qwen3_5Config(
        text_config=dict(BASE, **LINEAR, num_hidden_layers=2, layer_types=HYBRID_LAYERS, intermediate_size=64,
                         rope_parameters=QWEN3_5_ROPE),
        vision_config=TINY_VISION, **QWEN3_5_TOKENS)), 66, True
    # Hub checkpoints of Qwen3.5-MoE store the fused 3-D experts, which
    # save_pretrained only writes with save_original_format=False.
    yield "qwen3_5_moe_text", Qwen3_5MoeForConditionalGeneration(Qwen3_5MoeConfig(
        text_config=dict(BASE, **LINEAR, num_hidden_layers=2, layer_types=HYBRID_LAYERS, moe_intermediate_size=16,
                         shared_expert_intermediate_size=32, num_experts=4, num_experts_per_tok=2,
                         rope_parameters=QWEN3_5_ROPE),
        vision_config=TINY_VISION, **QWEN3_5_TOKENS)), 66, False
    # Sliding window 6 on layer 0, global attention on layer 1 (with linear
    # RoPE scaling, as Gemma-3 4B+ has); query_pre_attn_scalar != head_dim;
    # tied embeddings (Gemma's default).
    yield "gemma3_text", Gemma3ForCausalLM(Gemma3TextConfig(
        **{**BASE, "pad_token_id": 0, "bos_token_id": 2, "eos_token_id": 1}, num_hidden_layers=2,
        intermediate_size=64, sliding_window=6, query_pre_attn_scalar=24,
        layer_types=["sliding_attention", "full_attention"],
        rope_parameters=dict(sliding_attention=dict(rope_type="default", rope_theta=10000.0),
                             full_attention=dict(rope_type="linear", rope_theta=1000000.0, factor=8.0)))), 16, True
    # Fused qkv_proj and gate_up_proj, partial rotary (Phi-4-mini has 0.75), sliding window.
    yield "phi3", Phi3ForCausalLM(Phi3Config(
        **{k: v for k, v in BASE.items() if k != "head_dim"}, num_hidden_layers=2, intermediate_size=64,
        sliding_window=6, rope_parameters=dict(rope_type="default", rope_theta=10000.0,
                                               partial_rotary_factor=0.75))), 16, True


def text_model(model):
    """The decoder stack (model.model, or model.model.language_model)."""
    inner = model.model
    return getattr(inner, "language_model", inner)


def randomize(model, seed):
    """Weights that make every block matter, rounded to bf16 values.

    transformers' init (std 0.02, norms at their neutral value, A_log up to
    log 16) gives near-uniform attention and a delta rule that forgets every
    step; instead: unit-variance activations, sharp attention, norms away from
    neutral, decays exp(g) spread over (0.2, 1), decisive routers."""
    g = torch.Generator().manual_seed(seed)
    tied = text_model(model).config.tie_word_embeddings
    zero_centered = ("Gemma3RMSNorm", "Qwen3NextRMSNorm", "Qwen3_5RMSNorm", "Qwen3_5MoeRMSNorm")
    owner = {}
    for mname, module in model.named_modules():
        for pname, _ in module.named_parameters(recurse=False):
            owner[f"{mname}.{pname}" if mname else pname] = type(module).__name__
    with torch.no_grad():
        for name, p in model.named_parameters():
            shape = p.shape
            if "visual" in name:
                value = 0.02 * torch.randn(shape, generator=g)
            elif name.endswith("norm.weight") or name.endswith("layernorm.weight"):
                centre = 0.0 if owner[name] in zero_centered else 1.0
                value = centre + 0.3 * torch.randn(shape, generator=g)
            elif name.endswith("A_log"):
                value = torch.empty(shape).uniform_(0.05, 1.0, generator=g).log()
            elif name.endswith("dt_bias"):
                value = 0.5 * torch.randn(shape, generator=g)
            elif name.endswith("conv1d.weight"):
                value = 0.5 * torch.randn(shape, generator=g)
            elif name.endswith(".bias"):
                value = 0.3 * torch.randn(shape, generator=g)
            elif "embed_tokens" in name:
                # Tied embeddings are also the output head: keep logits O(1).
                value = (0.25 if tied else 1.0) * torch.randn(shape, generator=g)
            else:
                # Linear [out, in] and fused experts [E, out, in]: fan-in is the last dim.
                scale = 1.0
                if any(k in name for k in ("q_proj", "k_proj", "qkv_proj")):
                    scale = 2.0
                elif name.endswith("mlp.gate.weight") or name.endswith("block_sparse_moe.gate.weight"):
                    scale = 3.0
                value = scale * torch.randn(shape, generator=g) / shape[-1] ** 0.5
            p.copy_(value.to(torch.bfloat16).to(p.dtype))


class Recorder:
    """Forward hooks that keep each block's output."""

    def __init__(self, model):
        self.out = {}
        self.handles = []
        stack = text_model(model)
        self._hook(stack.layers[0], "embeddings", pre=True)
        for i, layer in enumerate(stack.layers):
            self._hook(layer, f"layer_{i}_output")
            mixer = getattr(layer, "linear_attn", None) or layer.self_attn
            self._hook(mixer, f"layer_{i}_mixer")
            mlp = getattr(layer, "mlp", None) or layer.block_sparse_moe
            self._hook(mlp, f"layer_{i}_mlp")
            if hasattr(mlp, "gate") and hasattr(mlp, "experts"):
                self._hook(mlp.gate, f"layer_{i}_router_logits")
        self._hook(stack.norm, "final_norm")

    def _hook(self, module, key, pre=False):
        def keep(value):
            value = value[0] if isinstance(value, tuple) else value
            self.out[key] = value.detach().to(torch.float32).clone()

        if pre:
            self.handles.append(module.register_forward_pre_hook(lambda m, args, kwargs: keep(args[0] if args else kwargs["hidden_states"]), with_kwargs=True))
        else:
            self.handles.append(module.register_forward_hook(lambda m, args, output: keep(output)))

    def remove(self):
        for h in self.handles:
            h.remove()


def load(cls, path, dtype, attn="eager", experts="eager"):
    return cls.from_pretrained(path, dtype=dtype, attn_implementation=attn, experts_implementation=experts).eval()


def run(model, ids, record=False):
    recorder = Recorder(model) if record else None
    with torch.no_grad():
        logits = model(input_ids=ids, use_cache=False).logits.to(torch.float32)
    if not record:
        return logits
    recorder.remove()
    recorder.out["logits"] = logits
    recorder.out["input_ids"] = ids
    return recorder.out


class RecurrentDeltaRule:
    """Makes the hybrid models use the token-by-token gated delta rule
    instead of the chunked one (both are transformers' torch fallbacks)."""
    modules = (modeling_qwen3_next, modeling_qwen3_5, modeling_qwen3_5_moe)

    def __enter__(self):
        self.saved = [m.torch_chunk_gated_delta_rule for m in self.modules]
        for m in self.modules:
            m.torch_chunk_gated_delta_rule = m.torch_recurrent_gated_delta_rule

    def __exit__(self, *exc):
        for m, f in zip(self.modules, self.saved):
            m.torch_chunk_gated_delta_rule = f


def max_diff(a, b):
    return float((a - b).abs().max())


def kernel_spread(cls, path, ids, is_moe, is_hybrid):
    """How far transformers' own kernels are apart on this model."""
    report = {}
    for dtype_name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        base = run(load(cls, path, dtype), ids, record=True)
        spread = {"logits_max_abs": float(base["logits"].abs().max())}
        last = max(k for k in base if k.startswith("layer_") and k.endswith("_output"))
        variants = {"sdpa_attention": dict(attn="sdpa")}
        if is_moe:
            variants["grouped_mm_experts"] = dict(experts="grouped_mm")
            variants["batched_mm_experts"] = dict(experts="batched_mm")
        for vname, kwargs in variants.items():
            other = run(load(cls, path, dtype, **kwargs), ids, record=True)
            spread[vname] = {"logits": max_diff(base["logits"], other["logits"]),
                             "last_layer_output": max_diff(base[last], other[last])}
        if is_hybrid:
            with RecurrentDeltaRule():
                other = run(load(cls, path, dtype), ids, record=True)
            spread["recurrent_delta_rule"] = {"logits": max_diff(base["logits"], other["logits"]),
                                              "last_layer_output": max_diff(base[last], other[last])}
        report[dtype_name] = spread
        if dtype_name == "fp32":
            fp32 = base
        else:
            report["bf16_vs_fp32"] = {"logits": max_diff(base["logits"], fp32["logits"]),
                                      "last_layer_output": max_diff(base[last], fp32[last])}
    return report


def router_margin(model, ids, dtype):
    """Smallest gap between the k-th and (k+1)-th router logit over all tokens
    and MoE layers (top-k on the softmax is top-k on the logits), and the
    chosen experts. An implementation whose router logits move by less than
    the gap picks the same experts; near-ties would make the references flip
    experts under rounding differences, so the generator avoids them."""
    copy = copy_module.deepcopy(model).to(dtype)
    copy.set_attn_implementation("eager")
    copy.set_experts_implementation("eager")
    ref = run(copy.eval(), ids, record=True)
    top_k = text_model(model).config.num_experts_per_tok
    gaps, chosen = [], []
    for key in sorted(ref):
        if key.endswith("_router_logits"):
            logits = ref[key].sort(-1, descending=True)
            gaps.append(float((logits.values[:, top_k - 1] - logits.values[:, top_k]).min()))
            chosen.append(logits.indices[:, :top_k].sort(-1).values)
    return min(gaps), chosen


def randomize_with_clear_routing(model, seed, ids, bf16_too):
    """randomize() with the first seed whose routing has no near-ties (fp32
    logit gap >= 0.02; for a bf16 reference also >= 0.04 in bf16, about one
    bf16 step at these magnitudes, with the same experts as fp32)."""
    for attempt in range(500):
        randomize(model, seed * 1000 + attempt)
        margin, chosen = router_margin(model, ids, torch.float32)
        if margin < 0.02:
            continue
        if not bf16_too:
            return {"seed": seed * 1000 + attempt, "router_logit_margin_fp32": margin}
        margin16, chosen16 = router_margin(model, ids, torch.bfloat16)
        if margin16 >= 0.04 and all(torch.equal(a, b) for a, b in zip(chosen, chosen16)):
            return {"seed": seed * 1000 + attempt, "router_logit_margin_fp32": margin,
                    "router_logit_margin_bf16": margin16}
    raise RuntimeError("no seed with clear routing")


def save(model, out, dtype, original_format):
    shutil.rmtree(out, ignore_errors=True)
    model.to(dtype).save_pretrained(out, save_original_format=original_format)
    os.remove(os.path.join(out, "generation_config.json"))
    for f in os.listdir(out):
        os.chmod(os.path.join(out, f), 0o644)


def is_moe(model):
    return getattr(text_model(model).config, "num_experts_per_tok", None) is not None


def main():
    torch.manual_seed(0)
    tolerances = {}
    for seed, (name, model, seq_len, original_format) in enumerate(families(), start=1):
        ids = torch.randint(0, TEXT_VOCAB, (2, seq_len), generator=torch.Generator().manual_seed(7))
        bf16_variant = name == "qwen3_5_moe_text"
        if is_moe(model):
            routing = randomize_with_clear_routing(model, seed, ids, bf16_variant)
        else:
            randomize(model, seed * 1000)
            routing = {"seed": seed * 1000}
        cls = type(model)
        out = os.path.join(HERE, name)
        save(model, out, torch.float32, original_format)
        ref = run(load(cls, out, "auto"), ids, record=True)
        save_file(ref, os.path.join(out, "reference.safetensors"))
        os.chmod(os.path.join(out, "reference.safetensors"), 0o644)
        config = text_model(model).config
        is_hybrid = "linear_attention" in (getattr(config, "layer_types", None) or [])
        entry = kernel_spread(cls, out, ids, is_moe(model), is_hybrid) | routing
        tolerances[name] = entry
        print(name, json.dumps(entry))

        if name == "qwen3_moe":
            fused = out + "_fused"
            save(model, fused, torch.float32, False)
            again = run(load(cls, fused, "auto"), ids)
            assert torch.equal(again, ref["logits"]), "fused and per-expert checkpoints disagree"
        if bf16_variant:
            # Stored in bf16 (the checkpoint dtype), unlike the fp32 references.
            bf16 = out + "_bf16"
            save(model, bf16, torch.bfloat16, original_format)
            ref16 = run(load(cls, bf16, "auto"), ids, record=True)
            ref16 = {k: v if k == "input_ids" else v.to(torch.bfloat16) for k, v in ref16.items()}
            save_file(ref16, os.path.join(bf16, "reference.safetensors"))
            os.chmod(os.path.join(bf16, "reference.safetensors"), 0o644)
        if name == "qwen3_5_text":
            # The text weights alone, as Qwen3_5ForCausalLM, give the same logits.
            text_only = transformers.Qwen3_5ForCausalLM.from_pretrained(out, attn_implementation="eager").eval()
            assert max_diff(run(text_only, ids), ref["logits"]) < 1e-5
        model.to(torch.float32)
    with open(os.path.join(HERE, "tolerances.json"), "w") as f:
        json.dump(tolerances, f, indent=1)
        f.write("\n")
    with open(os.path.join(HERE, "versions.json"), "w") as f:
        json.dump({"torch": torch.__version__, "transformers": transformers.__version__}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
