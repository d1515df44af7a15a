#!/usr/bin/env bash
# Fuzzes wring's parsers with libFuzzer (clang 14, ASan + UBSan):
#
#   tools/fuzz.sh [--seconds N] [--dir DIR] [TARGET...]
#
# TARGETs are //fuzz targets (e.g. recipe_fuzzer); none means all of them.
# Each runs for N seconds (default 60) starting from its corpus
# (fuzz/corpus/TARGET/ plus the test data it names in fuzz/BUILD). New
# inputs go to DIR/TARGET/corpus (default: a fresh temporary directory),
# crashes to DIR/TARGET/crash-*. A crash found: copy it into
# fuzz/corpus/TARGET/ (it becomes a regression test) and fix the bug.
# Prints one line per target, then "fuzz: N passed, N failed"; exits 1 if
# any target crashed.
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=60
dir=""
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [ ${#targets[@]} = 0 ]; then
  mapfile -t targets < <(bazel query 'attr(tags, "\bfuzz\b", tests(//fuzz:all))' 2>/dev/null |
                           sed 's|^//fuzz:||')
fi
if [ -z "$dir" ]; then dir=$(mktemp -d -t wring-fuzz.XXXXXX); fi

labels=("${targets[@]/#/\/\/fuzz:}")
if ! bazel build --config=fuzz "${labels[@]}"; then
  echo "fuzz: build failed" >&2
  exit 1
fi
bin=$(bazel info --config=fuzz bazel-bin 2>/dev/null)

passed=0
failed=0
for target in "${targets[@]}"; do
  work="$dir/$target"
  mkdir -p "$work/corpus" "$work/seeds"
  # Seeds: every source file of the target's corpus filegroup, wherever it
  # lives in the repository.
  bazel query "kind('source file', deps(//fuzz:${target}_corpus))" 2>/dev/null |
    sed -E 's|^//([^:]*):(.*)$|\1/\2|; s|^/||' |
    while IFS= read -r file; do cp "$file" "$work/seeds/$(echo "$file" | tr / _)"; done
  dict=()
  if [ -f "fuzz/dicts/$target.dict" ]; then dict=("-dict=fuzz/dicts/$target.dict"); fi
  # -timeout: an input that takes this long is a hang on user input, a bug.
  TIMEFORMAT='%U %S'
  { time "$bin/fuzz/$target" -max_total_time="$seconds" -timeout=60 -rss_limit_mb=4096 \
      -print_final_stats=1 -artifact_prefix="$work/" "${dict[@]}" \
      "$work/corpus" "$work/seeds" >"$work/log" 2>&1; } 2>"$work/cpu"
  status=$?
  execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$work/log" | tail -1)
  cpu=$(awk '{printf "%.0f", $1 + $2}' "$work/cpu" 2>/dev/null)
  if [ "$status" = 0 ]; then
    passed=$((passed + 1))
    echo "fuzz $target: ${execs:-?} executions, ${cpu:-?} CPU seconds, no crash"
  else
    failed=$((failed + 1))
    echo "fuzz $target: FAILED (exit $status) after ${execs:-?} executions; see $work/log:"
    grep -E 'ERROR|==[0-9]+==|invariant|#[0-9]+ 0x' "$work/log" | head -20
    ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* 2>/dev/null
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
