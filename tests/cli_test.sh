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
r=$(recipe gptq.yaml 'quant_stage:
  quant_modifiers:
    GPTQModifier: {scheme: W4A16, targets: [Linear], ignore: [lm_head]}')
expect 2 "GPTQModifier is not implemented by .wring compress." -- compress --model "$TINY_LLAMA" \
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

echo "cli_test: $((cases - failures)) passed, $failures failed"
# One JUnit case per check, so the test count reflects them.
if [ -n "${XML_OUTPUT_FILE:-}" ]; then
  printf '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites><testsuite name="cli_test" tests="%d" failures="%d" errors="0">%s</testsuite></testsuites>\n' \
    "$cases" "$failures" "$junit_cases" > "$XML_OUTPUT_FILE"
fi
[ "$failures" = 0 ]
