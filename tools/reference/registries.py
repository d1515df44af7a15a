"""Reads llm-compressor's and compressed-tensors' mapping registries and
preset schemes out of the installed packages, as JSON-ready data.

Named lists keep their Python names (`default_mappings`, `_cohere_mappings`,
...), recovered by object identity from the defining module's globals, so
wring can name the list a model gets exactly as upstream's source does.
Registries keep upstream's dict order.
"""
import inspect


def _named_globals(module, accept):
    """[(name, value)] of the module's globals that `accept` takes, in
    definition order; a value bound to several names keeps the first."""
    seen = set()
    named = []
    for name, value in vars(module).items():
        if name.startswith("__") or not accept(value) or id(value) in seen:
            continue
        seen.add(id(value))
        named.append((name, value))
    return named


def _name_of(value, named, where):
    for name, candidate in named:
        if candidate is value:
            return name
    raise SystemExit(f"{where}: a registry value is not a named global of its module; "
                     "teach tools/reference/registries.py how to name it")


def _function_name(function, where):
    if not inspect.isfunction(function):
        raise SystemExit(f"{where}: expected a function, got {function!r}")
    return function.__name__


def awq_mappings():
    from llmcompressor.modifiers.transform.awq import dynamic_mappings, mappings

    def is_list(value):
        return (isinstance(value, list) and value
                and all(isinstance(m, mappings.AWQMapping) for m in value))

    named = _named_globals(mappings, is_list)

    def mapping(m):
        return {"smooth_layer": m.smooth_layer, "balance_layers": list(m.balance_layers),
                "activation_hook_target": m.activation_hook_target}

    return {
        "lists": [{"name": name, "mappings": [mapping(m) for m in value]}
                  for name, value in named],
        "default_list": _name_of(mappings.default_mappings, named, "default_mappings"),
        "registry": [{"architecture": arch,
                      "list": _name_of(value, named, f"AWQ_MAPPING_REGISTRY[{arch!r}]")}
                     for arch, value in mappings.AWQ_MAPPING_REGISTRY.items()],
        "dynamic_registry": [
            {"architecture": arch,
             "builder": _function_name(builder, f"AWQ_DYNAMIC_MAPPING_REGISTRY[{arch!r}]")}
            for arch, builder in dynamic_mappings.AWQ_DYNAMIC_MAPPING_REGISTRY.items()],
        # The dense/MoE layer-index pattern build_step3p5_mappings searches
        # module names with.
        "step3p5_ffn_layer_pattern": dynamic_mappings._STEP3P5_FFN_LAYER_PATTERN.pattern,
    }


def spinquant_mappings():
    from llmcompressor.modifiers.transform.spinquant import mappings, norm_mappings

    named = _named_globals(mappings, lambda v: isinstance(v, mappings.SpinQuantMapping))
    norm_named = _named_globals(
        norm_mappings,
        lambda v: (isinstance(v, list) and v
                   and all(isinstance(n, norm_mappings.NormMapping) for n in v)))
    fields = list(mappings.SpinQuantMapping.model_fields)
    return {
        "fields": fields,
        "mappings": [{"name": name, **{f: getattr(value, f) for f in fields}}
                     for name, value in named],
        "default_mapping": _name_of(mappings._default_mappings, named, "_default_mappings"),
        "registry": [{"architecture": arch,
                      "mapping": _name_of(value, named, f"SPINQUANT_MAPPING_REGISTRY[{arch!r}]")}
                     for arch, value in mappings.SPINQUANT_MAPPING_REGISTRY.items()],
        "norm_lists": [{"name": name,
                        "mappings": [{"norm": n.norm, "linears": list(n.linears)} for n in value]}
                       for name, value in norm_named],
        "default_norm_list": _name_of(norm_mappings._default_mappings, norm_named,
                                      "norm _default_mappings"),
        "norm_registry": [{"architecture": arch,
                           "list": _name_of(value, norm_named, f"NORM_MAPPING_REGISTRY[{arch!r}]")}
                          for arch, value in norm_mappings.NORM_MAPPING_REGISTRY.items()],
    }


def smoothquant_mappings():
    from llmcompressor.modifiers.transform.smoothquant import dynamic_mappings, utils

    def is_list(value):
        return (isinstance(value, list) and value
                and all(isinstance(m, utils.LayerMap) for m in value))

    named = _named_globals(utils, is_list)
    return {
        "lists": [{"name": name,
                   "mappings": [{"balance_layers": list(m.balance_layers),
                                 "smooth_layers": m.smooth_layers} for m in value]}
                  for name, value in named],
        "default_list": _name_of(utils.DEFAULT_SMOOTHQUANT_MAPPINGS, named,
                                 "DEFAULT_SMOOTHQUANT_MAPPINGS"),
        "registry": [{"architecture": arch,
                      "list": _name_of(value, named, f"MAPPINGS_REGISTRY[{arch!r}]")}
                     for arch, value in utils.MAPPINGS_REGISTRY.items()],
        "dynamic_registry": [
            {"architecture": arch,
             "builder": _function_name(builder,
                                       f"SMOOTHQUANT_DYNAMIC_MAPPING_REGISTRY[{arch!r}]")}
            for arch, builder in dynamic_mappings.SMOOTHQUANT_DYNAMIC_MAPPING_REGISTRY.items()],
    }


def written_args(args):
    """The fields a QuantizationArgs was constructed with, JSON-ready: what a
    recipe would have to write to get the same args (defaults left to the
    validators, as upstream leaves them)."""
    import enum

    import torch

    if args is None:
        return None

    def plain(value):
        # Not model_dump(): its serializer drops zp_dtype of symmetric args,
        # which the validated args still carry.
        if isinstance(value, torch.dtype):
            return str(value)
        if isinstance(value, enum.Enum):
            return value.value
        return value

    return {field: plain(getattr(args, field)) for field in type(args).model_fields
            if field in args.model_fields_set}


def preset_schemes():
    from compressed_tensors.quantization import quant_scheme

    presets = []
    for name, scheme in quant_scheme.PRESET_SCHEMES.items():
        unknown = set(scheme) - {"weights", "input_activations", "output_activations", "format"}
        if unknown:
            raise SystemExit(f"PRESET_SCHEMES[{name!r}] has fields wring does not read: "
                             f"{sorted(unknown)}")
        presets.append({
            "name": name,
            "weights": written_args(scheme.get("weights")),
            "input_activations": written_args(scheme.get("input_activations")),
            "output_activations": written_args(scheme.get("output_activations")),
            "format": getattr(scheme.get("format"), "value", scheme.get("format")),
        })
    return {"presets": presets}
