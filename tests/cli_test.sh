#!/usr/bin/env bash
# End-to-end tests of the `wring` command: exit statuses (0 would run,
# 1 would fail, 2 unusable input) and that every bad input gets a message
# naming the file/field and the fix.
set -u
WRING="$1"
FIXTURES="$(dirname "$2")"
LLAMA3_CONFIG="$3"
TINY_LLAMA="$(dirname "$4")"
ONESHOT="$(dirname "$TINY_LLAMA")"
TMP="${TEST_TMPDIR:-$(mktemp -d)}"
failures=0
cases=0
junit_cases=""

# xml_escape TEXT
xml_escape() { sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g' <<<"$1"; }

# expect STATUS PATTERN -- ARGS...: runs wring, checks the exit status and
# that stdout+stderr match the extended regex PATTERN.
expect() {
  local want="$1" pattern="$2"
  shift 3
  cases=$((cases + 1))
  local out status
  out="$("$WRING" "$@" 2>&1)"
  status=$?
  local name
  name="$(xml_escape "wring $*")"
  if [ "$status" != "$want" ] || ! grep -Eq -- "$pattern" <<<"$out"; then
    failures=$((failures + 1))
    echo "FAIL: wring $* -> exit $status (want $want), pattern /$pattern/"
    echo "$out" | head -20
    junit_cases+="<testcase name=\"$name\"><failure message=\"exit $status, want $want\"/></testcase>"
  else
    junit_cases+="<testcase name=\"$name\"/>"
  fi
}

recipe() {  # recipe NAME TEXT: writes a recipe file, prints its path
  printf '%s\n' "$2" > "$TMP/$1"
  echo "$TMP/$1"
}

# Verdicts.
expect 0 "^Verdict: WOULD RUN" -- check --model "$FIXTURES/LlamaForCausalLM.json"
expect 1 "AWQ needs to match a single smoothlayer" -- check --model "$FIXTURES/Gemma3ForConditionalGeneration.json"
expect 1 "fix: Give AWQModifier explicit .mappings. whose patterns only match model.language_model" -- check --model "$FIXTURES/Gemma3ForConditionalGeneration.json"
expect 0 '"would_run": true' -- check --model "$FIXTURES/Qwen3MoeForCausalLM.fused.json" --json
expect 0 "linearized" -- check --model "$FIXTURES/Qwen3MoeForCausalLM.fused.json"
expect 0 "layers 0-31: input_layernorm -> self_attn.q_proj,self_attn.k_proj,self_attn.v_proj \(parent self_attn\)" -- check --config "$LLAMA3_CONFIG"
expect 0 "LlamaForCausalLM: default_mappings" -- mappings --arch LlamaForCausalLM
expect 0 "falls back to default_mappings" -- mappings --arch NoSuchForCausalLM

# Recipes llm-compressor would reject: exit 1 with its message.
r=$(recipe both.yaml 'quant_stage:
  quant_modifiers:
    QuantizationModifier:
      scheme: W4A16
      config_groups:
        g: {targets: [Linear], weights: {num_bits: 4}}')
expect 1 "Please specify either .scheme. or .config_groups." -- check --model "$FIXTURES/LlamaForCausalLM.json" --recipe "$r"
r=$(recipe order.yaml 'stage_stage:
  q_modifiers:
    QuantizationModifier: {scheme: W4A16, targets: [Linear]}
    AWQModifier: {}')
expect 1 "no subsequent quantization modifier" -- check --model "$FIXTURES/LlamaForCausalLM.json" --recipe "$r"
r=$(recipe incomplete.yaml 'quant_stage:
  quant_modifiers:
    AWQModifier:
      mappings:
        - smooth_layer: "re:.*input_layernorm$"
          balance_layers: ["re:.*nonexistent_proj$"]
    QuantizationModifier: {scheme: W4A16, targets: [Linear], ignore: [lm_head]}')
expect 1 "Found a final incomplete set" -- check --model "$FIXTURES/LlamaForCausalLM.json" --recipe "$r"

# Unusable input: exit 2, message names the problem.
r=$(recipe badre.yaml 'quant_stage:
  quant_modifiers:
    QuantizationModifier: {scheme: W4A16, targets: ["re:.*(q_proj"]}')
expect 2 "not a valid regular expression" -- check --model "$FIXTURES/LlamaForCausalLM.json" --recipe "$r"
r=$(recipe lookahead.yaml 'quant_stage:
  quant_modifiers:
    QuantizationModifier: {scheme: W4A16, targets: ["re:model\\.layers\\.(?!0\\.).*"]}')
expect 2 "negative lookahead" -- check --model "$FIXTURES/LlamaForCausalLM.json" --recipe "$r"
r=$(recipe preset.yaml 'quant_stage:
  quant_modifiers:
    QuantizationModifier: {scheme: W4A61, targets: [Linear]}')
expect 2 "unknown preset scheme name 'W4A61'.*did you mean 'W4A16'" -- check --model "$FIXTURES/LlamaForCausalLM.json" --recipe "$r"
r=$(recipe modifier.yaml 'quant_stage:
  quant_modifiers:
    AWQModifer: {}')
expect 2 "AWQModifier" -- check --model "$FIXTURES/LlamaForCausalLM.json" --recipe "$r"
r=$(recipe key.yaml 'quant_stage:
  quant_modifiers:
    AWQModifier: {duo_scailng: true}
    QuantizationModifier: {scheme: W4A16, targets: [Linear]}')
expect 2 "duo_scaling" -- check --model "$FIXTURES/LlamaForCausalLM.json" --recipe "$r"
r=$(recipe malformed.yaml 'quant_stage:
  quant_modifiers: [unclosed')
expect 2 "malformed.yaml:[0-9]+" -- check --model "$FIXTURES/LlamaForCausalLM.json" --recipe "$r"
expect 2 "cannot read the recipe: No such file" -- check --model "$FIXTURES/LlamaForCausalLM.json" --recipe "$TMP/missing.yaml"

: > "$TMP/empty.txt"
expect 2 "empty" -- check --model "$TMP/empty.txt"
printf 'model\nmodel.layers\nmodel\n' > "$TMP/dup.txt"
expect 2 "dup.txt:3: module \"model\" is listed twice" -- check --model "$TMP/dup.txt"
printf '{"modules": [{"name": "", "class": "M"}, ' > "$TMP/broken.json"
expect 2 "broken.json: not valid JSON" -- check --model "$TMP/broken.json"
printf '{"architectures": ["LlamaForCausalLM"], "model_type": "llama",' > "$TMP/config.json"
expect 2 "config.json" -- check --model "$FIXTURES/LlamaForCausalLM.json" --config "$TMP/config.json"
# A safetensors header claiming more bytes than the file holds.
mkdir -p "$TMP/st"
printf '\xff\x00\x00\x00\x00\x00\x00\x00{"a":1}' > "$TMP/st/bad.safetensors"
expect 2 "bad.safetensors" -- check --model "$TMP/st/bad.safetensors"
printf '\x15\x00\x00\x00\x00\x00\x00\x00{"w":{"dtype":"F32"}}' > "$TMP/st/bad2.safetensors"
expect 2 "bad2.safetensors.*\\bw\\b|bad2.safetensors" -- check --model "$TMP/st/bad2.safetensors"
expect 2 "unknown flag --recipie; did you mean 'recipe'" -- check --model "$FIXTURES/LlamaForCausalLM.json" --recipie x
expect 2 "unknown command 'chek'; did you mean 'check'" -- chek
expect 2 "--model is required" -- check
expect 2 "xz" -- check --model "$FIXTURES/../../../tests/fixtures/mapping/LlamaForCausalLM.json.xz"

# Help: usage on stdout, exit 0, whatever else is on the line.
expect 0 "^wring: checks llm-compressor recipes" -- --help
expect 0 "^wring: checks llm-compressor recipes" -- help
expect 0 "^wring check: what a recipe would do" -- help check
expect 0 "^wring check: what a recipe would do" -- check --help
expect 0 "^wring compress: calibrate" -- compress --help --model nowhere
expect 0 "^wring mappings:" -- mappings -h
expect 2 "no help for unknown command 'chek'; did you mean 'check'" -- help chek
expect 2 "--log-level: unknown level 'loud'" -- check --model "$FIXTURES/LlamaForCausalLM.json" --log-level=loud

# The complete report: SmolLM2-135M's 576 columns do not divide W4A16's group
# 128. The error a run stops at comes first, with fixes that pass, and the rest
# is computed past it (llm-compressor resolves 30 AWQ mappings once fixed).
SMOLLM2="$(dirname "$(dirname "$LLAMA3_CONFIG")")/SmolLM2-135M/config.json"
expect 1 "error \(a run stops here\): ValueError: The following layers have weight column counts not divisible" -- check --config "$SMOLLM2"
expect 1 "Or use .group_size: 64." -- check --config "$SMOLLM2"
expect 1 "After adding the 180 indivisible layers to QuantizationModifier #2's .ignore., AWQ would resolve 30 mappings" -- check --config "$SMOLLM2"
expect 1 '"stops_run": true' -- check --config "$SMOLLM2" --json
# -v / --log-level=debug: the list the "Set logging to DEBUG" warning means.
expect 1 'DEBUG Skipping model.layers.29.self_attn.v_proj for mapping re:\.\*v_proj\$ because incompatible' -- check --config "$SMOLLM2" -v
expect 1 "INFO No AWQModifier.mappings provided" -- check --config "$SMOLLM2" --log-level=info
cases=$((cases + 1))
if "$WRING" check --config "$SMOLLM2" --log-level=error | grep -q '^warning:'; then
  echo "FAIL: --log-level=error still prints warnings"
  failures=$((failures + 1))
fi

# --json answers in JSON for every exit status, unusable input included.
for args in "check --model $TMP/missing.txt" "check --model $FIXTURES/LlamaForCausalLM.json --recipie x" \
            "check --config $SMOLLM2" "check --model $FIXTURES/LlamaForCausalLM.json"; do
  cases=$((cases + 1))
  # shellcheck disable=SC2086
  json="$("$WRING" $args --json 2>/dev/null)"
  status=$?
  if ! python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["verdict"]["exit_code"] == int(sys.argv[2]), r["verdict"]' "$json" "$status" 2>/dev/null; then
    echo "FAIL: wring $args --json (exit $status) did not print a JSON report with that exit_code"
    failures=$((failures + 1))
  fi
done

# Recipe shapes llm-compressor accepts and then runs nothing from: exit 1
# (not unusable input), with the stage wrapper as the fix.
r=$(recipe toplevel.yaml 'QuantizationModifier:
  scheme: W4A16
  targets: [Linear]
  ignore: [lm_head]')
expect 1 "silently skips QuantizationModifier \(line 1\)" -- check --model "$FIXTURES/LlamaForCausalLM.json" --recipe "$r"
expect 1 "quant_stage:" -- check --model "$FIXTURES/LlamaForCausalLM.json" --recipe "$r"
r=$(recipe stage_modifiers.yaml 'stage:
  modifiers:
    QuantizationModifier: {scheme: W4A16, targets: [Linear]}')
expect 1 "'stage' does not end in '_stage'" -- check --model "$FIXTURES/LlamaForCausalLM.json" --recipe "$r"
r=$(recipe offload.yaml 'quant_stage:
  quant_modifiers:
    GPTQModifier: {scheme: W4A16, targets: [Linear], offload_hessians: true}')
expect 2 "llm-compressor 0.14 removed it" -- check --model "$FIXTURES/LlamaForCausalLM.json" --recipe "$r"
r=$(recipe loose.yaml 'quant_stage:
  quant_modifiers:
    QuantizationModifier: {scheme: W8A8, targets: [Linear], ignore: [lm_head, "re:model.layers.1.*"]}')
expect 0 "also matches 70 Linear modules its dots do not spell.*model.layers.10.self_attn.q_proj" -- check --config "$LLAMA3_CONFIG" --recipe "$r"

# llm-compressor's own recipes (a sample of its tests, tests/fixtures/recipes):
# every one parses and gets llm-compressor's verdict; what compress does not
# run is named.
UPSTREAM_RECIPES="$(dirname "$FIXTURES")/recipes/llm-compressor"
while read -r file want; do
  expect "$want" "^Verdict: " -- check --config "$LLAMA3_CONFIG" --recipe "$UPSTREAM_RECIPES/$file"
done < "$UPSTREAM_RECIPES/expected.txt"
expect 0 "wring compress. does not run SparseGPTModifier" -- check --config "$LLAMA3_CONFIG" --recipe "$UPSTREAM_RECIPES/sparse_24_fp8.yaml"

# wring compress: the demo, a real run, and refusals before any weight loads.
expect 0 "Wrote .*demo-out" -- compress --demo "$TMP/demo-out" --quiet
cases=$((cases + 1))
if ! grep -q '"quant_method": "compressed-tensors"' "$TMP/demo-out/config.json" ||
   ! [ -s "$TMP/demo-out/model.safetensors" ] || ! [ -s "$TMP/demo-out/wring_quality.json" ]; then
  echo "FAIL: the demo checkpoint lacks quantization_config, weights or the quality report"
  failures=$((failures + 1))
fi
expect 2 "never overwrites" -- compress --demo "$TMP/demo-out" --quiet
expect 0 "perplexity: original [0-9.]+, compressed" -- compress --model "$TINY_LLAMA" \
  --recipe "$ONESHOT/recipes/w8a8.yaml" --dataset "$ONESHOT/calibration.jsonl" \
  --output "$TMP/w8a8" --num-samples 4 --eval-samples 2 --seq-len 16 --quiet
# Data-parallel: two workers (Gloo over 127.0.0.1) write what one process
# wrote above, and say so on rank 0 only; errors name the rank.
expect 0 "perplexity: original [0-9.]+, compressed" -- compress --nproc 2 --model "$TINY_LLAMA" \
  --recipe "$ONESHOT/recipes/w8a8.yaml" --dataset "$ONESHOT/calibration.jsonl" \
  --output "$TMP/w8a8-nproc2" --num-samples 4 --eval-samples 2 --seq-len 16 --quiet
cases=$((cases + 1))
if ! cmp -s "$TMP/w8a8/model.safetensors" "$TMP/w8a8-nproc2/model.safetensors" ||
   ! cmp -s "$TMP/w8a8/config.json" "$TMP/w8a8-nproc2/config.json"; then
  echo "FAIL: --nproc 2 wrote another checkpoint than one process"
  failures=$((failures + 1))
fi
expect 2 "rank [01]: error: --num-samples: 1 calibration samples for 2 workers" -- compress \
  --nproc 2 --model "$TINY_LLAMA" --recipe "$ONESHOT/recipes/w8a8.yaml" \
  --dataset "$ONESHOT/calibration.jsonl" --output "$TMP/never" --num-samples 1 --quiet
expect 2 "--nproc -2: give the number of workers" -- compress --nproc=-2 --demo "$TMP/never"
r=$(recipe group96.yaml 'quant_stage:
  quant_modifiers:
    QuantizationModifier:
      config_groups:
        g: {targets: [Linear], weights: {num_bits: 4, strategy: group, group_size: 96}}')
expect 1 "refusing to compress" -- compress --model "$TINY_LLAMA" --recipe "$r" \
  --dataset "$ONESHOT/calibration.jsonl" --output "$TMP/never" --quiet
r=$(recipe sq_fp8.yaml 'quant_stage:
  quant_modifiers:
    SmoothQuantModifier: {smoothing_strength: 0.8}
    QuantizationModifier: {scheme: FP8, targets: [Linear], ignore: [lm_head]}')
expect 2 "SmoothQuantModifier with a static input_activations scheme" -- compress --model "$TINY_LLAMA" \
  --recipe "$r" --dataset "$ONESHOT/calibration.jsonl" --output "$TMP/never" --quiet
expect 2 "--dataset" -- compress --model "$TINY_LLAMA" --recipe "$ONESHOT/recipes/w4a16.yaml" \
  --output "$TMP/never"
printf '{"input_ids": [1, 2, 3]}\n{"input_ids": [1, "x"]}\n' > "$TMP/calib.jsonl"
expect 2 "calib.jsonl:2: field input_ids" -- compress --model "$TINY_LLAMA" \
  --recipe "$ONESHOT/recipes/w4a16.yaml" --dataset "$TMP/calib.jsonl" --output "$TMP/never"
printf '{"input_ids": [1, 2, 3000]}\n' > "$TMP/oov.jsonl"
expect 2 "3000" -- compress --model "$TINY_LLAMA" --recipe "$ONESHOT/recipes/w4a16.yaml" \
  --dataset "$TMP/oov.jsonl" --output "$TMP/never"
expect 2 "device cuda" -- compress --model "$TINY_LLAMA" --recipe "$ONESHOT/recipes/w4a16.yaml" \
  --dataset "$ONESHOT/calibration.jsonl" --output "$TMP/never" --device cuda
if [ -e "$TMP/never" ] || [ -e "$TMP/never.wring-partial" ]; then
  echo "FAIL: a refused compress run left $TMP/never behind"
  failures=$((failures + 1))
fi
cases=$((cases + 1))

# OpenBLAS's kernels: on a CPU with AVX2 and FMA, the BLAS `wring compress`
# computes with (OPENBLAS_VERBOSE=2 prints it as it loads, once per start) is
# not a pre-AVX2 fallback; `check` starts once. Only where OpenBLAS is the
# BLAS and prints its core.
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
  check_starts="$(env -u OPENBLAS_CORETYPE OPENBLAS_VERBOSE=2 "$WRING" check --model "$FIXTURES/LlamaForCausalLM.json" 2>&1 >/dev/null | grep -c '^Core: ')"
  cores="$(env -u OPENBLAS_CORETYPE OPENBLAS_VERBOSE=2 "$WRING" compress --model "$TINY_LLAMA" \
    --recipe "$ONESHOT/recipes/w4a16.yaml" --output "$TMP/never" 2>&1 >/dev/null | sed -n 's/^Core: //p')"
  if [ -n "$cores" ]; then
    cases=$((cases + 1))
    last="$(tail -n 1 <<<"$cores")"
    if grep -Eqix 'prescott|core2|penryn|dunnington|nehalem|atom|sandybridge' <<<"$last"; then
      failures=$((failures + 1))
      echo "FAIL: wring computes with OpenBLAS's $last kernels on a CPU with AVX2 (loaded: $cores)"
      junit_cases+="<testcase name=\"openblas kernels\"><failure message=\"$last\"/></testcase>"
    elif [ "$(grep -c . <<<"$cores")" -gt 2 ]; then
      failures=$((failures + 1))
      echo "FAIL: wring compress started $(grep -c . <<<"$cores") times (at most twice: its kernels and threads are set once)"
      junit_cases+="<testcase name=\"openblas kernels\"><failure message=\"restarted more than once\"/></testcase>"
    elif [ "$check_starts" != 1 ]; then
      failures=$((failures + 1))
      echo "FAIL: wring check started $check_starts times (OpenBLAS loaded $check_starts times)"
      junit_cases+="<testcase name=\"openblas kernels\"><failure message=\"check started $check_starts times\"/></testcase>"
    else
      junit_cases+="<testcase name=\"openblas kernels\"/>"
    fi
  fi
fi

echo "cli_test: $((cases - failures)) passed, $failures failed"
# One JUnit case per check, so the test count reflects them.
if [ -n "${XML_OUTPUT_FILE:-}" ]; then
  printf '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites><testsuite name="cli_test" tests="%d" failures="%d" errors="0">%s</testsuite></testsuites>\n' \
    "$cases" "$failures" "$junit_cases" > "$XML_OUTPUT_FILE"
fi
[ "$failures" = 0 ]
