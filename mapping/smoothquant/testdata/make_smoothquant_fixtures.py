"""SmoothQuant resolution answers for //mapping/smoothquant: what
llm-compressor 0.14.0.1's SmoothQuantModifier (_infer_mappings_from_model +
_resolve_mappings) resolves on the architectures of tests/fixtures/mapping, for the inferred
mappings and for a few hand-written recipes. Each model is rebuilt from the
fixture as a skeleton of empty modules with the fixture's names and class
MROs (all that resolution reads) and its config; MoE fixtures are the
linearized structures oneshot resolves on.

Rerun (a PyTorch env with transformers and llmcompressor from PyPI):
    python make_smoothquant_fixtures.py tests/fixtures/mapping \
        mapping/smoothquant/testdata/smoothquant_fixtures.json
Each case: the architecture, the fixture it uses, the recipe's mappings /
ignore (null: inferred / none), and upstream's answer: `mappings` chosen
(balance_layers, smooth_layer), `resolved` [{smooth, balance}], `skipped`
[{smooth, reason}] from its warnings, or `error` / `cause` (the RuntimeError
and the exception under it).
"""
import json
import lzma
import os
import sys

from types import SimpleNamespace

import torch
import transformers
from loguru import logger
from torch.utils._pytree import tree_leaves
from llmcompressor.modifiers.transform.smoothquant import SmoothQuantModifier

FIXTURES, OUT = sys.argv[1], sys.argv[2]

ARCHITECTURES = {
    "LlamaForCausalLM": "LlamaForCausalLM.json.xz",
    "MistralForCausalLM": "MistralForCausalLM.json.xz",
    "Qwen3ForCausalLM": "Qwen3ForCausalLM.json.xz",
    "Phi3ForCausalLM": "Phi3ForCausalLM.json.xz",
    "Gemma3ForCausalLM": "Gemma3ForCausalLM.json.xz",
    "Gemma3ForConditionalGeneration": "Gemma3ForConditionalGeneration.json.xz",
    "Qwen3MoeForCausalLM": "Qwen3MoeForCausalLM.linearized.json.xz",
    "Qwen3NextForCausalLM": "Qwen3NextForCausalLM.linearized.json.xz",
}
# Hand-written recipes (on the Llama fixture).
RECIPES = {
    "custom_mappings_with_ignore": {
        "mappings": [[["re:.*q_proj", "re:.*k_proj", "re:.*v_proj"], "re:.*input_layernorm"],
                     [["re:.*gate_proj", ["re:.*up_proj"]], "re:.*post_attention_layernorm"],
                     [["re:.*down_proj"], "re:.*up_proj"]],
        "ignore": ["re:model\\.layers\\.0\\..*", "model.layers.1.post_attention_layernorm"],
    },
    "no_balance_layers": {"mappings": [["re:.*input_layernorm"]], "ignore": None},
    "two_smooth_layers": {
        "mappings": [[["re:.*q_proj"], "re:.*layernorm"]], "ignore": None},
}

warnings = []
logger.add(lambda message: warnings.append(message.record["message"]), level="WARNING")


CLASSES = {}


def module_class(mro):
    """A torch.nn.Module subclass whose MRO names are the fixture's."""
    key = tuple(mro)
    if key not in CLASSES:
        base = torch.nn.Module
        for i in range(len(mro) - 1, -1, -1):
            sub = tuple(mro[i:])
            if sub not in CLASSES:
                CLASSES[sub] = type(mro[i], (base,), {})
            base = CLASSES[sub]
    return CLASSES[key]


def namespace(value):
    if isinstance(value, dict):
        return SimpleNamespace(**{k: namespace(v) for k, v in value.items()})
    return value


def build(fixture):
    modules = {}
    for entry in fixture["modules"]:
        module = module_class(entry["mro"])()
        name = entry["name"]
        modules[name] = module
        if name:
            parent, _, child = name.rpartition(".")
            modules[parent].add_module(child, module)
    model = modules[""]
    model.config = namespace(fixture["config"])
    assert [n for n, _ in model.named_modules()] == [m["name"] for m in fixture["modules"]]
    return model


def resolve(model, mappings, ignore):
    modifier = SmoothQuantModifier(mappings=mappings, ignore=ignore)
    modifier.ignore = [] if not modifier.ignore else modifier.ignore
    answer = {}
    try:
        modifier.mappings = modifier._infer_mappings_from_model(model)
    except Exception as e:  # noqa: BLE001 - upstream's own exception is the answer
        answer["error"] = f"{type(e).__name__}: {e}"
        return answer
    answer["mappings"] = [{"balance_layers": tree_leaves(m)[:-1], "smooth_layer": tree_leaves(m)[-1]}
                          for m in modifier.mappings]
    warnings.clear()
    try:
        resolved = modifier._resolve_mappings(model)
    except Exception as e:  # noqa: BLE001
        answer["error"] = f"{type(e).__name__}: {e}"
        cause = e.__cause__
        answer["cause"] = f"{type(cause).__name__}: {cause}" if cause else None
        return answer
    names = {m: n for n, m in model.named_modules()}
    answer["resolved"] = [{"smooth": r.smooth_name,
                           "balance": [names[b] for b in r.balance_layers]} for r in resolved]
    answer["skipped"] = []
    for w in warnings:
        if w.startswith("Skipping SmoothQuant for "):
            smooth, _, why = w[len("Skipping SmoothQuant for "):].partition(" because ")
            answer["skipped"].append({"smooth": smooth, "reason": why})
    return answer


def main():
    cases = []
    models = {}
    for arch, file in ARCHITECTURES.items():
        with lzma.open(os.path.join(FIXTURES, file), "rt") as f:
            fixture = json.load(f)
        models[arch] = build(fixture)
        case = {"name": arch, "architecture": arch, "fixture": file,
                "mappings": None, "ignore": None}
        case.update(resolve(models[arch], None, None))
        cases.append(case)
    for name, recipe in RECIPES.items():
        case = {"name": name, "architecture": "LlamaForCausalLM",
                "fixture": ARCHITECTURES["LlamaForCausalLM"], "recipe_mappings": recipe["mappings"],
                "ignore": recipe["ignore"]}
        case.update(resolve(models["LlamaForCausalLM"], recipe["mappings"], recipe["ignore"]))
        cases.append(case)
    with open(OUT, "w") as f:
        json.dump({"llmcompressor": __import__("llmcompressor").__version__,
                   "transformers": transformers.__version__, "cases": cases}, f, indent=1)


if __name__ == "__main__":
    main()
