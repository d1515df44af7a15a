// The wasm module's reports are byte-identical to the native build's (the
// same validator_api.cc compiled with gcc) for every mapping fixture with the
// default recipe, for the example recipes, a config-only model, safetensors
// headers and unusable input.
//
//   node parity_test.js --native CHECK_TEXT --config CONFIG.json
//        --wasm JS WASM --fixtures F... --recipes R...
//        [--examples E...] [--configs C...]
//
// --examples: module dumps whose default check fails with several errors
// (tests/fixtures/check); --configs: more config.json files checked alone.
'use strict';
const childProcess = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const {loadValidator} = require('./load_validator.js');

function parseArgs(argv) {
  const args = {};
  let key = null;
  for (const a of argv) {
    if (a.startsWith('--')) {
      key = a.slice(2);
      args[key] = [];
    } else {
      args[key].push(a);
    }
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
const tmp = fs.mkdtempSync(path.join(process.env.TEST_TMPDIR || os.tmpdir(), 'parity-'));
let tmpCount = 0;

function tmpFile(text) {
  const file = path.join(tmp, `input-${tmpCount++}`);
  fs.writeFileSync(file, text);
  return file;
}

// Native report for inputs given as file paths ('' = empty string).
function native(mode, inputPath, configPath, recipePath) {
  return childProcess.execFileSync(args.native[0], [mode, inputPath, configPath, recipePath], {
    maxBuffer: 1 << 30,
    encoding: 'utf8',
  });
}

function read(p) {
  return p === '' ? '' : fs.readFileSync(p, 'utf8');
}

// A small Llama checkpoint's header: tensors F16 [4, 4], tiling the data.
function llamaHeader() {
  const header = {};
  let offset = 0;
  const add = (name) => {
    header[name] = {dtype: 'F16', shape: [4, 4], data_offsets: [offset, offset + 32]};
    offset += 32;
  };
  add('model.embed_tokens.weight');
  for (let i = 0; i < 2; i++) {
    for (const p of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) add(`model.layers.${i}.self_attn.${p}.weight`);
    for (const p of ['gate_proj', 'up_proj', 'down_proj']) add(`model.layers.${i}.mlp.${p}.weight`);
    add(`model.layers.${i}.input_layernorm.weight`);
    add(`model.layers.${i}.post_attention_layernorm.weight`);
  }
  add('model.norm.weight');
  add('lm_head.weight');
  const text = JSON.stringify(header);
  return {text, size: 8 + Buffer.byteLength(text) + offset};
}

async function main() {
  const wasm = await loadValidator(args.wasm);
  const config = args.config[0];
  const cases = [];
  for (const f of args.fixtures) cases.push({name: path.basename(f), mode: 'check', input: f, config: '', recipe: ''});
  const llama = args.fixtures.find((f) => path.basename(f) === 'LlamaForCausalLM.json');
  const qwenMoe = args.fixtures.find((f) => path.basename(f) === 'Qwen3MoeForCausalLM.fused.json');
  for (const r of args.recipes) {
    cases.push({name: `Llama + ${path.basename(r)}`, mode: 'check', input: llama, config: '', recipe: r});
    cases.push({name: `Qwen3Moe + ${path.basename(r)}`, mode: 'check', input: qwenMoe, config: '', recipe: r});
  }
  cases.push({name: 'config only', mode: 'check', input: '', config, recipe: ''});
  for (const e of args.examples || []) {
    cases.push({name: path.basename(e), mode: 'check', input: e, config: '', recipe: ''});
    for (const r of args.recipes) {
      cases.push({name: `${path.basename(e)} + ${path.basename(r)}`, mode: 'check', input: e, config: '', recipe: r});
    }
  }
  for (const c of args.configs || []) {
    cases.push({name: `config only: ${c}`, mode: 'check', input: '', config: c, recipe: ''});
  }
  const header = llamaHeader();
  cases.push({
    name: 'safetensors headers',
    mode: 'safetensors',
    input: tmpFile(JSON.stringify([{name: 'model.safetensors', header: header.text, size: header.size}])),
    config,
    recipe: '',
  });
  cases.push({name: 'malformed recipe', mode: 'check', input: llama, config: '', recipe: tmpFile('quant_stage: [\n')});
  cases.push({
    name: 'malformed safetensors header',
    mode: 'safetensors',
    input: tmpFile(JSON.stringify([{name: 'bad.safetensors', header: '{"w": ', size: 100}])),
    config,
    recipe: '',
  });

  let failed = 0;
  for (const c of cases) {
    const expected = native(c.mode, c.input, c.config, c.recipe);
    const fn = c.mode === 'check' ? wasm.check : wasm.checkSafetensors;
    const started = Date.now();
    const actual = fn(read(c.input), read(c.config), read(c.recipe));
    const ms = Date.now() - started;
    const exitCode = JSON.parse(expected).verdict.exit_code;
    if (actual === expected) {
      console.log(`ok   ${c.name} (exit_code ${exitCode}, ${expected.length} bytes, wasm ${ms} ms)`);
      continue;
    }
    failed++;
    let i = 0;
    while (i < actual.length && actual[i] === expected[i]) i++;
    console.log(`FAIL ${c.name}: wasm and native differ at byte ${i}:\n` +
                `  native: ${JSON.stringify(expected.slice(Math.max(0, i - 80), i + 80))}\n` +
                `  wasm:   ${JSON.stringify(actual.slice(Math.max(0, i - 80), i + 80))}`);
  }
  console.log(`${cases.length - failed} of ${cases.length} cases identical`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
