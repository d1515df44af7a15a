# Builds tiny random-weight decoder-only models with transformers and records
# their outputs, so backend/model's C++ tests check CausalLm against the real
# implementation without Python in CI.
#
# Rerun (CPU is enough, takes seconds) from the repository root:
#   /work/refenv/venv/bin/python backend/model/testdata/make_reference.py
# It rewrites backend/model/testdata/<model>/ (the checkpoint as
# save_pretrained writes it, plus reference.safetensors) for every model below.
#
# reference.safetensors holds (floating tensors stored as float32, holding the
# values of the model dtype):
#   input_ids            [2, 12] int64
#   embeddings           model.embed_tokens(input_ids)
#   hidden_after_layer0  output of decoder layer 0
#   logits               eager attention logits (what CausalLm mirrors)
#   rope_inv_freq        the rotary embedding's inverse frequencies (float32)
#   logits_sdpa          the same with transformers' default (sdpa) attention;
#                        documents how far the two implementations are apart
# and, for llama only, references for CausalLm's hooks:
#   logits_down_proj_input_halved  every mlp.down_proj fed 0.5 * its input
#                                  (forward_pre_hook)
#   layer0_key, layer0_value       what the KV cache's update() receives for
#                                  layer 0: [B, kv_heads, T, head_dim] after RoPE
#   logits_kv_rescaled             update() returns (0.5 * key, 2 * value)
import json
import os
import shutil

import torch
import transformers
from safetensors.torch import save_file
from transformers import (DynamicCache, LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM,
                          Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM)

HERE = os.path.dirname(os.path.abspath(__file__))
SMALL = dict(vocab_size=128, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, rms_norm_eps=1e-6)


def models():
    yield "llama_fp32_llama3rope_sharded", torch.float32, "150KB", LlamaForCausalLM(LlamaConfig(
        **SMALL, head_dim=16, max_position_embeddings=4096,
        # Wavelengths 2*pi*500000^(i/8) = 6.3, 33, 168, 873, 4443, ...: with
        # these factors dims 0-2 keep their frequency, dim 3 is smoothed and the
        # rest are divided by `factor`, so every branch of llama3 scaling runs.
        rope_parameters=dict(rope_type="llama3", rope_theta=500000.0, factor=8.0, low_freq_factor=1.0,
                             high_freq_factor=4.0, original_max_position_embeddings=1024)))
    # A window shorter than the sequence (12) so the sliding mask matters.
    yield "mistral_bf16_sliding", torch.bfloat16, None, MistralForCausalLM(MistralConfig(
        **SMALL, head_dim=16, sliding_window=5, rope_parameters=dict(rope_type="default", rope_theta=10000.0)))
    yield "qwen2_fp32_bias", torch.float32, None, Qwen2ForCausalLM(Qwen2Config(
        **SMALL, rope_parameters=dict(rope_type="default", rope_theta=1000000.0)))
    # head_dim 32 != hidden/heads, tied embeddings, q/k norms, attention_bias
    # (q, k, v and o biases).
    yield "qwen3_fp32_tied", torch.float32, None, Qwen3ForCausalLM(Qwen3Config(
        **SMALL, head_dim=32, tie_word_embeddings=True, attention_bias=True,
        rope_parameters=dict(rope_type="default", rope_theta=1000000.0)))


def randomize(model):
    # save_pretrained's init (std 0.02, norms at 1) makes attention nearly
    # uniform, which would hide RoPE and masking mistakes: use weights that
    # give sharp attention and non-trivial norms instead.
    g = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.3 * torch.randn(p.shape, generator=g))
            elif name.endswith(".bias"):
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
            elif "embed_tokens" in name:
                p.copy_(torch.randn(p.shape, generator=g))
            else:
                scale = 2.0 if ("q_proj" in name or "k_proj" in name) else 1.0
                p.copy_(scale * torch.randn(p.shape, generator=g) / p.shape[1] ** 0.5)


class RescalingCache(DynamicCache):
    """Records layer 0's key/value and feeds attention (0.5 k, 2 v)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen = {}

    def update(self, key_states, value_states, layer_idx, *args, **kwargs):
        self.seen.setdefault(layer_idx, (key_states.clone(), value_states.clone()))
        super().update(key_states, value_states, layer_idx, *args, **kwargs)
        return 0.5 * key_states, 2.0 * value_states


def as_f32(t):
    return t.detach().to(torch.float32).contiguous()


def main():
    torch.manual_seed(0)
    for name, dtype, shard, model in models():
        out = os.path.join(HERE, name)
        shutil.rmtree(out, ignore_errors=True)
        randomize(model)
        model = model.to(dtype)
        if shard:
            model.save_pretrained(out, max_shard_size=shard)
        else:
            model.save_pretrained(out)
        os.remove(os.path.join(out, "generation_config.json"))

        ids = torch.randint(0, model.config.vocab_size, (2, 12), generator=torch.Generator().manual_seed(7))
        ref = {"input_ids": ids}
        # Reload as a user would (dtype from config.json) to test the files.
        eager = type(model).from_pretrained(out, dtype="auto", attn_implementation="eager").eval()
        sdpa = type(model).from_pretrained(out, dtype="auto", attn_implementation="sdpa").eval()
        assert eager.dtype == dtype
        with torch.no_grad():
            result = eager(ids, output_hidden_states=True, use_cache=False)
            ref["rope_inv_freq"] = as_f32(eager.model.rotary_emb.inv_freq)
            ref["embeddings"] = as_f32(result.hidden_states[0])
            ref["hidden_after_layer0"] = as_f32(result.hidden_states[1])
            ref["logits"] = as_f32(result.logits)
            ref["logits_sdpa"] = as_f32(sdpa(ids, use_cache=False).logits)
            if name.startswith("llama"):
                handles = [m.register_forward_pre_hook(lambda mod, args: (0.5 * args[0],))
                           for n, m in eager.named_modules() if n.endswith("mlp.down_proj")]
                ref["logits_down_proj_input_halved"] = as_f32(eager(ids, use_cache=False).logits)
                for h in handles:
                    h.remove()
                cache = RescalingCache(config=eager.config)
                ref["logits_kv_rescaled"] = as_f32(eager(ids, past_key_values=cache, use_cache=True).logits)
                ref["layer0_key"], ref["layer0_value"] = (as_f32(t) for t in cache.seen[0])
        save_file(ref, os.path.join(out, "reference.safetensors"))
        for f in os.listdir(out):
            os.chmod(os.path.join(out, f), 0o644)
        gap = (ref["logits"] - ref["logits_sdpa"]).abs().max().item()
        print(f"{name}: {dtype}, eager vs sdpa max |diff| {gap:.3g}, |logits| max {ref['logits'].abs().max():.3g}")
    with open(os.path.join(HERE, "versions.json"), "w") as f:
        json.dump({"torch": torch.__version__, "transformers": transformers.__version__}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
