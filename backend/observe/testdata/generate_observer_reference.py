"""Reference data for backend/observe: llm-compressor observers and
compressed-tensors qparam math run on fixed random tensors (CPU).

Rerun (the pinned env of tools/reference/requirements.txt):
    VENV/bin/python backend/observe/testdata/generate_observer_reference.py
It rewrites observer_reference.safetensors and observer_reference.json here.

Each case in the JSON names its inputs and expected outputs (tensor names in
the safetensors file) and the QuantizationArgs fields it used. fp8 values and
fp8 zero points are stored upcast to float32 (LibTorch 1.13 has no float8).
"""

import json
import os

import torch
from compressed_tensors.quantization import QuantizationArgs
from compressed_tensors.quantization.lifecycle.forward import fake_quantize, quantize
from compressed_tensors.quantization.utils import compute_dynamic_scales_and_zp
from llmcompressor.observers import Observer
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
tensors = {}
cases = []
stored_inputs = {}  # id(tensor) -> (name, tensor): shared inputs stored once


def put(name, t):
    if id(t) in stored_inputs:
        return stored_inputs[id(t)][0]
    stored_inputs[id(t)] = (name, t)  # holding t keeps its id unique
    t = t.detach().cpu()
    if t.dtype == torch.float8_e4m3fn:
        t = t.to(torch.float32)
    tensors[name] = t.contiguous()
    return name


def weight(seed, rows, cols, dtype):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(rows, cols, generator=g) * 0.05
    w[1, 3] = 1.7  # outlier
    w[2, 7] = -2.3
    w[3, :] = 0.0  # all-zero row
    w[4, :] = torch.rand(cols, generator=g) * 0.1  # all-positive row
    return w.to(dtype)


def args_dict(args):
    d = {
        "num_bits": args.num_bits,
        "type": str(args.type),
        "symmetric": args.symmetric,
        "strategy": str(args.strategy),
        "dynamic": args.dynamic,
        "observer": args.observer,
        "observer_kwargs": {k: str(v) for k, v in (args.observer_kwargs or {}).items()},
    }
    if args.group_size is not None:
        d["group_size"] = args.group_size
    if args.block_structure is not None:
        d["block_structure"] = list(args.block_structure)
    return d


def weight_case(name, w, args_kwargs, observers=("memoryless_minmax", "memoryless_mse")):
    w_name = put(f"{name}.weight", w)
    for obs_name in observers:
        args = QuantizationArgs(**args_kwargs, observer=obs_name)
        obs = Observer.load_from_registry(obs_name, base_name="weight", args=args)
        obs(w)
        qp = obs.get_qparams()
        key = f"{name}.{obs_name}"
        case = {
            "name": key,
            "kind": "weight",
            "args": args_dict(args),
            "observer": obs_name,
            "input": w_name,
            "scale": put(f"{key}.scale", qp["scale"]),
            "zero_point": put(f"{key}.zero_point", qp["zero_point"]),
            "quantized": put(
                f"{key}.quantized",
                quantize(w, qp["scale"], qp["zero_point"], args,
                         dtype=None if args.type == "float" else torch.int8),
            ),
            "fake_quantized": put(
                f"{key}.fake_quantized", fake_quantize(w, qp["scale"], qp["zero_point"], args)
            ),
        }
        cases.append(case)


def activation_case(name, base_name, inputs, args_kwargs):
    args = QuantizationArgs(**args_kwargs)
    # llm-compressor's initialize_observer: activations without an observer
    # get the moving-average "minmax" (compressed-tensors >= 0.19 keeps None).
    obs_name = args.observer or "minmax"
    obs = Observer.load_from_registry(obs_name, base_name=base_name, args=args)
    in_names = []
    mins, maxs = [], []
    for i, x in enumerate(inputs):
        in_names.append(put(f"{name}.input{i}", x))
        obs(x)
        mins.append(put(f"{name}.min{i}", obs.min_vals))
        maxs.append(put(f"{name}.max{i}", obs.max_vals))
    qp = obs.get_qparams()
    case = {
        "name": name,
        "kind": base_name,
        "args": args_dict(args),
        "observer": obs_name,
        "inputs": in_names,
        "min_vals": mins,
        "max_vals": maxs,
        "scale": put(f"{name}.scale", qp["scale"]),
        "zero_point": put(f"{name}.zero_point", qp["zero_point"]),
    }
    # (Upstream cannot fake-quantize static *group* activations: the (groups,)
    # scale is unsqueezed to (groups, 1) and fails to broadcast.)
    if base_name == "input" and args.strategy == "tensor":
        case["fake_quantized"] = put(
            f"{name}.fake_quantized",
            fake_quantize(inputs[-1], qp["scale"], qp["zero_point"], args),
        )
    cases.append(case)


def dynamic_case(name, x, args_kwargs):
    args = QuantizationArgs(**args_kwargs)
    scale, zp = compute_dynamic_scales_and_zp(x, args, module=None)
    cases.append({
        "name": name,
        "kind": "dynamic",
        "args": args_dict(args),
        "input": put(f"{name}.input", x),
        "scale": put(f"{name}.scale", scale),
        "zero_point": put(f"{name}.zero_point", zp),
        "fake_quantized": put(f"{name}.fake_quantized", fake_quantize(x, scale, zp, args)),
    })


def activations(seed, shape, dtype, calls):
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(calls):
        x = torch.randn(*shape, generator=g) * (1.0 + i)
        x.view(-1)[5 + i] = 12.0 * (i + 1)  # outlier token
        out.append(x.to(dtype))
    return out


def main():
    torch.manual_seed(0)
    # ---- weights
    w_bf16 = weight(1, 16, 256, torch.bfloat16)
    weight_case("int4_g128_sym_bf16", w_bf16, dict(num_bits=4, strategy="group", group_size=128))
    weight_case("int4_g128_asym_bf16", w_bf16,
                dict(num_bits=4, strategy="group", group_size=128, symmetric=False))
    w_f32 = weight(2, 32, 64, torch.float32)
    weight_case("int8_channel_sym_f32", w_f32, dict(num_bits=8, strategy="channel"))
    weight_case("int8_channel_asym_f32", w_f32, dict(num_bits=8, strategy="channel", symmetric=False))
    weight_case("int8_channel_sym_bf16", w_bf16, dict(num_bits=8, strategy="channel"))
    weight_case("fp8_tensor_bf16", w_bf16, dict(num_bits=8, type="float", strategy="tensor"))
    weight_case("fp8_channel_bf16", w_bf16, dict(num_bits=8, type="float", strategy="channel"))
    w_block = weight(3, 200, 384, torch.bfloat16)
    weight_case("fp8_block_bf16", w_block,
                dict(num_bits=8, type="float", strategy="block", block_structure=[128, 128]))
    weight_case("int8_block_asym_f32", weight(4, 100, 96, torch.float32),
                dict(num_bits=8, strategy="block", block_structure=[32, 64], symmetric=False),
                observers=("memoryless_minmax",))
    weight_case("int4_g32_mse_kwargs_f32", weight(5, 8, 64, torch.float32),
                dict(num_bits=4, strategy="group", group_size=32,
                     observer_kwargs={"maxshrink": 0.5, "patience": 3, "grid": 50.0, "norm": 2.0}),
                observers=("memoryless_mse",))

    # ---- static input activations, [batch, seq, hidden], three calls
    acts_bf16 = activations(10, (2, 5, 64), torch.bfloat16, 3)
    acts_f32 = activations(11, (2, 5, 64), torch.float32, 3)
    fp8_tensor = dict(num_bits=8, type="float", strategy="tensor")
    int8_tensor = dict(num_bits=8, strategy="tensor")
    activation_case("input_fp8_static_minmax_bf16", "input", acts_bf16,
                    dict(fp8_tensor, observer="static_minmax"))
    activation_case("input_fp8_memoryless_bf16", "input", acts_bf16, fp8_tensor)
    activation_case("input_int8_asym_minmax_bf16", "input", acts_bf16,
                    dict(int8_tensor, symmetric=False, observer="minmax"))
    activation_case("input_int8_asym_minmax_c01_f32", "input", acts_f32,
                    dict(int8_tensor, symmetric=False, observer="minmax",
                         observer_kwargs={"averaging_constant": 0.1}))
    activation_case("input_int8_sym_mse_bf16", "input", acts_bf16, dict(int8_tensor, observer="mse"))
    activation_case("input_int8_asym_mse_f32", "input", acts_f32,
                    dict(int8_tensor, symmetric=False, observer="mse"))
    activation_case("input_int8_group16_static_minmax_bf16", "input", acts_bf16,
                    dict(num_bits=8, strategy="group", group_size=16, observer="static_minmax"))

    # ---- kv cache: [batch, kv_heads, seq, head_dim] post-RoPE states
    kv = activations(20, (2, 2, 5, 16), torch.bfloat16, 2)
    activation_case("k_fp8_tensor_static_minmax_bf16", "k", kv, dict(fp8_tensor, observer="static_minmax"))
    activation_case("k_fp8_tensor_memoryless_bf16", "k", kv, fp8_tensor)
    activation_case("k_fp8_attn_head_static_minmax_bf16", "k", kv,
                    dict(num_bits=8, type="float", strategy="attn_head", observer="static_minmax"))
    activation_case("v_int8_asym_attn_head_minmax_bf16", "v", kv,
                    dict(num_bits=8, strategy="attn_head", symmetric=False, observer="minmax"))

    # ---- dynamic activations
    x = acts_bf16[1]
    dynamic_case("dyn_int8_token_bf16", x, dict(num_bits=8, strategy="token", dynamic=True))
    dynamic_case("dyn_int8_token_asym_f32", acts_f32[0],
                 dict(num_bits=8, strategy="token", dynamic=True, symmetric=False))
    dynamic_case("dyn_fp8_token_bf16", x, dict(num_bits=8, type="float", strategy="token", dynamic=True))
    dynamic_case("dyn_fp8_tensor_bf16", x, dict(num_bits=8, type="float", strategy="tensor", dynamic=True))
    dynamic_case("dyn_fp8_group32_bf16", x,
                 dict(num_bits=8, type="float", strategy="group", group_size=32, dynamic=True))

    save_file(tensors, os.path.join(HERE, "observer_reference.safetensors"))
    with open(os.path.join(HERE, "observer_reference.json"), "w") as f:
        json.dump({"torch": torch.__version__, "cases": cases}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
