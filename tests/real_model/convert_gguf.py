"""Converts a Llama-architecture GGUF file (llama.cpp's format) into a
Hugging Face checkpoint directory that `wring compress`, transformers and
llm-compressor read: model.safetensors (float32), config.json,
tokenizer.json, tokenizer_config.json and generation_config.json.

    python convert_gguf.py MODEL.gguf OUT_DIR

Needs numpy, gguf and safetensors (PyPI) only, no torch, so that set-up on
a CI machine stays small. The conversion is what transformers' GGUF loader
(`from_pretrained(dir, gguf_file=...)`, transformers 5.17) does for the
`llama` architecture: every tensor is dequantized to float32 by gguf's own
dequantizer, tensor names are mapped back to transformers' names, and the
query and key projections get llama.cpp's rotary row permutation undone.
`reference.py check-conversion` verifies the tensors against transformers.

The tokenizer is byte-level BPE over the GGUF's vocabulary and merges.
Unlike transformers' GGUF tokenizer conversion, which drops it, the
pre-tokenizer keeps the digit splitting that GGUF's `tokenizer.ggml.pre`
names for SmolLM2 ("smollm": every digit on its own, then GPT-2's pattern),
as SmolLM2's own tokenizer.json does: that is how the model was trained.
"""
import json
import os
import sys

import gguf
import numpy as np
from safetensors.numpy import save_file

# llama.cpp tensor name (after "blk.N.") -> transformers' name.
_LAYER_TENSORS = {
    "attn_norm.weight": "input_layernorm.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
    "attn_q.weight": "self_attn.q_proj.weight",
    "attn_k.weight": "self_attn.k_proj.weight",
    "attn_v.weight": "self_attn.v_proj.weight",
    "attn_output.weight": "self_attn.o_proj.weight",
    "ffn_gate.weight": "mlp.gate_proj.weight",
    "ffn_up.weight": "mlp.up_proj.weight",
    "ffn_down.weight": "mlp.down_proj.weight",
}
_GLOBAL_TENSORS = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}
# Pre-tokenizers whose digit handling differs from GPT-2's regex.
_DIGIT_SPLITTING_PRE = {"smollm"}


class ConversionError(Exception):
    pass


def _field(reader, key, default=None):
    field = reader.fields.get(key)
    if field is None:
        if default is None:
            raise ConversionError("the GGUF file has no metadata key %r" % key)
        return default
    return field.contents()


def _hf_name(gguf_name):
    if gguf_name in _GLOBAL_TENSORS:
        return _GLOBAL_TENSORS[gguf_name]
    parts = gguf_name.split(".", 2)
    if len(parts) == 3 and parts[0] == "blk" and parts[2] in _LAYER_TENSORS:
        return "model.layers.%s.%s" % (parts[1], _LAYER_TENSORS[parts[2]])
    raise ConversionError("unknown GGUF tensor %r for the llama architecture" % gguf_name)


def _undo_rotary_permutation(weight, heads):
    # llama.cpp interleaves each head's two rotary halves; transformers'
    # rotate_half wants them as contiguous halves.
    rows = weight.shape[0]
    half = rows // heads // 2
    return weight.reshape(heads, half, 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def convert_tensors(reader):
    heads = int(_field(reader, "llama.attention.head_count"))
    kv_heads = int(_field(reader, "llama.attention.head_count_kv", heads))
    tensors = {}
    for t in reader.tensors:
        name = _hf_name(t.name)
        # GGUF lists dimensions fastest-first: reverse for numpy's row-major.
        shape = tuple(int(d) for d in reversed(t.shape.tolist()))
        value = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32).reshape(shape)
        if name.endswith("self_attn.q_proj.weight"):
            value = _undo_rotary_permutation(value, heads)
        elif name.endswith("self_attn.k_proj.weight"):
            value = _undo_rotary_permutation(value, kv_heads)
        tensors[name] = np.ascontiguousarray(value)
    return tensors


def make_config(reader, tensors):
    heads = int(_field(reader, "llama.attention.head_count"))
    hidden = int(_field(reader, "llama.embedding_length"))
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": hidden,
        "intermediate_size": int(_field(reader, "llama.feed_forward_length")),
        "num_hidden_layers": int(_field(reader, "llama.block_count")),
        "num_attention_heads": heads,
        "num_key_value_heads": int(_field(reader, "llama.attention.head_count_kv", heads)),
        "head_dim": int(_field(reader, "llama.rope.dimension_count", hidden // heads)),
        "max_position_embeddings": int(_field(reader, "llama.context_length")),
        "rms_norm_eps": float(_field(reader, "llama.attention.layer_norm_rms_epsilon")),
        "rope_theta": float(_field(reader, "llama.rope.freq_base", 10000.0)),
        "vocab_size": int(tensors["model.embed_tokens.weight"].shape[0]),
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": "lm_head.weight" not in tensors,
        "bos_token_id": int(_field(reader, "tokenizer.ggml.bos_token_id")),
        "eos_token_id": int(_field(reader, "tokenizer.ggml.eos_token_id")),
        "torch_dtype": "float32",
    }


def make_tokenizer(reader):
    if _field(reader, "tokenizer.ggml.model") != "gpt2":
        raise ConversionError("only byte-level BPE (tokenizer.ggml.model \"gpt2\") is converted")
    tokens = _field(reader, "tokenizer.ggml.tokens")
    token_types = _field(reader, "tokenizer.ggml.token_type")
    merges = _field(reader, "tokenizer.ggml.merges")
    # GGUF token types: 1 normal, 3 control, 4 user-defined.
    added = [{"id": i, "content": tok, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": token_types[i] == 3}
             for i, tok in enumerate(tokens) if token_types[i] in (3, 4)]
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                  "use_regex": True}
    pre_tokenizer = byte_level
    if _field(reader, "tokenizer.ggml.pre", "default") in _DIGIT_SPLITTING_PRE:
        pre_tokenizer = {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True}, byte_level]}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": byte_level,
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": {tok: i for i, tok in enumerate(tokens)},
                  "merges": [m.split(" ", 1) for m in merges]},
    }


def convert(source, out):
    """Writes the checkpoint directory `out` from the GGUF file `source`."""
    reader = gguf.GGUFReader(source)
    if _field(reader, "general.architecture") != "llama":
        raise ConversionError("%s: architecture %r; only llama is converted"
                              % (source, _field(reader, "general.architecture")))
    os.makedirs(out, exist_ok=True)
    tensors = convert_tensors(reader)
    config = make_config(reader, tensors)
    save_file(tensors, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(out, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": config["bos_token_id"], "eos_token_id": config["eos_token_id"]},
                  f, indent=2)
    tokens = _field(reader, "tokenizer.ggml.tokens")
    with open(os.path.join(out, "tokenizer.json"), "w") as f:
        json.dump(make_tokenizer(reader), f, ensure_ascii=False)
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast",
                   "bos_token": tokens[config["bos_token_id"]],
                   "eos_token": tokens[config["eos_token_id"]],
                   "unk_token": tokens[int(_field(reader, "tokenizer.ggml.unknown_token_id", 0))],
                   "add_prefix_space": False, "model_max_length": config["max_position_embeddings"]},
                  f, indent=2)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: convert_gguf.py MODEL.gguf OUT_DIR")
    convert(sys.argv[1], sys.argv[2])


if __name__ == "__main__":
    main()
