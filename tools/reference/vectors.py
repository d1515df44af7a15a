"""Test vectors: inputs chosen here, answers computed by the installed
compressed-tensors / llm-compressor functions themselves.

- match vectors: match_name (plain and fused), class matching through the
  MRO, get_lowest_common_ancestor_name;
- quantization vectors: QuantizationArgs validation (effective args or the
  error), QuantizationScheme validation, preset schemes, and what a
  QuantizationModifier / GPTQModifier resolves its fields to;
- SmoothQuant dynamic-builder vectors.

Inputs are written as recipe values (what a YAML recipe would hold), so the
C++ tests can feed them through the same paths a recipe takes.
"""
import contextlib
import types
import warnings

import torch

# ---------------------------------------------------------------- matching

MATCH_NAME_CASES = [
    # compressed-tensors' own TestMatchName cases first.
    ("layer1", "layer1"), ("layer1", "layer2"),
    ("transformer.layers.0.self_attn.q_proj", "transformer.layers.0.self_attn.q_proj"),
    ("layer1", "re:layer.*"), ("layer1", "re:^layer1$"), ("layer1", "re:layer2"),
    ("transformer.layers.0.self_attn.q_proj", "re:.*q_proj"),
    ("transformer.layers.0.self_attn.q_proj",
     r"re:transformer\.layers\.\d+\.self_attn\..*_proj$"),
    ("", ""), ("layer1", ""), ("", "layer1"),
    ("layer.1", r"re:layer\.1"), ("layer.1", "re:layer.1"), ("layer_1", "re:layer_1"),
    # re.match anchors at the start only.
    ("layer1", "re:layer"), ("model.layer1", "re:layer"),
    ("a.q_proj.lora_A", "re:.*q_proj"), ("a.q_proj.lora_A", "re:.*q_proj$"),
    ("model.layers.13.input_layernorm", r"re:.*layers\.(3|7)\.input_layernorm$"),
    ("model.layers.3.input_layernorm", r"re:.*layers\.(3|7)\.input_layernorm$"),
    # An unescaped dot matches any character.
    ("model.layers.0.mlp_gate", "re:.*mlp.gate$"),
    ("model.layers.0.mlp.shared_expert.gate_proj", "re:.*mlp.experts.*.gate_proj$"),
    ("model.layers.0.self_attn.q_a_proj", "re:.*(q|q_a)_proj$"),
    ("Linear", "Linear"),
    # Registry patterns against names they must and must not take.
    ("model.language_model.layers.0.self_attn.q_proj",
     r"re:.*language_model.layers.\d+.self_attn.q_proj$"),
    ("model.vision_tower.layers.0.self_attn.q_proj",
     r"re:.*language_model.layers.\d+.self_attn.q_proj$"),
    ("model.language_model.layers.12.mlp.up_proj",
     r"re:.*language_model\.layers\.\d+\.mlp\.up_proj$"),
    ("model.visual.blocks.0.mlp.up_proj", r"re:.*language_model\.layers\.\d+\.mlp\.up_proj$"),
    ("model.layers.1.mlp.gate.linear", r"re:.*mlp\.gate\.linear$"),
    ("model.layers.1.mlp.gate", r"re:.*mlp\.gate\.linear$"),
    ("model.layers.2.mlp.experts.7.gate_proj", "re:.*gate_proj$"),
    # Alternation, classes, anchors and empty patterns.
    ("model.layers.0.self_attn", "re:.*(self_attn|attention)$"),
    ("model.layers.0.attention", "re:.*(self_attn|attention)$"),
    ("model.layers.0.cross_attention", "re:.*(self_attn|attention)$"),
    ("model.layers.0.self_attn.o_proj", "re:.*(self_attn|attention)$"),
    ("lm_head", "re:"), ("lm_head", "re:$"), ("", "re:$"),
    ("model.layers.10.mlp", r"re:model\.layers\.1\.mlp"),
    ("model.layers.1.mlp", r"re:model\.layers\.[0-9]+\.mlp$"),
    ("model.layers.0.Q_proj", "re:.*q_proj$"),
    ("model.layers.0.q_proj", r"re:.*\bq_proj$"),
    ("model.layers.0.q_proj", "re:.*q_proj|.*k_proj"),
    ("model.layers.0.k_proj", "re:.*q_proj|.*k_proj"),
    ("model.layers.0.k_proj_extra", "re:.*q_proj|.*k_proj"),
    ("model.layers.0.mlp.down_proj", "re:.*mlp[.]down_proj$"),
    ("model.embed_tokens", "re:.*embed_tokens$"),
    ("model.layers.0.self_attn.q_proj", "model.layers.0.self_attn"),
    ("model.layers.0.self_attn", "re:model.layers.0.self_attn.q_proj"),
]

LCA_CASES = [
    ["abc.a", "abc.b", "abc.c"], ["abc.abc"], ["abc.abc", "abc.ab"], ["abc.abc.ab", "abc.abc"],
    ["abc.abc", "b.abc"], ["abc.abc", None], [None], [],
    ["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj",
     "model.layers.0.self_attn.v_proj"],
    ["model.layers.0.self_attn.o_proj"],
    ["model.layers.1.mlp.experts.0.gate_proj", "model.layers.1.mlp.experts.7.up_proj",
     "model.layers.1.mlp.gate"],
    ["model.layers.10.mlp", "model.layers.1.mlp"],
    ["model.layers.1.mlp", "model.layers.10.mlp.up_proj"],
    ["", "model.layers.0"], ["lm_head", "model.norm"],
    ["model.layers.0.mlp.experts.0.up_proj", "model.layers.0.mlp.experts.1.up_proj"],
]

# Class hierarchies (most derived first; torch.nn.Module is appended by
# Python itself) and the targets tried against each.
CLASS_CASES = [
    (["Linear"], ["Linear", "Module", "re:Linear", "linear", "Embedding"]),
    (["LinearBase"], ["Linear", "LinearBase", "Module"]),
    (["QKVParallelLinear", "LinearBase"], ["Linear", "LinearBase", "QKVParallelLinear"]),
    (["Qwen3MoeSparseMoeBlock"], ["Qwen3MoeSparseMoeBlock", "SparseMoeBlock", "Module"]),
    (["LinearExperts2D", "ModuleList"], ["ModuleList", "LinearExperts2D", "Linear"]),
    (["MyRMSNorm", "LlamaRMSNorm"], ["LlamaRMSNorm", "MyRMSNorm", "RMSNorm"]),
]


def _module_with_mro(names):
    """An instance whose class has __name__ names[0] and bases names[1:]."""
    base = torch.nn.Module
    bases = {
        "Linear": torch.nn.Linear, "ModuleList": torch.nn.ModuleList,
    }
    for name in reversed(names):
        parent = bases.get(name)
        if parent is not None and name == parent.__name__:
            base = parent
            continue
        base = type(name, (base,), {})
    module = base.__new__(base)
    torch.nn.Module.__init__(module)
    return module


def match_vectors():
    from compressed_tensors.utils import match as ct_match

    return {
        "match_name": [{"name": n, "target": t, "expected": ct_match.match_name(n, t)}
                       for n, t in MATCH_NAME_CASES],
        "match_class": [
            {"mro": [c.__name__ for c in type(m).__mro__
                     if isinstance(c, type) and issubclass(c, torch.nn.Module)],
             "target": target, "expected": ct_match._match_class(m, target)}
            for names, targets in CLASS_CASES
            for m in [_module_with_mro(names)] for target in targets],
        "lowest_common_ancestor": [
            {"names": names, "expected": ct_match.get_lowest_common_ancestor_name(names)}
            for names in LCA_CASES],
    }


# ------------------------------------------------------------ quantization

def _error(exc):
    """(type, message) of what a caller sees: pydantic wraps a validator's
    ValueError, whose own text is what users read in the report."""
    import pydantic

    if isinstance(exc, pydantic.ValidationError):
        first = exc.errors()[0]
        inner = (first.get("ctx") or {}).get("error")
        if isinstance(inner, BaseException):
            return {"type": type(inner).__name__, "message": str(inner)}
        location = ".".join(str(part) for part in first["loc"])
        return {"type": "ValidationError", "message": first["msg"], "field": location}
    if isinstance(exc, KeyError) and len(exc.args) == 1 and isinstance(exc.args[0], str):
        return {"type": "KeyError", "message": exc.args[0]}  # str() would quote it
    return {"type": type(exc).__name__, "message": str(exc)}


@contextlib.contextmanager
def _captured_warnings(sink):
    """Python warnings and loguru warnings, as upstream would print them."""
    from loguru import logger

    handler = logger.add(lambda message: sink.append(message.record["message"]),
                         level="WARNING", format="{message}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            logger.remove(handler)
            sink.extend(str(w.message) for w in caught)


def _outcome(build, dump):
    logged = []
    try:
        with _captured_warnings(logged):
            value = build()
        result = {"result": dump(value)}
    except Exception as exc:  # every failure upstream raises is an answer
        result = {"error": _error(exc)}
    if logged:
        result["warnings"] = logged
    return result


ARGS_CASES = [
    {},
    {"num_bits": 4},
    {"num_bits": 4, "group_size": 128},
    {"num_bits": 4, "group_size": -1},
    {"num_bits": 4, "group_size": 0},
    {"num_bits": 4, "group_size": -2},
    {"num_bits": 4, "strategy": "group"},
    {"num_bits": 4, "strategy": "group", "group_size": 64},
    {"num_bits": 4, "strategy": "channel", "group_size": 128},
    {"num_bits": 4, "strategy": "channel"},
    {"num_bits": 4, "symmetric": False, "group_size": 128},
    {"num_bits": 8, "type": "float"},
    {"num_bits": 8, "type": "float", "strategy": "channel"},
    {"num_bits": 4, "type": "float", "strategy": "tensor_group", "group_size": 16},
    {"num_bits": 4, "type": "float", "strategy": "tensor_group", "group_size": 16,
     "dynamic": "local"},
    {"num_bits": 4, "type": "float", "strategy": "tensor_group", "group_size": 16,
     "dynamic": "local", "observer": "static_minmax"},
    {"num_bits": 4, "type": "float", "strategy": "group", "group_size": 16, "dynamic": "local"},
    {"num_bits": 8, "type": "float", "strategy": "block", "block_structure": [128, 128]},
    {"num_bits": 8, "type": "float", "strategy": "block"},
    {"num_bits": 8, "type": "float", "block_structure": [128, 128]},
    {"num_bits": 8, "type": "float", "strategy": "block", "block_structure": [128]},
    {"num_bits": 8, "type": "float", "strategy": "block", "block_structure": [0, 128]},
    {"num_bits": 8, "strategy": "token"},
    {"num_bits": 8, "strategy": "token", "dynamic": True},
    {"num_bits": 8, "strategy": "token", "dynamic": True, "observer": "minmax"},
    {"num_bits": 8, "strategy": "token", "dynamic": True, "observer": "memoryless"},
    {"num_bits": 8, "strategy": "tensor", "dynamic": True},
    {"num_bits": 8, "strategy": "channel", "dynamic": True},
    {"num_bits": 8, "strategy": "group", "group_size": 128, "dynamic": True},
    {"num_bits": 8, "strategy": "tensor", "dynamic": "local"},
    {"num_bits": 8, "type": "float", "strategy": "tensor", "dynamic": False},
    {"num_bits": 8, "type": "float", "strategy": "tensor", "dynamic": False,
     "observer": "static_minmax"},
    {"num_bits": 8, "type": "float", "strategy": "tensor", "dynamic": False,
     "observer": "mse", "observer_kwargs": {"maxshrink": 0.5, "grid": 50}},
    {"num_bits": 8, "strategy": "attn_head", "dynamic": False},
    {"num_bits": 4, "group_size": 128, "actorder": "weight"},
    {"num_bits": 4, "group_size": 128, "actorder": "static"},
    {"num_bits": 4, "group_size": 128, "actorder": "group"},
    {"num_bits": 4, "group_size": 128, "actorder": "Weight"},
    {"num_bits": 4, "group_size": 128, "actorder": "ascending"},
    {"num_bits": 4, "group_size": 128, "actorder": "dynamic"},
    {"num_bits": 4, "group_size": 128, "actorder": True},
    {"num_bits": 4, "group_size": 128, "actorder": False},
    {"num_bits": 4, "group_size": 128, "actorder": None},
    {"num_bits": 4, "strategy": "channel", "actorder": "group"},
    {"num_bits": 4, "strategy": "channel", "actorder": "weight"},
    {"num_bits": 4, "group_size": 128, "zp_dtype": "torch.int8", "symmetric": False},
    {"num_bits": 8, "type": "float", "scale_dtype": "torch.float16"},
    {"num_bits": 4, "type": "float", "strategy": "tensor_group", "group_size": 16,
     "scale_dtype": "torch.float8_e4m3fn", "zp_dtype": "torch.float8_e4m3fn"},
    {"num_bits": 16},
    {"num_bits": 4, "type": "integer"},
    {"num_bits": 4, "strategy": "grouped", "group_size": 128},
]


def args_vectors():
    from compressed_tensors.quantization import QuantizationArgs

    return [{"written": written,
             **_outcome(lambda: QuantizationArgs(**written),
                        lambda args: args.model_dump(mode="json"))}
            for written in ARGS_CASES]


SCHEME_CASES = [
    {"targets": ["Linear"], "weights": {"num_bits": 4, "group_size": 128}},
    {"targets": ["Linear"], "input_activations": {"num_bits": 8, "strategy": "channel"}},
    {"targets": ["Linear"], "input_activations": {"num_bits": 8, "strategy": "block",
                                                  "block_structure": [8, 8]}},
    {"targets": ["Linear"], "input_activations": {"num_bits": 8, "strategy": "token",
                                                  "dynamic": True, "actorder": "weight"}},
    {"targets": ["Linear"], "output_activations": {"num_bits": 8, "actorder": "weight"}},
    {"targets": ["Linear"], "weights": {"num_bits": 4, "group_size": 128},
     "input_activations": {"num_bits": 8, "group_size": 64, "dynamic": True}},
    {"targets": ["Linear"], "weights": {"num_bits": 4, "group_size": 128},
     "format": "mixed-precision"},
    {"targets": ["Linear"], "weights": {"num_bits": 4, "group_size": 128},
     "format": "pack-quantized"},
]


def scheme_vectors():
    from compressed_tensors.quantization import QuantizationScheme

    return [{"written": written,
             **_outcome(lambda: QuantizationScheme(**written),
                        lambda scheme: scheme.model_dump(mode="json"))}
            for written in SCHEME_CASES]


def preset_vectors():
    """Every preset as preset_name_to_scheme builds it (targets ["Linear"])."""
    from compressed_tensors.quantization import quant_scheme

    return [{"name": name,
             **_outcome(lambda: quant_scheme.preset_name_to_scheme(name, ["Linear"]),
                        lambda scheme: scheme.model_dump(mode="json"))}
            for name in [*quant_scheme.PRESET_SCHEMES, "w4a16", "W4A16_SYM"]]


_STATIC_FP8 = {"num_bits": 8, "type": "float", "strategy": "tensor", "symmetric": True,
               "dynamic": False}
_GROUP_W4 = {"num_bits": 4, "type": "int", "strategy": "group", "group_size": 128,
             "symmetric": True}

MODIFIER_CASES = [
    ("QuantizationModifier", {"targets": ["Linear"], "scheme": "W4A16"}),
    ("QuantizationModifier", {"targets": ["Linear"], "scheme": "w4a16_asym"}),
    ("QuantizationModifier", {"targets": ["Linear"], "scheme": "W8A8"}),
    ("QuantizationModifier", {"targets": ["Linear"], "scheme": "FP8"}),
    ("QuantizationModifier", {"targets": ["Linear"], "scheme": "FP8_DYNAMIC"}),
    ("QuantizationModifier", {"targets": ["Linear"], "scheme": "FP8_BLOCK"}),
    ("QuantizationModifier", {"targets": ["Linear"], "scheme": "NVFP4"}),
    ("QuantizationModifier", {"targets": ["Linear"], "scheme": "MXFP4"}),
    ("QuantizationModifier", {"targets": ["Linear"], "scheme": "W4AFP8"}),
    ("QuantizationModifier", {"scheme": {"W4A16": ["re:.*mlp.*"], "FP8": ["re:.*self_attn.*"]}}),
    ("QuantizationModifier", {"targets": ["Linear"], "scheme": "W4A16",
                              "kv_cache_scheme": _STATIC_FP8}),
    ("QuantizationModifier", {"targets": ["Linear"], "scheme": "FP8",
                              "kv_cache_scheme": {**_STATIC_FP8, "observer": "static_minmax"}}),
    ("QuantizationModifier", {"config_groups": {"group_0": {
        "targets": ["Linear"], "weights": {**_STATIC_FP8, "strategy": "channel"},
        "input_activations": _STATIC_FP8}}}),
    ("QuantizationModifier", {"config_groups": {"group_0": {
        "targets": ["Linear"], "weights": {**_STATIC_FP8, "strategy": "channel",
                                           "observer": "mse"},
        "input_activations": {**_STATIC_FP8, "observer": "static_minmax"}}}}),
    ("QuantizationModifier", {"config_groups": {"group_0": {
        "targets": ["Linear"], "input_activations": {**_STATIC_FP8, "observer": None}}}}),
    ("QuantizationModifier", {"config_groups": {"group_0": {
        "targets": ["Linear"], "weights": _GROUP_W4,
        "output_activations": {**_STATIC_FP8}}}}),
    ("QuantizationModifier", {"config_groups": {"group_0": {
        "targets": ["Linear"], "input_activations": {
            "num_bits": 8, "strategy": "token", "dynamic": True, "observer": "minmax"}}}}),
    ("QuantizationModifier", {"targets": ["Linear"], "scheme": "W4A16",
                              "weight_observer": "mse"}),
    ("QuantizationModifier", {"targets": ["Linear"], "scheme": "FP8",
                              "input_observer": "mse"}),
    ("QuantizationModifier", {"targets": ["Linear"], "scheme": "FP8_DYNAMIC",
                              "input_observer": "minmax"}),
    ("QuantizationModifier", {"targets": ["Linear"], "scheme": "W8A8",
                              "observer": {"weights": "mse", "input": "static_minmax"}}),
    ("QuantizationModifier", {"targets": ["Linear"], "scheme": "W4A16",
                              "weight_observer": "mse", "observer": {"weights": "minmax"}}),
    ("QuantizationModifier", {"targets": ["Linear"], "scheme": "W4A16", "config_groups": {
        "group_0": {"targets": ["Linear"], "weights": _GROUP_W4}}}),
    ("QuantizationModifier", {"targets": ["Linear"], "scheme": "W4A17"}),
    ("QuantizationModifier", {"kv_cache_scheme": _STATIC_FP8}),
    ("GPTQModifier", {"targets": ["Linear"], "scheme": "W4A16"}),
    ("GPTQModifier", {"targets": ["Linear"], "scheme": "W4A16", "actorder": "weight"}),
    ("GPTQModifier", {"targets": ["Linear"], "scheme": "W4A16", "actorder": None}),
    ("GPTQModifier", {"targets": ["Linear"], "scheme": "W4A16", "actorder": "group"}),
    ("GPTQModifier", {"targets": ["Linear"], "scheme": "FP8_DYNAMIC"}),
    ("GPTQModifier", {"config_groups": {"group_0": {
        "targets": ["Linear"], "weights": {**_GROUP_W4, "actorder": "weight"}}}}),
    ("GPTQModifier", {"actorder": "static", "config_groups": {"group_0": {
        "targets": ["Linear"], "weights": {**_GROUP_W4, "actorder": "weight"}}}}),
]


def _modifier_class(name):
    from llmcompressor.modifiers.gptq import GPTQModifier
    from llmcompressor.modifiers.quantization import QuantizationModifier

    return {"QuantizationModifier": QuantizationModifier, "GPTQModifier": GPTQModifier}[name]


def _resolved_config(modifier):
    config = modifier.resolve_quantization_config()
    return {
        "config_groups": {name: scheme.model_dump(mode="json")
                          for name, scheme in config.config_groups.items()},
        "kv_cache_scheme": (config.kv_cache_scheme.model_dump(mode="json")
                            if config.kv_cache_scheme is not None else None),
        "ignore": list(config.ignore or []),
        "requires_calibration_data": bool(modifier.requires_calibration_data),
    }


def modifier_vectors():
    import copy

    return [{"modifier": name, "fields": fields,
             **_outcome(lambda: _modifier_class(name)(**copy.deepcopy(fields)),
                        _resolved_config)}
            for name, fields in MODIFIER_CASES]


def quantization_vectors():
    return {"args": args_vectors(), "schemes": scheme_vectors(), "presets": preset_vectors(),
            "modifiers": modifier_vectors()}


# ------------------------------------------------------------- SmoothQuant

SMOOTHQUANT_LAYER_TYPES = [
    ["linear_attention", "linear_attention", "linear_attention", "full_attention"] * 2,
    ["full_attention"],
    ["linear_attention", "linear_attention"],
    None,
]


def smoothquant_dynamic_vectors():
    """Each SmoothQuant dynamic builder on a model whose config has the given
    layer_types (top level and under text_config)."""
    from llmcompressor.modifiers.transform.smoothquant import dynamic_mappings

    cases = []
    for arch, builder in dynamic_mappings.SMOOTHQUANT_DYNAMIC_MAPPING_REGISTRY.items():
        for layer_types in SMOOTHQUANT_LAYER_TYPES:
            for nested in (False, True):
                if layer_types is None and nested:
                    continue
                config = {"layer_types": layer_types} if layer_types is not None else {}
                if nested:
                    config = {"text_config": config}
                model = torch.nn.Module()
                model.config = _namespace(config)
                outcome = _outcome(
                    lambda: builder(model),
                    lambda maps: [{"balance_layers": list(m.balance_layers),
                                   "smooth_layers": m.smooth_layers} for m in maps])
                cases.append({"architecture": arch, "config": config, **outcome})
    return cases


def _namespace(value):
    if isinstance(value, dict):
        return types.SimpleNamespace(**{k: _namespace(v) for k, v in value.items()})
    return value
