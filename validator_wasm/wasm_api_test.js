// Tests of the wasm module as JavaScript sees it: the API's shape, unusable
// input giving exit-code-2 reports (never an abort), the module working on
// afterwards, and the factory loading the way a Web Worker loads it.
//
//   node wasm_api_test.js --wasm JS WASM --fixture LlamaForCausalLM.json --config config.json
'use strict';
const assert = require('assert');
const fs = require('fs');
const vm = require('vm');
const {loadValidator, validatorJsPath} = require('./load_validator.js');

const argv = process.argv.slice(2);
const wasmPaths = argv.slice(argv.indexOf('--wasm') + 1).filter((a) => !a.startsWith('--'));
const fixture = fs.readFileSync(argv[argv.indexOf('--fixture') + 1], 'utf8');
const config = fs.readFileSync(argv[argv.indexOf('--config') + 1], 'utf8');

const tests = [];
function test(name, fn) {
  tests.push({name, fn});
}

function expectUnusable(json, fragment) {
  const report = JSON.parse(json);
  assert.strictEqual(report.verdict.would_run, false);
  assert.strictEqual(report.verdict.exit_code, 2);
  assert.strictEqual(report.diagnostics.length, 1);
  const d = report.diagnostics[0];
  assert.strictEqual(d.severity, 'error');
  assert.strictEqual(d.code, 'input');
  assert.ok(d.message.includes(fragment), `expected "${fragment}" in: ${d.message}`);
  assert.strictEqual(report.verdict.summary, d.message);
  assert.strictEqual(report.model, undefined);
}

function recipeIgnoring(pattern) {
  return 'quant_stage:\n  quant_modifiers:\n    QuantizationModifier:\n' +
      '      targets: ["Linear"]\n      scheme: W4A16\n' +
      `      ignore: [${JSON.stringify(pattern)}]\n`;
}

let m;

function expectStillWorks() {
  const report = JSON.parse(m.check(fixture, '', ''));
  assert.strictEqual(report.verdict.exit_code, 0, report.verdict.summary);
  assert.strictEqual(report.model.architecture, 'LlamaForCausalLM');
  assert.ok(report.targets.length > 200);
}

test('API shape', () => {
  for (const f of ['check', 'checkSafetensors', 'profileCheck', 'defaultRecipe', 'knownArchitectures', 'version']) {
    assert.strictEqual(typeof m[f], 'function', f);
  }
  assert.match(m.version(), /^\d+\.\d+\.\d+/);
  const archs = JSON.parse(m.knownArchitectures());
  assert.ok(Array.isArray(archs) && archs.includes('LlamaForCausalLM'), m.knownArchitectures());
  assert.match(m.defaultRecipe(), /AWQModifier/);
  // The default recipe given explicitly resolves the same targets.
  const implicit = JSON.parse(m.check(fixture, '', ''));
  const explicit = JSON.parse(m.check(fixture, '', m.defaultRecipe()));
  assert.strictEqual(implicit.recipe.is_default, true);
  assert.deepStrictEqual(explicit.targets, implicit.targets);
});

test('profileCheck times the same check', () => {
  const t = JSON.parse(m.profileCheck(fixture, '', ''));
  assert.strictEqual(t.exit_code, 0);
  assert.strictEqual(t.modules, JSON.parse(m.check(fixture, '', '')).model.num_modules);
  assert.ok(t.resolve_ms > 0 && t.total_ms >= t.resolve_ms, JSON.stringify(t));
  assert.strictEqual(JSON.parse(m.profileCheck('{', '', '')).exit_code, 2);
});

test('module list, config only, safetensors headers', () => {
  const list = JSON.parse(m.check('model.layers.0.mlp.down_proj\nmodel.layers.0.mlp.up_proj\n', '', ''));
  assert.strictEqual(list.model.source_kind, 'module-list');
  const fromConfig = JSON.parse(m.check('', config, ''));
  assert.strictEqual(fromConfig.model.source_kind, 'config');
  assert.strictEqual(fromConfig.verdict.exit_code, 0, fromConfig.verdict.summary);
  const header = JSON.stringify({'lm_head.weight': {dtype: 'BF16', shape: [2, 2], data_offsets: [0, 8]}});
  const st = JSON.parse(m.checkSafetensors(
      JSON.stringify([{name: 'model.safetensors', header, size: 8 + header.length + 8}]), config, ''));
  assert.strictEqual(st.model.source_kind, 'safetensors');
});

test('malformed YAML recipe', () => {
  expectUnusable(m.check(fixture, '', 'quant_stage:\n  quant_modifiers: [\n'), 'recipe:');
  expectStillWorks();
});

test('malformed JSON model and config', () => {
  expectUnusable(m.check('{"modules": [', '', ''), 'model');
  expectUnusable(m.check(fixture, '{"architectures": ', ''), 'config.json');
  expectStillWorks();
});

test('invalid regex', () => {
  expectUnusable(m.check(fixture, '', recipeIgnoring('re:model.layers.(0')), 're:model.layers.(0');
  expectStillWorks();
});

test('Python-only regex', () => {
  expectUnusable(m.check(fixture, '', recipeIgnoring('re:.*(?<!mlp)\\.down_proj$')), '(?<!');
  expectStillWorks();
});

test('malformed safetensors headers', () => {
  expectUnusable(m.checkSafetensors('not json', config, ''), 'safetensors headers');
  expectUnusable(m.checkSafetensors(JSON.stringify([{name: 'bad.safetensors', header: '{"w": {', size: 64}]),
                                    config, ''), 'bad.safetensors');
  // Offsets past the end of the file.
  const header = JSON.stringify({'w': {dtype: 'F32', shape: [1000], data_offsets: [0, 4000]}});
  expectUnusable(m.checkSafetensors(JSON.stringify([{name: 'short.safetensors', header, size: 100}]),
                                    config, ''), 'short.safetensors');
  expectStillWorks();
});

test('no model, unknown architecture', () => {
  expectUnusable(m.check('', '', ''), 'no model given');
  expectUnusable(m.check('', '{"architectures": ["NoSuchForCausalLM"]}', ''), 'LlamaForCausalLM');
  expectStillWorks();
});

test('wrong argument count throws a JS error, module keeps working', () => {
  assert.throws(() => m.check('only one argument'));
  expectStillWorks();
});

test('loads as a Web Worker would (importScripts, global factory)', async () => {
  const source = fs.readFileSync(validatorJsPath(wasmPaths), 'utf8');
  const wasmFile = wasmPaths.find((p) => p.endsWith('.wasm'));
  const context = vm.createContext({
    importScripts() {},
    self: {location: {href: 'https://example.invalid/worker.js'}},
    console,
    WebAssembly,
    TextDecoder,
    setTimeout,
    clearTimeout,
    Promise,
  });
  vm.runInContext(source, context, {filename: 'wring_validator.js'});
  assert.strictEqual(typeof context.createWringValidator, 'function');
  const worker = await context.createWringValidator({wasmBinary: fs.readFileSync(wasmFile)});
  const report = JSON.parse(worker.check(fixture, '', ''));
  assert.strictEqual(report.verdict.exit_code, 0);
});

async function main() {
  m = await loadValidator(wasmPaths);
  let failed = 0;
  for (const t of tests) {
    try {
      await t.fn();
      console.log(`ok   ${t.name}`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${t.name}\n${e.stack}`);
    }
  }
  console.log(`${tests.length - failed} of ${tests.length} passed`);
  process.exit(failed === 0 ? 0 : 1);
}

main();
