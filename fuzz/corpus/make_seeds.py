#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/seed-*) from
the repository's test data: the mapping fixtures (tests/fixtures/mapping),
the tokenizer test strings (backend/data/testdata/corpus.json).

Seeds are kept small (a fuzzer mutates them thousands of times a second):
models are cut to their first decoder layers, safetensors files get the
fixture's tensor names, ranks and a mix of dtypes but tiny shapes. Crash
reproducers (crash-*) are never touched. Python 3 standard library only.

    python3 fuzz/corpus/make_seeds.py   # from the repository root
"""

import json
import lzma
import os
import re
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "mapping")

# Fixture -> decoder layers kept (Qwen3-Next needs four for one full-attention
# layer among its linear-attention ones).
MODELS = {
    "LlamaForCausalLM": 2,
    "Gemma3ForConditionalGeneration": 1,
    "Phi3ForCausalLM": 2,
    "Qwen3ForCausalLM": 2,
    "Qwen3MoeForCausalLM.fused": 1,
    "Qwen3NextForCausalLM.fused": 4,
}

LAYER = re.compile(r"(?:^|\.)layers\.(\d+)(?:\.|$)")

# dtype -> bytes per element (F4 packs two per byte: its last dim is doubled).
DTYPES = [("BF16", 2), ("F32", 4), ("F16", 2), ("I8", 1), ("F8_E4M3", 1), ("U16", 2), ("F4", 0.5)]


def write(target, name, data):
    directory = os.path.join(CORPUS, target)
    os.makedirs(directory, exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(os.path.join(directory, "seed-" + name), mode) as f:
        f.write(data)


def kept(name, layers):
    match = LAYER.search(name)
    return match is None or int(match.group(1)) < layers


def trim_config(config, layers, experts=4):
    config = dict(config)
    if "text_config" in config and isinstance(config["text_config"], dict):
        config["text_config"] = trim_config(config["text_config"], layers, experts)
    if "num_hidden_layers" in config:
        config["num_hidden_layers"] = layers
    if isinstance(config.get("layer_types"), list):
        config["layer_types"] = config["layer_types"][:layers]
    for key in ("num_experts", "num_local_experts"):
        if isinstance(config.get(key), int):
            config[key] = min(config[key], experts)
    if isinstance(config.get("num_experts_per_tok"), int):
        config["num_experts_per_tok"] = min(config["num_experts_per_tok"], 2)
    return config


def load_fixture(name):
    with lzma.open(os.path.join(FIXTURES, name + ".json.xz"), "rt") as f:
        return json.load(f)


def safetensors_bytes(params, offset):
    """A valid file with `params`' names and ranks, dims cut to 1 or 2."""
    header, data = {}, b""
    for i, (name, shape) in enumerate(params):
        dtype, size = DTYPES[(i + offset) % len(DTYPES)]
        small = [min(d, 2) for d in shape] or []
        if dtype == "F4":
            small = (small or [1])[:-1] + [2]
        count = 1
        for d in small:
            count *= d
        nbytes = int(count * size)
        header[name] = {"dtype": dtype, "shape": small,
                        "data_offsets": [len(data), len(data) + nbytes]}
        data += bytes((j * 37 + i) % 251 for j in range(nbytes))
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def model_seeds():
    for fixture, layers in MODELS.items():
        dump = load_fixture(fixture)
        base = fixture.replace(".fused", "")
        modules = [m for m in dump["modules"] if kept(m["name"], layers)]
        params = [p for p in dump.get("params", []) if kept(p[0], layers)]
        config = trim_config(dump["config"], layers)
        small = {"architecture": dump["architecture"], "config": config,
                 "modules": modules, "params": params}
        write("module_dump_fuzzer", base + ".json", json.dumps(small))
        write("model_config_fuzzer", base + ".json", json.dumps(config, indent=2))

        full = [" ".join([m["name"], m["class"]] +
                         ([str(m["in"]), str(m["out"])] if m.get("in") is not None else []))
                for m in modules if m["name"]]
        root = "  " + modules[0]["class"]
        write("module_list_fuzzer", base + ".txt", "\n".join([root] + full) + "\n")
        names = [m["name"] for m in modules if m["name"]]
        write("module_list_fuzzer", base + ".names.txt", "\n".join(names) + "\n")

        if params:
            write("safetensors_header_fuzzer", base + ".safetensors",
                  safetensors_bytes(params, len(base)))
            half = len(params) // 2
            weight_map = {p[0]: "model-0000%d-of-00002.safetensors" % (1 if i < half else 2)
                          for i, p in enumerate(params)}
            write("safetensors_index_fuzzer", base + ".index.json",
                  json.dumps({"metadata": {"total_size": 1234}, "weight_map": weight_map},
                             indent=2))
    # The module-list format's corners: comments, CRLF, a BOM, tabs.
    write("module_list_fuzzer", "format_corners.txt",
          "\ufeff# from named_modules()\r\n  LlamaForCausalLM\r\nmodel LlamaModel\r\n"
          "model.layers ModuleList  # trailing comment\r\n"
          "model.layers.0.self_attn.q_proj\tLinear\t64\t64\r\n\r\nlm_head Linear 64 256\r\n")


def text_seeds():
    with open(os.path.join(ROOT, "backend", "data", "testdata", "corpus.json")) as f:
        texts = [t for t in json.load(f) if isinstance(t, str)]
    for i, text in enumerate(texts):
        # Tokenizer i % 4, then add_special_tokens / max_length variants.
        control = bytes([i % 4, (i * 13) % 256])
        write("bpe_encode_fuzzer", "%02d" % i, control + text.encode("utf-8", "surrogatepass"))
    jsonl = [json.dumps({"text": t}) for t in texts[:12]]
    jsonl += [json.dumps({"input_ids": [1, 2, 3, 400, 5]}), "", json.dumps({"input_ids": []}),
              json.dumps({"text": ""})]
    write("calibration_data_fuzzer", "mixed.jsonl", "\n".join(jsonl) + "\n")
    write("calibration_data_fuzzer", "paragraphs.txt", "\n\n".join(texts[:8]) + "\n")


def main():
    for target in os.listdir(CORPUS) if os.path.isdir(CORPUS) else []:
        directory = os.path.join(CORPUS, target)
        if os.path.isdir(directory):
            for name in os.listdir(directory):
                if name.startswith("seed-"):
                    os.remove(os.path.join(directory, name))
    model_seeds()
    text_seeds()


if __name__ == "__main__":
    main()
