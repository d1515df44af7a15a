"""Writes a small, real .safetensors checkpoint of a 2-layer Llama-like model.

The file follows the safetensors format exactly (8-byte little-endian header
length, JSON header with dtype/shape/data_offsets, then the tensor bytes), so
the page has to read a genuine header, not a stand-in. Also writes the
matching config.json.

Usage: make_safetensors.py OUT_DIR [VOCAB]  ->  OUT_DIR/model.safetensors, OUT_DIR/config.json

A large VOCAB makes a multi-GB checkpoint whose tensor data is a sparse hole
(no disk used): a reader that touched the data would take minutes.
"""
import json
import os
import struct
import sys

HIDDEN = 64
INTERMEDIATE = 128
HEADS = 4
KV_HEADS = 2
HEAD_DIM = HIDDEN // HEADS
DEFAULT_VOCAB = 32
LAYERS = 2


def llama_tensor_shapes(vocab):
    shapes = [("model.embed_tokens.weight", [vocab, HIDDEN])]
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        shapes += [
            (p + "input_layernorm.weight", [HIDDEN]),
            (p + "self_attn.q_proj.weight", [HEADS * HEAD_DIM, HIDDEN]),
            (p + "self_attn.k_proj.weight", [KV_HEADS * HEAD_DIM, HIDDEN]),
            (p + "self_attn.v_proj.weight", [KV_HEADS * HEAD_DIM, HIDDEN]),
            (p + "self_attn.o_proj.weight", [HIDDEN, HEADS * HEAD_DIM]),
            (p + "post_attention_layernorm.weight", [HIDDEN]),
            (p + "mlp.gate_proj.weight", [INTERMEDIATE, HIDDEN]),
            (p + "mlp.up_proj.weight", [INTERMEDIATE, HIDDEN]),
            (p + "mlp.down_proj.weight", [HIDDEN, INTERMEDIATE]),
        ]
    shapes += [("model.norm.weight", [HIDDEN]), ("lm_head.weight", [vocab, HIDDEN])]
    return shapes


def write_safetensors(path, shapes):
    header = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in shapes:
        size = 2  # bfloat16
        for d in shape:
            size *= d
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the format pads the header to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        if offset <= 1 << 20:
            # Non-zero, recognisable data: a reader that parsed the data as
            # the header would fail loudly.
            f.write(bytes((i * 37 + 11) % 256 for i in range(offset)))
        else:
            f.truncate(8 + len(text) + offset)
    return 8 + len(text) + offset


def llama_config(vocab):
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": HIDDEN,
        "intermediate_size": INTERMEDIATE,
        "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS,
        "head_dim": HEAD_DIM,
        "num_hidden_layers": LAYERS,
        "vocab_size": vocab,
        "rms_norm_eps": 1e-5,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
    }


def write_model(out, vocab=DEFAULT_VOCAB):
    """Writes the checkpoint and config.json into `out`; returns the checkpoint's size."""
    os.makedirs(out, exist_ok=True)
    size = write_safetensors(os.path.join(out, "model.safetensors"), llama_tensor_shapes(vocab))
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(llama_config(vocab), f, indent=2)
    return size


def main():
    write_model(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_VOCAB)


if __name__ == "__main__":
    main()
