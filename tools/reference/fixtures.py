"""Mapping fixtures: real transformers architectures built from their default
configs on the meta device, with llm-compressor's own answers, in the format
of tests/fixtures/mapping/README.md.

The answers come from upstream's functions, called directly:
get_layer_mappings_from_model, AWQModifier._set_resolved_mappings (with a
W4A16 scheme attached to `Linear` minus `lm_head`, as QuantizationModifier
attaches it), infer_mapping_from_model / infer_norm_mapping_from_model with
compressed-tensors' match_named_modules / match_modules_set, and
linearize_moe for the linearized variants of fused mixture-of-experts models.
"""
import contextlib
import json
import lzma
import os
import re

import torch

TARGETS = ["Linear"]
IGNORE = ["lm_head"]

# (architecture, variants, config overrides). Fused-expert models get both a
# `fused` fixture (as transformers builds them) and a `linearized` one (as
# oneshot calibrates them), with the same answers; others one plain fixture.
# Overrides shrink configs whose defaults would make multi-megabyte fixtures
# without exercising anything more.
ARCHITECTURES = [
    ("LlamaForCausalLM", None, {}),
    ("MistralForCausalLM", None, {}),
    ("Phi3ForCausalLM", None, {}),
    ("Qwen3ForCausalLM", None, {}),
    ("Gemma3ForCausalLM", None, {}),
    ("Gemma3ForConditionalGeneration", None, {}),
    ("Qwen3MoeForCausalLM", ("fused", "linearized"), {}),
    ("Qwen3NextForCausalLM", ("fused", "linearized"), {}),
    # Registered (or re-registered) by llm-compressor 0.14.
    ("Cohere2MoeForCausalLM", ("fused", "linearized"), {}),
    ("DeepseekV2ForCausalLM", ("fused", "linearized"),
     {"first_k_dense_replace": 1}),
    ("MuseGlimmerForConditionalGeneration", None, {}),
    ("Qwen2_5_VLForConditionalGeneration", None, {}),
]


def fixture_names():
    names = []
    for arch, variants, _ in ARCHITECTURES:
        names.extend([f"{arch}.{v}" for v in variants] if variants else [arch])
    return names


@contextlib.contextmanager
def _log_capture(level="DEBUG"):
    """loguru records at `level` and above while inside."""
    from loguru import logger

    records = []
    handler = logger.add(lambda message: records.append(message.record), level=level)
    try:
        yield records
    finally:
        with contextlib.suppress(ValueError):
            logger.remove(handler)


def _model_type(arch):
    from transformers.models.auto import modeling_auto

    for table in (modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
                  modeling_auto.MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES):
        for model_type, cls_name in table.items():
            names = cls_name if isinstance(cls_name, (list, tuple)) else [cls_name]
            if arch in names:
                return model_type
    raise SystemExit(f"transformers has no auto mapping for {arch}")


def _apply_overrides(config, overrides):
    target = config.get_text_config() if hasattr(config, "get_text_config") else config
    for key, value in overrides.items():
        if not hasattr(target, key):
            raise SystemExit(f"{type(target).__name__} has no field {key!r} to override")
        setattr(target, key, value)
        if key == "num_hidden_layers" and getattr(target, "layer_types", None):
            target.layer_types = target.layer_types[:value]


def build_model(arch, overrides):
    import transformers
    from transformers import AutoConfig

    model_type = _model_type(arch)
    config = AutoConfig.for_model(model_type)
    _apply_overrides(config, overrides)
    cls = getattr(transformers, arch)
    with torch.device("meta"):
        model = cls._from_config(config)
    return model, model_type


def _mro(module):
    return [c.__name__ for c in type(module).__mro__
            if isinstance(c, type) and issubclass(c, torch.nn.Module) and c is not torch.nn.Module]


def _structure(model):
    modules = []
    for name, module in model.named_modules():
        entry = {"name": name, "class": type(module).__name__, "mro": _mro(module)}
        if isinstance(module, torch.nn.Linear):
            entry["in"], entry["out"] = module.in_features, module.out_features
        modules.append(entry)
    params = [[name, list(p.shape)] for name, p in model.named_parameters()]
    return modules, params


def _attach_w4a16(model):
    """What QuantizationModifier's initialize does to the modules AWQ asks
    about: a quantization_scheme on every targeted module."""
    from compressed_tensors.quantization import preset_name_to_scheme
    from compressed_tensors.utils import match_named_modules

    scheme = preset_name_to_scheme("W4A16", TARGETS)
    targeted = []
    for name, module in match_named_modules(model, TARGETS, IGNORE):
        module.quantization_scheme = scheme
        targeted.append(name)
    return targeted


_SKIP = re.compile(r"Skipping (?P<smooth>\S+) for mapping (?P<mapping>AWQMapping\(.*\)) because "
                   r"(?P<why>.*)$", re.S)
_REASONS = {
    "incompatible balance layers were found.": "incompatible",
    "no balance layers were found.": "no_balance",
    "no layers are targeted for quantization.": "not_targeted",
}


def _resolve_awq(model, mappings):
    """AWQModifier._set_resolved_mappings, one mapping at a time so each
    resolved entry names its mapping; skips are read from what it logs."""
    from llmcompressor.modifiers.transform.awq import AWQModifier

    module_names = {m: n for n, m in model.named_modules()}
    resolved, skipped = [], []
    for mapping in mappings:
        modifier = AWQModifier(mappings=[mapping])
        with _log_capture() as records:
            modifier._set_resolved_mappings(model)
        for record in records:
            match = _SKIP.match(record["message"])
            if match is None:
                continue
            if match.group("mapping") != repr(mapping):
                raise SystemExit(f"unexpected skip message: {record['message']}")
            skipped.append({"smooth": match.group("smooth"), "mapping": mapping.smooth_layer,
                            "reason": _REASONS[match.group("why")]})
        for r in modifier._resolved_mappings:
            hook = r.activation_hook_target
            resolved.append({"smooth": r.smooth_name, "balance": list(r.balance_names),
                             "parent": r.parent_name,
                             "hook": module_names.get(hook) if hook is not None else None,
                             "mapping": mapping.smooth_layer})
    return resolved, skipped


def _awq(model, arch):
    from llmcompressor.modifiers.transform.awq.dynamic_mappings import (
        AWQ_DYNAMIC_MAPPING_REGISTRY, get_layer_mappings_from_model)
    from llmcompressor.modifiers.transform.awq.mappings import (AWQ_MAPPING_REGISTRY,
                                                                default_mappings)

    record = {}
    mappings = get_layer_mappings_from_model(model)
    # A dynamic builder that returns None falls through to the registry,
    # then to the defaults: the list's identity says which answered.
    if (arch in AWQ_DYNAMIC_MAPPING_REGISTRY and mappings is not AWQ_MAPPING_REGISTRY.get(arch)
            and mappings is not default_mappings):
        record["awq_source"] = "dynamic"
    elif arch in AWQ_MAPPING_REGISTRY:
        record["awq_source"] = "registry"
    else:
        record["awq_source"] = "default"
    record["awq_mappings"] = [{"smooth_layer": m.smooth_layer,
                               "balance_layers": list(m.balance_layers),
                               "activation_hook_target": m.activation_hook_target}
                              for m in mappings]
    try:
        record["awq_resolved"], record["awq_skipped"] = _resolve_awq(model, mappings)
    except Exception as exc:  # what AWQ would raise is the answer
        record["awq_error"] = f"{type(exc).__name__}: {exc}"
    return record


def _spinquant(model):
    from compressed_tensors.utils import match_modules_set, match_named_modules
    from llmcompressor.modifiers.transform.spinquant.mappings import infer_mapping_from_model
    from llmcompressor.modifiers.transform.spinquant.norm_mappings import (
        infer_norm_mapping_from_model)

    mapping = infer_mapping_from_model(model)
    fields = {}
    for field in ["embedding", "attn", "attn_q", "attn_k", "attn_v", "attn_o", "mlp_in",
                  "mlp_out", "lm_head"]:
        patterns = getattr(mapping, field)
        patterns = patterns if isinstance(patterns, list) else [patterns]
        fields[field] = {"patterns": patterns,
                         "matches": [n for n, _ in match_named_modules(model, patterns)]}
    module_names = {m: n for n, m in model.named_modules()}
    norms = []
    for norm in infer_norm_mapping_from_model(model):
        entry = {"norm": norm.norm, "linears": list(norm.linears)}
        try:
            entry["groups"] = [[[module_names[m] for m in group] for group in matched]
                               for matched in match_modules_set(model, (norm.norm, *norm.linears))]
        except Exception as exc:
            entry["error"] = str(exc)
        norms.append(entry)
    return {"head_dim": mapping.attn_head_dim, "fields": fields, "norms": norms}


@contextlib.contextmanager
def _on_meta_device():
    """linearize_moe copies each expert's weights out of the fused tensors
    and then offloads the new modules like the old ones; on the meta device
    there is nothing to copy or offload, only structure and shapes to keep."""
    from llmcompressor.modeling.moe import linear_experts

    original_copy = torch.Tensor.copy_
    original_offload = linear_experts.offload_module

    def copy_(self, src, *args, **kwargs):
        if self.is_meta or getattr(src, "is_meta", False):
            return self
        return original_copy(self, src, *args, **kwargs)

    torch.Tensor.copy_ = copy_
    linear_experts.offload_module = lambda module, **kwargs: None
    try:
        yield
    finally:
        torch.Tensor.copy_ = original_copy
        linear_experts.offload_module = original_offload


def _linearize(model):
    from llmcompressor.modeling.moe.linearize import get_non_linearized_moes, linearize_moe

    with _on_meta_device(), _log_capture("ERROR"):
        linearize_moe(model)
    if get_non_linearized_moes(model):
        raise SystemExit(f"{type(model).__name__}: linearize_moe left fused experts behind")


def record_fixture(arch, overrides, linearize):
    from compressed_tensors.utils import match_named_modules
    from llmcompressor.modeling.moe.linearize import get_non_linearized_moes
    from llmcompressor.modifiers.quantization.group_size_validation import (
        validate_group_size_divisibility)

    model, model_type = build_model(arch, overrides)
    fused = len(get_non_linearized_moes(model)) > 0
    if linearize:
        _linearize(model)
    config = json.loads(model.config.to_json_string(use_diff=False))
    modules, params = _structure(model)
    record = {"architecture": arch, "model_type": model_type, "config": config,
              "modules": modules, "params": params, "fused_experts": fused and not linearize}
    # Answers are recorded on the model oneshot calibrates: linearized.
    if fused and not linearize:
        _linearize(model)
    _attach_w4a16(model)
    # QuantizationModifier's initialize raises this before AWQ resolves; the
    # AWQ answers below are what a recipe with bypass_divisibility_checks
    # gets.
    try:
        validate_group_size_divisibility(model, set(TARGETS), IGNORE)
    except ValueError as exc:
        record["quantization_error"] = f"ValueError: {exc}"
    record.update(_awq(model, arch))
    record["spinquant"] = _spinquant(model)
    record["w4a16_targets"] = [n for n, _ in match_named_modules(model, TARGETS, IGNORE)]
    return record


def write_fixtures(out_dir, only=None):
    """Writes NAME.json.xz for every fixture (or those in `only`); returns
    the names written."""
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for arch, variants, overrides in ARCHITECTURES:
        for variant in variants or (None,):
            name = f"{arch}.{variant}" if variant else arch
            if only and name not in only and arch not in only:
                continue
            record = record_fixture(arch, overrides, linearize=(variant == "linearized"))
            if variant == "fused" and not record["fused_experts"]:
                raise SystemExit(f"{arch} builds no fused experts: drop its variants")
            record.pop("fused_experts")
            text = json.dumps(record, separators=(",", ":")) + "\n"
            with lzma.open(os.path.join(out_dir, name + ".json.xz"), "wt",
                           preset=9 | lzma.PRESET_EXTREME) as f:
                f.write(text)
            written.append(name)
            print(f"fixture {name}: {len(record['modules'])} modules, "
                  f"awq {record['awq_source']}"
                  f"{', error' if 'awq_error' in record else ''}", flush=True)
    return written
