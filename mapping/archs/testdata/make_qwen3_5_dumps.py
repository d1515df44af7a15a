# Module dumps of tiny Qwen3.5 models as transformers 5.17 builds them, so
# mapping/archs' config-only trees for the Qwen3.5 architectures are checked
# against the real named_modules() / named_parameters() without Python in CI.
#
# Rerun (CPU, seconds) from the repository root with the reference env:
#   /work/refvenv/bin/python mapping/archs/testdata/make_qwen3_5_dumps.py
# It writes qwen3_5_dumps.json beside this file: architecture -> {config,
# modules: [{name, class, mro, in, out}], params: [[name, shape]]}, the
# fields of tests/fixtures/mapping (see its README), without the answers.
import json
import os

import torch
import transformers
from transformers import (Qwen3_5Config, Qwen3_5ForCausalLM, Qwen3_5ForConditionalGeneration, Qwen3_5MoeConfig,
                          Qwen3_5MoeForConditionalGeneration, Qwen3_5TextConfig)

HERE = os.path.dirname(os.path.abspath(__file__))
TEXT = dict(vocab_size=64, hidden_size=64, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
            num_hidden_layers=3, layer_types=["linear_attention", "linear_attention", "full_attention"],
            linear_num_key_heads=2, linear_num_value_heads=4, linear_key_head_dim=16, linear_value_head_dim=8,
            linear_conv_kernel_dim=4)
VISION = dict(depth=2, hidden_size=16, intermediate_size=32, num_heads=2, patch_size=4, out_hidden_size=64,
              num_position_embeddings=16, temporal_patch_size=2, spatial_merge_size=2)


def models():
    yield Qwen3_5ForCausalLM(Qwen3_5TextConfig(**TEXT, intermediate_size=96))
    yield Qwen3_5ForConditionalGeneration(Qwen3_5Config(text_config=dict(TEXT, intermediate_size=96),
                                                        vision_config=VISION))
    yield Qwen3_5MoeForConditionalGeneration(Qwen3_5MoeConfig(
        text_config=dict(TEXT, moe_intermediate_size=16, shared_expert_intermediate_size=32, num_experts=3,
                         num_experts_per_tok=2),
        vision_config=dict(VISION, hidden_act="gelu")))


def dump(model):
    modules = []
    for name, module in model.named_modules():
        mro = [c.__name__ for c in type(module).__mro__
               if issubclass(c, torch.nn.Module) and c is not torch.nn.Module]
        entry = {"name": name, "class": type(module).__name__, "mro": mro}
        if isinstance(module, torch.nn.Linear):
            entry["in"], entry["out"] = module.in_features, module.out_features
        modules.append(entry)
    params = [[name, list(p.shape)] for name, p in model.named_parameters()]
    config = model.config.to_dict()
    return {"architecture": type(model).__name__, "config": config, "modules": modules, "params": params}


def main():
    out = {}
    with torch.device("meta"):
        for model in models():
            out[type(model).__name__] = dump(model)
    out["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__}
    with open(os.path.join(HERE, "qwen3_5_dumps.json"), "w") as f:
        json.dump(out, f, indent=0, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
