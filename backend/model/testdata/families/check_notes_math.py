"""Checks UPSTREAM_NOTES.md section 1 against transformers: re-derives the
hybrid families' blocks (offset RMSNorm, Gated DeltaNet in both naming
schemes with the token-by-token delta rule, output-gated attention with
partial rotary, sparse MoE with the shared expert) from the checkpoint
tensors alone, in plain torch, and compares them with the fp32 references
beside this file. An executable form of the notes, not used by the build.

    /work/refvenv/bin/python backend/model/testdata/families/check_notes_math.py
"""
import json
import os

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

HERE = os.path.dirname(os.path.abspath(__file__))


def offset_rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * (1 + w)


def gated_delta_net(x, p, cfg, qwen3_next):
    nk, nv = cfg["linear_num_key_heads"], cfg["linear_num_value_heads"]
    dk, dv = cfg["linear_key_head_dim"], cfg["linear_value_head_dim"]
    r, (b_, t_, _) = nv // nk, x.shape
    if qwen3_next:
        qkvz = (x @ p["in_proj_qkvz.weight"].T).view(b_, t_, nk, 2 * dk + 2 * r * dv)
        q, k, v, z = qkvz.split([dk, dk, r * dv, r * dv], -1)
        ba = (x @ p["in_proj_ba.weight"].T).view(b_, t_, nk, 2 * r)
        b, a = ba.split([r, r], -1)
        q, k, v = q.reshape(b_, t_, -1), k.reshape(b_, t_, -1), v.reshape(b_, t_, -1)
        z, b, a = z.reshape(b_, t_, nv, dv), b.reshape(b_, t_, nv), a.reshape(b_, t_, nv)
    else:
        q, k, v = (x @ p["in_proj_qkv.weight"].T).split([nk * dk, nk * dk, nv * dv], -1)
        z = (x @ p["in_proj_z.weight"].T).view(b_, t_, nv, dv)
        b, a = x @ p["in_proj_b.weight"].T, x @ p["in_proj_a.weight"].T
    mixed = torch.cat([q, k, v], -1).transpose(1, 2)  # [B, C, T]
    kernel = p["conv1d.weight"].shape[-1]
    mixed = F.conv1d(F.pad(mixed, (kernel - 1, 0)), p["conv1d.weight"], groups=mixed.shape[1])
    q, k, v = F.silu(mixed).transpose(1, 2).split([nk * dk, nk * dk, nv * dv], -1)
    q = q.view(b_, t_, nk, dk).repeat_interleave(r, 2)
    k = k.view(b_, t_, nk, dk).repeat_interleave(r, 2)
    v = v.view(b_, t_, nv, dv)
    beta = b.sigmoid()
    g = -p["A_log"].exp() * F.softplus(a + p["dt_bias"])
    q = q * torch.rsqrt((q * q).sum(-1, keepdim=True) + 1e-6) * dk ** -0.5
    k = k * torch.rsqrt((k * k).sum(-1, keepdim=True) + 1e-6)
    state = torch.zeros(b_, nv, dk, dv)
    out = torch.zeros(b_, t_, nv, dv)
    for t in range(t_):
        state = state * g[:, t].exp()[..., None, None]
        delta = (v[:, t] - torch.einsum("bhkv,bhk->bhv", state, k[:, t])) * beta[:, t, :, None]
        state = state + k[:, t, :, :, None] * delta[:, :, None, :]
        out[:, t] = torch.einsum("bhkv,bhk->bhv", state, q[:, t])
    normed = out * torch.rsqrt(out.pow(2).mean(-1, keepdim=True) + cfg["rms_norm_eps"])
    out = p["norm.weight"] * normed * F.silu(z)
    return out.reshape(b_, t_, nv * dv) @ p["out_proj.weight"].T


def rope(x, rotary_dim, theta, positions):
    inv_freq = 1.0 / theta ** (torch.arange(0, rotary_dim, 2).float() / rotary_dim)
    freqs = positions[:, None].float() * inv_freq[None]
    cos, sin = torch.cat([freqs, freqs], -1).cos(), torch.cat([freqs, freqs], -1).sin()
    rot, rest = x[..., :rotary_dim], x[..., rotary_dim:]
    half = rotary_dim // 2
    rotated = torch.cat([-rot[..., half:], rot[..., :half]], -1)
    return torch.cat([rot * cos + rotated * sin, rest], -1)


def gated_attention(x, p, cfg):
    nh, nkv, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    b_, t_, _ = x.shape
    q, gate = (x @ p["q_proj.weight"].T).view(b_, t_, nh, 2 * hd).split([hd, hd], -1)
    k = (x @ p["k_proj.weight"].T).view(b_, t_, nkv, hd)
    v = (x @ p["v_proj.weight"].T).view(b_, t_, nkv, hd)
    eps = cfg["rms_norm_eps"]
    q, k = offset_rms_norm(q, p["q_norm.weight"], eps), offset_rms_norm(k, p["k_norm.weight"], eps)
    params = cfg["rope_parameters"]
    rotary_dim = int(hd * params.get("partial_rotary_factor", 1.0))
    positions = torch.arange(t_)
    q, k = (rope(y.transpose(1, 2), rotary_dim, params["rope_theta"], positions) for y in (q, k))
    k, v = k.repeat_interleave(nh // nkv, 1), v.transpose(1, 2).repeat_interleave(nh // nkv, 1)
    scores = (q @ k.transpose(-1, -2)) * hd ** -0.5
    scores = scores.masked_fill(torch.ones(t_, t_, dtype=torch.bool).triu(1), float("-inf"))
    out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b_, t_, nh * hd)
    return (out * gate.reshape(b_, t_, nh * hd).sigmoid()) @ p["o_proj.weight"].T


def swiglu(x, gate, up, down):
    return (F.silu(x @ gate.T) * (x @ up.T)) @ down.T


def sparse_moe(x, p, cfg):
    shape, x = x.shape, x.reshape(-1, x.shape[-1])
    probs = (x @ p["gate.weight"].T).softmax(-1)
    weights, chosen = probs.topk(cfg["num_experts_per_tok"], -1)
    if cfg.get("norm_topk_prob", True):
        weights = weights / weights.sum(-1, keepdim=True)
    out = torch.zeros_like(x)
    for e in range(cfg["num_experts"]):
        if "experts.gate_up_proj" in p:  # fused [E, 2I, H]
            gate, up = p["experts.gate_up_proj"][e].chunk(2, 0)
            down = p["experts.down_proj"][e]
        else:
            gate, up, down = (p[f"experts.{e}.{n}_proj.weight"] for n in ("gate", "up", "down"))
        rows, slot = (chosen == e).nonzero(as_tuple=True)
        out.index_add_(0, rows, swiglu(x[rows], gate, up, down) * weights[rows, slot, None])
    if "shared_expert_gate.weight" in p:
        shared = swiglu(x, *(p[f"shared_expert.{n}_proj.weight"] for n in ("gate", "up", "down")))
        out = out + (x @ p["shared_expert_gate.weight"].T).sigmoid() * shared
    return out.reshape(shape)


def check(family, prefix, qwen3_next):
    config = json.load(open(os.path.join(HERE, family, "config.json")))
    cfg = config.get("text_config", config)
    weights = load_file(os.path.join(HERE, family, "model.safetensors"))
    ref = load_file(os.path.join(HERE, family, "reference.safetensors"))
    worst = 0.0
    for i, kind in enumerate(cfg["layer_types"]):
        layer = {k[len(f"{prefix}layers.{i}."):]: v for k, v in weights.items() if k.startswith(f"{prefix}layers.{i}.")}
        hidden = ref["embeddings"] if i == 0 else ref[f"layer_{i - 1}_output"]
        x = offset_rms_norm(hidden, layer["input_layernorm.weight"], cfg["rms_norm_eps"])
        if kind == "linear_attention":
            mixer = gated_delta_net(x, {k[len("linear_attn."):]: v for k, v in layer.items()
                                        if k.startswith("linear_attn.")}, cfg, qwen3_next)
        else:
            mixer = gated_attention(x, {k[len("self_attn."):]: v for k, v in layer.items()
                                        if k.startswith("self_attn.")}, cfg)
        mlp_in = offset_rms_norm(ref[f"layer_{i}_mixer"] + hidden, layer["post_attention_layernorm.weight"],
                                 cfg["rms_norm_eps"])
        mlp_p = {k[len("mlp."):]: v for k, v in layer.items() if k.startswith("mlp.")}
        mlp = sparse_moe(mlp_in, mlp_p, cfg) if "gate.weight" in mlp_p else swiglu(
            mlp_in, mlp_p["gate_proj.weight"], mlp_p["up_proj.weight"], mlp_p["down_proj.weight"])
        for name, mine in (("mixer", mixer), ("mlp", mlp)):
            diff = float((mine - ref[f"layer_{i}_{name}"]).abs().max())
            worst = max(worst, diff)
            print(f"{family} layer {i} {kind} {name}: max |diff| {diff:.2e}")
    return worst


def main():
    worst = max(check("qwen3_next", "model.", True), check("qwen3_5_text", "model.language_model.", False),
                check("qwen3_5_moe_text", "model.language_model.", False))
    print(f"worst {worst:.2e}")
    assert worst < 1e-4


if __name__ == "__main__":
    main()
