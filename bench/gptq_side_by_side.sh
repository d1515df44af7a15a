#!/usr/bin/env bash
# GPTQ per layer, wring against llm-compressor 0.14 on the same machine and
# the same work (bench/gptq_bench.cc, bench/gptq_llmcompressor.py), for the
# Llama-3-8B-shaped decoder layer and the Qwen3-30B-A3B-shaped MoE experts.
#
#   bench/gptq_side_by_side.sh [PYTHON] [-- extra flags for both]
# PYTHON: an interpreter with torch, compressed-tensors and llmcompressor
# (default: python3). Extra flags, e.g. --samples=4 --seq_len=512
# --device=cuda --experts=32, go to both benches.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${1:-python3}
shift || true
[[ "${1:-}" == "--" ]] && shift
bazel build -c opt //bench:gptq_bench >/dev/null
for shape in llama3-8b qwen3-30b-a3b; do
  echo "== $shape"
  bazel-bin/bench/gptq_bench --shape="$shape" "$@"
  "$PYTHON" bench/gptq_llmcompressor.py --shape="$shape" "$@"
done
