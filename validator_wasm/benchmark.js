// Size and speed of the wasm module: raw and gzip sizes of the .js and
// .wasm, start-up time, and check() on a large model (the linearized
// Qwen3-Next fixture) next to the same code built natively.
//
//   bazel run //validator_wasm:benchmark
'use strict';
const childProcess = require('child_process');
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const {performance} = require('perf_hooks');

const argv = process.argv.slice(2);
const nativeTool = argv[argv.indexOf('--native') + 1];
const fixturePath = argv[argv.indexOf('--fixture') + 1];
const wasmPaths = argv.slice(argv.indexOf('--wasm') + 1).filter((a) => !a.startsWith('--'));
const runs = 3;

function kb(n) {
  return `${(n / 1024).toFixed(1)} KiB`;
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main() {
  let total = 0;
  let totalGzip = 0;
  for (const p of wasmPaths) {
    const bytes = fs.readFileSync(p);
    const gzip = zlib.gzipSync(bytes, {level: 9}).length;
    total += bytes.length;
    totalGzip += gzip;
    console.log(`${path.basename(p).padEnd(22)} ${kb(bytes.length).padStart(12)}  gzip ${kb(gzip).padStart(11)}`);
  }
  console.log(`${'total'.padEnd(22)} ${kb(total).padStart(12)}  gzip ${kb(totalGzip).padStart(11)}`);

  let t = performance.now();
  const m = await require(path.resolve(wasmPaths.find((p) => p.endsWith('.js'))))();
  console.log(`module start-up: ${(performance.now() - t).toFixed(0)} ms`);

  const text = fs.readFileSync(fixturePath, 'utf8');
  const wasmTimes = [];
  let report;
  for (let i = 0; i < runs; i++) {
    t = performance.now();
    report = m.check(text, '', '');
    wasmTimes.push(performance.now() - t);
  }
  const parsed = JSON.parse(report);
  console.log(`${path.basename(fixturePath)}: ${parsed.model.num_modules} modules, ` +
              `exit_code ${parsed.verdict.exit_code}, report ${kb(report.length)}`);
  console.log(`wasm check():   median ${median(wasmTimes).toFixed(0)} ms of ${runs}`);

  const nativeTimes = [];
  for (let i = 0; i < runs; i++) {
    t = performance.now();
    childProcess.execFileSync(nativeTool, ['check', fixturePath, '', ''], {maxBuffer: 1 << 30});
    nativeTimes.push(performance.now() - t);
  }
  console.log(`native (process incl. start-up): median ${median(nativeTimes).toFixed(0)} ms of ${runs}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
