#!/usr/bin/env bash
# `wring compress` stopped mid-run by SIGINT (Ctrl-C) and SIGTERM (a
# scheduler's time limit): it must stop within seconds, remove its staging
# directory, say so, and end by the same signal (exit 128 + signal). And a
# second run given the same --output while the first is running is refused.
set -u
WRING="$1"
TINY_LLAMA="$(dirname "$2")"
TMP="${TEST_TMPDIR:-$(mktemp -d)}"
failures=0
cases=0
junit_cases=""

# A dataset long enough that calibrating the tiny model takes a while:
# 4000 samples of 64 token ids below its vocabulary (256).
dataset="$TMP/long.jsonl"
awk 'BEGIN { srand(7); for (i = 0; i < 4000; i++) { printf "{\"input_ids\": ["; for (j = 0; j < 64; j++) printf "%s%d", (j ? ", " : ""), int(rand() * 256); print "]}" } }' > "$dataset"

# Static int8 input activations need a calibration pass (W8A8's dynamic
# ones do not, and wring skips it then).
recipe="$TMP/int8_static.yaml"
cat > "$recipe" <<'YAML'
quant_stage:
  quant_modifiers:
    QuantizationModifier:
      ignore: [lm_head]
      config_groups:
        group_0:
          targets: [Linear]
          weights: {num_bits: 8, type: int, strategy: channel, symmetric: true}
          input_activations: {num_bits: 8, type: int, strategy: tensor, symmetric: true, dynamic: false}
YAML

fail() {  # fail NAME WHY
  failures=$((failures + 1))
  echo "FAIL: $1: $2"
  junit_cases+="<testcase name=\"$1\"><failure message=\"$2\"/></testcase>"
}

start_run() {  # start_run OUTPUT LOG [FLAG...]: starts wring compress in the background, sets pid
  local output="$1" log="$2"
  shift 2
  "$WRING" compress --model "$TINY_LLAMA" --recipe "$recipe" --dataset "$dataset" \
    --output "$output" --num-samples 4000 --eval-samples 0 --seq-len 64 --noshuffle "$@" \
    2> "$log" > /dev/null &
  pid=$!
}

wait_for_calibration() {  # wait_for_calibration LOG: true once a layer is being calibrated
  for _ in $(seq 1 600); do
    if grep -q "calibrating sample" "$1" 2>/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.1
  done
  return 1
}

# interrupt SIGNAL NUMBER
interrupt() {
  local signal="$1" number="$2" name="wring compress stopped by $1"
  cases=$((cases + 1))
  local output="$TMP/out-$signal" log="$TMP/log-$signal"
  start_run "$output" "$log"
  if ! wait_for_calibration "$log"; then
    fail "$name" "the run never reached calibration (or ended first)"
    cat "$log"
    wait "$pid"
    return
  fi
  if [ ! -d "$output.wring-partial" ]; then
    fail "$name" "no staging directory while running"
  fi
  local sent
  sent=$(date +%s%N)
  kill -s "$signal" "$pid"
  wait "$pid"
  local status=$? elapsed_ms=$((($(date +%s%N) - sent) / 1000000))
  echo "$signal: exit $status after ${elapsed_ms} ms"
  if [ "$status" != $((128 + number)) ]; then
    fail "$name" "exit $status, want $((128 + number))"
  elif [ "$elapsed_ms" -gt 5000 ]; then
    fail "$name" "took ${elapsed_ms} ms to stop"
  elif ! grep -q "interrupted by $signal in decoder layer [0-9]* .*; stopped cleanly: nothing was written" "$log"; then
    fail "$name" "no message saying so"
    cat "$log"
  elif [ -e "$output" ] || [ -e "$output.wring-partial" ] || [ -e "$output.wring-lock" ]; then
    fail "$name" "left $(ls -d "$output"* | tr '\n' ' ')"
  else
    junit_cases+="<testcase name=\"$name\"/>"
  fi
}

interrupt SIGINT 2
interrupt SIGTERM 15

# Two runs, one --output: the second is refused while the first holds it,
# and the first is unharmed.
cases=$((cases + 1))
name="a second run on the same --output is refused"
output="$TMP/shared-out"
start_run "$output" "$TMP/log-first"
first=$pid
if wait_for_calibration "$TMP/log-first"; then
  second_log="$TMP/log-second"
  "$WRING" compress --model "$TINY_LLAMA" --recipe "$recipe" --dataset "$dataset" \
    --output "$output" --num-samples 4 --eval-samples 0 --seq-len 64 --quiet > "$second_log" 2>&1
  status=$?
  if [ "$status" != 2 ] || ! grep -q "process $first" "$second_log"; then
    fail "$name" "second run: exit $status"
    cat "$second_log"
  elif [ ! -d "$output.wring-partial" ]; then
    fail "$name" "the refused run removed the first run's staging directory"
  else
    junit_cases+="<testcase name=\"$name\"/>"
  fi
else
  fail "$name" "the first run never reached calibration"
fi
kill -s TERM "$first" 2>/dev/null
wait "$first"

# --nproc 2: SIGTERM to the launcher (a scheduler's limit) stops both
# workers; nothing is left behind.
cases=$((cases + 1))
name="wring compress --nproc 2 stopped by SIGTERM"
output="$TMP/out-nproc"
start_run "$output" "$TMP/log-nproc" --nproc 2
if wait_for_calibration "$TMP/log-nproc"; then
  sent=$(date +%s%N)
  kill -s TERM "$pid"
  wait "$pid"
  status=$?
  elapsed_ms=$((($(date +%s%N) - sent) / 1000000))
  echo "--nproc 2, SIGTERM: exit $status after ${elapsed_ms} ms"
  if [ "$status" = 0 ]; then
    fail "$name" "exit 0"
  elif [ "$elapsed_ms" -gt 15000 ]; then
    fail "$name" "took ${elapsed_ms} ms to stop"
  elif [ -e "$output" ] || [ -e "$output.wring-partial" ] || [ -e "$output.wring-lock" ]; then
    fail "$name" "left $(ls -d "$output"* | tr '\n' ' ')"
  elif pgrep -f -- "--output $output" > /dev/null; then
    fail "$name" "a worker is still running"
  else
    junit_cases+="<testcase name=\"$name\"/>"
  fi
else
  fail "$name" "the run never reached calibration"
  cat "$TMP/log-nproc"
  kill -s TERM "$pid" 2>/dev/null
  wait "$pid"
fi

# A --nproc launch refused because another run holds the output must not
# clean up that run's staging directory as if it were its own.
cases=$((cases + 1))
name="a refused --nproc run leaves the holder's files alone"
output="$TMP/held-out"
start_run "$output" "$TMP/log-holder"
holder=$pid
if wait_for_calibration "$TMP/log-holder"; then
  "$WRING" compress --nproc 2 --model "$TINY_LLAMA" --recipe "$recipe" --dataset "$dataset" \
    --output "$output" --num-samples 4 --eval-samples 0 --seq-len 64 --quiet > "$TMP/log-refused" 2>&1
  status=$?
  if [ "$status" = 0 ] || ! grep -q "process $holder" "$TMP/log-refused"; then
    fail "$name" "refused run: exit $status"
    cat "$TMP/log-refused"
  elif [ ! -d "$output.wring-partial" ] || [ ! -e "$output.wring-lock" ]; then
    fail "$name" "the refused run removed the holder's staging directory or lock"
  else
    junit_cases+="<testcase name=\"$name\"/>"
  fi
else
  fail "$name" "the holder never reached calibration"
fi
kill -s TERM "$holder" 2>/dev/null
wait "$holder"

echo "interrupt_test: $((cases - failures)) passed, $failures failed"
if [ -n "${XML_OUTPUT_FILE:-}" ]; then
  printf '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites><testsuite name="interrupt_test" tests="%d" failures="%d" errors="0">%s</testsuite></testsuites>\n' \
    "$cases" "$failures" "$junit_cases" > "$XML_OUTPUT_FILE"
fi
[ "$failures" = 0 ]
