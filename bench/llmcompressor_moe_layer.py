"""llm-compressor's side of the MoE-layer AWQ benchmark: oneshot with AWQ +
W4A16 on one decoder layer of Qwen3-30B-A3B shape and of Qwen3-Next-80B-A3B
shape, random weights, on this machine's CPU. Prints wall time per decoder
layer and peak host memory. llm-compressor stays outside the build and the
tests: this script only runs by hand (nice -n 19), in the reference env
(llmcompressor 0.14.0.1, transformers 5.17, torch 2.10; torchvision must be
importable for llm-compressor's MoE loading patches).

The exact arguments wring's C++ bench must use for a side-by-side number:
  --shape qwen3_30b_a3b       Qwen3-MoE, 1 decoder layer: hidden 2048, 32 heads /
                              4 kv heads of 128, 128 experts, top-8,
                              moe_intermediate 768, norm_topk_prob, rms eps 1e-6,
                              rope theta 1e6
  --shape qwen3_next_80b_a3b  Qwen3-Next, 2 decoder layers [linear_attention,
                              full_attention] so AWQ's hybrid mappings apply; the
                              timed layer is layer 0: Gated DeltaNet (16 key / 32
                              value heads of 128, conv 4) + 512 experts, top-10,
                              moe_intermediate 512, shared expert 512 with its
                              sigmoid gate. Layer 1 (16 heads / 2 kv of 256, output
                              gate, partial rotary 0.25) has the same experts: with a
                              dense MLP there (mlp_only_layers) AWQ's registry mapping
                              for post_attention_layernorm matches no experts and
                              raises ValueError. Its time is printed separately.
  vocab 2048 (embedding and lm_head are not part of the layer time), bf16,
  transformers' random init after torch.manual_seed(0);
  --samples 2 --seq-len 64    calibration: torch.randint(2, vocab, (samples,
                              seq_len)) with torch.Generator().manual_seed(1),
                              one sample per batch, unshuffled
  recipe                      AWQModifier() (duo_scaling True, n_grid 20) +
                              QuantizationModifier(targets [Linear], scheme W4A16
                              (int4 symmetric, group 128), ignore [lm_head,
                              re:.*mlp.gate$, re:.*mlp.shared_expert_gate$])
  pipeline                    sequential, moe_calibrate_all_experts=True (default:
                              every expert sees every token)
  --threads N                 torch.set_num_threads (default: torch's default)
  --n-grid N                  AWQModifier(n_grid=N) (default 20); wring's bench
                              takes the same --n_grid

Layer time = from the start of a layer's calibration pass to the start of the
next layer's (calibration forward, AWQ grid search and smoothing, weight
qparams, propagation forward), as wall time and as this process's CPU time
(user + system, all threads): on a shared machine the CPU time is the number
to compare, the wall time also counts other jobs. Peak memory = the largest RSS sampled every
0.1 s during oneshot (after the model is built and linearized), and the RSS
before oneshot.

    nice -n 19 /work/venv-h15r/bin/python bench/llmcompressor_moe_layer.py --shape qwen3_30b_a3b
"""
import argparse
import os
import sys
import tempfile
import threading
import time

import psutil
import torch
import transformers
from datasets import Dataset

import llmcompressor.pipelines.sequential.pipeline as sequential
from llmcompressor import oneshot
from llmcompressor.modeling.moe.linearize import linearize_moe
from llmcompressor.modifiers.quantization import QuantizationModifier
from llmcompressor.modifiers.transform.awq import AWQModifier
from llmcompressor.pipelines.cache import IntermediatesCache

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "backend", "testing"))
import oneshot_reference as ref  # noqa: E402  (backend/testing/oneshot_reference.py)

VOCAB = 2048


def build(shape):
    common = dict(vocab_size=VOCAB, hidden_size=2048, rms_norm_eps=1e-6, max_position_embeddings=4096,
                  bos_token_id=0, eos_token_id=1, tie_word_embeddings=False)
    if shape == "qwen3_30b_a3b":
        return transformers.Qwen3MoeForCausalLM(transformers.Qwen3MoeConfig(
            **common, num_hidden_layers=1, num_attention_heads=32, num_key_value_heads=4, head_dim=128,
            intermediate_size=6144, moe_intermediate_size=768, num_experts=128, num_experts_per_tok=8,
            norm_topk_prob=True, rope_parameters=dict(rope_type="default", rope_theta=1000000.0)))
    return transformers.Qwen3NextForCausalLM(transformers.Qwen3NextConfig(
        **common, num_hidden_layers=2, layer_types=["linear_attention", "full_attention"],
        num_attention_heads=16, num_key_value_heads=2, head_dim=256, intermediate_size=5120,
        linear_num_key_heads=16, linear_num_value_heads=32, linear_key_head_dim=128, linear_value_head_dim=128,
        linear_conv_kernel_dim=4, moe_intermediate_size=512, shared_expert_intermediate_size=512,
        num_experts=512, num_experts_per_tok=10, norm_topk_prob=True,
        rope_parameters=dict(rope_type="default", rope_theta=10000000.0, partial_rotary_factor=0.25)))


class PeakRss:
    """Samples this process's RSS in a thread; the maximum is the peak."""

    def __init__(self):
        self.process = psutil.Process()
        self.peak = self.process.memory_info().rss
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.1)

    def stop(self):
        self.running = False
        self.thread.join()
        return self.peak


def record_layer_starts(starts):
    """Keeps the wall time at which each subgraph's calibration pass starts."""
    original = sequential._get_batches

    def get_batches(activations, num_batches, input_names, desc, *args, **kwargs):
        if desc.endswith("Calibrating"):
            starts.append((desc.split(")")[0].strip("("), time.perf_counter(), time.process_time()))
        return original(activations, num_batches, input_names, desc, *args, **kwargs)

    sequential._get_batches = get_batches


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=["qwen3_30b_a3b", "qwen3_next_80b_a3b"], required=True)
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0)
    # Fewer grid points per mapping (wring's bench: --n_grid): llm-compressor's
    # full grid of 20 takes hours per MoE layer on a small CPU.
    parser.add_argument("--n-grid", type=int, default=20)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    # Pinning host memory is a transfer optimisation that needs a CUDA driver.
    if not torch.cuda.is_available():
        IntermediatesCache.pin_memory = lambda self, *a, **k: None

    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)
    model = build(args.shape)
    torch.set_default_dtype(torch.float32)
    model.config.dtype = torch.bfloat16  # linearized experts take their dtype from the config
    linearize_moe(model)  # what oneshot would do first; kept out of the timed window
    # oneshot re-reads config.json from the model's path to check for quantization.
    config_dir = tempfile.mkdtemp()
    model.config.save_pretrained(config_dir)
    model.config._name_or_path = config_dir
    tokenizer = ref.save_word_level_tokenizer(tempfile.mkdtemp(), VOCAB)
    ids = torch.randint(2, VOCAB, (args.samples, args.seq_len), generator=torch.Generator().manual_seed(1))
    dataset = Dataset.from_dict({"input_ids": ids.tolist(), "attention_mask": torch.ones_like(ids).tolist()})
    recipe = [AWQModifier(n_grid=args.n_grid), QuantizationModifier(
        targets=["Linear"], scheme="W4A16", ignore=["lm_head", "re:.*mlp.gate$", "re:.*mlp.shared_expert_gate$"])]

    starts = []
    record_layer_starts(starts)
    rss_before = psutil.Process().memory_info().rss
    sampler = PeakRss()
    begin = time.perf_counter()
    cpu_begin = time.process_time()
    oneshot(model=model, processor=tokenizer, dataset=dataset, recipe=recipe,
            num_calibration_samples=args.samples, max_seq_length=args.seq_len,
            shuffle_calibration_samples=False, pipeline="sequential")
    end, cpu_end = time.perf_counter(), time.process_time()
    peak = sampler.stop()

    print(f"llm-compressor AWQ W4A16 (n_grid {args.n_grid}), shape {args.shape}, "
          f"{args.samples} x {args.seq_len} tokens, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}")
    bounds = [(wall, cpu) for _, wall, cpu in starts] + [(end, cpu_end)]
    for (name, wall, cpu), (wall_stop, cpu_stop) in zip(starts, bounds[1:]):
        print(f"  subgraph {name}: {wall_stop - wall:.1f} s wall, {cpu_stop - cpu:.1f} s CPU (all threads)")
    print(f"  oneshot total: {end - begin:.1f} s wall, {cpu_end - cpu_begin:.1f} s CPU")
    print(f"  load average at the end: {' '.join(f'{x:.1f}' for x in psutil.getloadavg())}")
    print(f"  RSS before oneshot: {rss_before / 2**30:.2f} GiB, peak during oneshot: {peak / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
