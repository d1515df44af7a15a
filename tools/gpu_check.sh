#!/usr/bin/env bash
# One command that verifies the CUDA build on a GPU host: run it in the
# repository root of a machine with PyTorch (CUDA) for python3, nvcc and
# CMake, but no Bazel and no network, after tools/gpu_prepare.sh filled
# .gpu/ on a machine with Debian's archive. It
#   1. builds wring with CMake against the PyTorch wheel's CUDA LibTorch,
#   2. runs every unit test with ctest (on the CPU),
#   3. runs the job tests again with WRING_TEST_DEVICE=cuda: `wring compress`
#      on the test models, checkpoints compared with llm-compressor's
#      references in the repository,
#   4. times `wring compress --device cuda` on the demo-sized test model,
#   5. runs compress_bench and rotate_bench at Llama-3-8B shape on CUDA,
#      compress_bench's AWQ on one Qwen3-30B-A3B and two Qwen3-Next-80B-A3B
#      layers (issue 15's benchmark) and gptq_bench on a Llama-3-8B layer and
#      a Qwen3-30B-A3B layer's experts (issue 16's),
# and prints one summary table (also in $GPU_CHECK_OUT/summary.md, with a
# log per step). Steps 3-5 are skipped where torch sees no GPU, so the
# script also proves the build and the CPU tests on a CPU machine:
#   PYTHON=/path/to/venv/bin/python tools/gpu_check.sh
#
# Environment: PYTHON (default python3), GPU_CHECK_BUILD (default
# build-gpu), GPU_CHECK_OUT (default $GPU_CHECK_BUILD/gpu_check),
# GPU_CHECK_JOBS (default nproc).
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
BUILD=${GPU_CHECK_BUILD:-build-gpu}
OUT=${GPU_CHECK_OUT:-$BUILD/gpu_check}
JOBS=${GPU_CHECK_JOBS:-$(nproc)}
SYS=/tmp/wring-sys
mkdir -p "$OUT"
rows=()
failures=0

# step NAME TIMEOUT_SECONDS COMMAND...: runs COMMAND with its output in
# $OUT/NAME.log, and records its status, time and the log's last line.
step() {
  local name=$1 limit=$2; shift 2
  local start=$SECONDS status
  # Through bash, so that steps may be the functions exported below.
  timeout "$limit" bash -c '"$@"' step "$@" >"$OUT/$name.log" 2>&1
  status=$?
  local took=$((SECONDS - start))
  local result=ok
  if [ $status = 124 ]; then result="TIMEOUT (${limit}s)"; elif [ $status != 0 ]; then result="FAILED ($status)"; fi
  [ "$result" = ok ] || failures=$((failures + 1))
  rows+=("| $name | $result | ${took}s | $(note_for "$name") |")
  echo "gpu_check: $name: $result in ${took}s" >&2
  return $status
}
note_for() {  # a one-line result extracted from the step's log
  local log="$OUT/$1.log"
  case $1 in
    ctest*) grep -E 'tests passed|tests failed' "$log" | tail -1 ;;
    compress_bench*) grep -E 'per decoder layer|peak device' "$log" | tr -s ' ' | paste -sd ';' ;;
    rotate_bench*) grep -E 'per decoder layer|whole model|total' "$log" | tr -s ' ' | paste -sd ';' ;;
    gptq_bench*) grep -E 'per layer|peak' "$log" | tr -s ' ' | paste -sd ';' ;;
    compress_*) grep -E 'perplexity' "$log" | tr -s ' ' | tail -1 ;;
    *) tail -1 "$log" | cut -c1-120 ;;
  esac
}

unpack() {
  rm -rf "$SYS" && mkdir -p "$SYS"
  local debs=(.gpu/debs/*.deb)
  [ -e "${debs[0]}" ] || { echo "no .gpu/debs: run tools/gpu_prepare.sh on a Debian machine first"; return 1; }
  for d in "${debs[@]}"; do dpkg-deb -x "$d" "$SYS" || return 1; done
}
export LD_LIBRARY_PATH="$SYS/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

configure() {
  local prefix lib
  prefix=$("$PYTHON" -c 'import torch; print(torch.utils.cmake_prefix_path)') || return 1
  # The wheel's own libraries, even where a system LibTorch (Debian's) would
  # be found first on the default search path.
  lib="$prefix/../../lib"
  local libraries=()
  for l in torch:TORCH_LIBRARY torch_cpu:torch_cpu_LIBRARY c10:C10_LIBRARY \
           torch_cuda:torch_cuda_LIBRARY c10_cuda:c10_cuda_LIBRARY; do
    [ -e "$lib/lib${l%%:*}.so" ] && libraries+=("-D${l##*:}=$(realpath "$lib/lib${l%%:*}.so")")
  done
  local cuda=()
  if command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ]; then
    cuda=(-DCMAKE_CUDA_COMPILER="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)"
          -DCMAKE_CUDA_ARCHITECTURES=90)
  fi
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DWRING_SYSROOT="$SYS/usr" \
    -DCMAKE_PREFIX_PATH="$prefix" "${libraries[@]}" "${cuda[@]}"
}

export SYS PYTHON BUILD
export -f unpack configure
step unpack 120 unpack
step configure 300 configure && step build 1200 cmake --build "$BUILD" -j "$JOBS"
built=$?
if [ $built = 0 ]; then
  step ctest_cpu 900 ctest --test-dir "$BUILD" -j "$JOBS" --output-on-failure --timeout 600
fi

has_gpu=$("$PYTHON" -c 'import torch; print(int(torch.cuda.is_available()))' 2>/dev/null || echo 0)
if [ $built = 0 ] && [ "$has_gpu" = 1 ]; then
  data=backend/job/testdata
  step ctest_cuda_jobs 900 env WRING_TEST_DEVICE=cuda \
    ctest --test-dir "$BUILD" -R '(compress|awq|spinquant)_job_test' --output-on-failure --timeout 600
  for recipe in w8a8 w4a16; do
    rm -rf "$OUT/ckpt_$recipe"
    step "compress_$recipe" 300 "$BUILD/wring" compress --device cuda \
      --model "$data/oneshot/tiny_llama" --recipe "$data/oneshot/recipes/$recipe.yaml" \
      --dataset "$data/oneshot/calibration.jsonl" --num-samples 8 --eval-samples 0 \
      --output "$OUT/ckpt_$recipe"
  done
  step compress_bench_w4a16_8b 600 "$BUILD/compress_bench" --device=cuda --shape=llama3-8b \
    --layers=2 --samples=128 --seq_len=2048
  step compress_bench_awq_8b 600 "$BUILD/compress_bench" --device=cuda --shape=llama3-8b \
    --layers=1 --samples=128 --seq_len=2048 --awq
  step rotate_bench_8b 300 "$BUILD/rotate_bench" --device=cuda --shape=llama3-8b --layers=2
  step compress_bench_awq_30b_moe 600 "$BUILD/compress_bench" --device=cuda --shape=qwen3-30b-a3b \
    --samples=64 --seq_len=512 --awq
  step compress_bench_awq_next 600 "$BUILD/compress_bench" --device=cuda --shape=qwen3-next-80b-a3b \
    --samples=16 --seq_len=512 --awq
  step gptq_bench_8b 300 "$BUILD/gptq_bench" --device=cuda --shape=llama3-8b
  step gptq_bench_30b_moe 300 "$BUILD/gptq_bench" --device=cuda --shape=qwen3-30b-a3b
else
  rows+=("| cuda steps | skipped | - | $([ $built = 0 ] && echo "torch sees no GPU" || echo "the build failed") |")
fi

{
  echo "| step | result | time | notes |"
  echo "| --- | --- | --- | --- |"
  printf '%s\n' "${rows[@]}"
  echo
  echo "device: $("$PYTHON" -c 'import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"); ' 2>/dev/null), torch $("$PYTHON" -c 'import torch; print(torch.__version__)' 2>/dev/null), logs in $OUT"
} | tee "$OUT/summary.md"
exit $((failures > 0))
