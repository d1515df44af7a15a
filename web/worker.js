// The page's Web Worker: reads the dropped files, runs the WebAssembly
// validator and summarizes its report, so that neither a 100,000-module
// model nor a 20 MB report ever blocks the page.
//
// Messages in:  {type:'check', id, config, model, safetensors, recipe}
//                 (config/model/recipe: {file} or {text} or null; safetensors: [File])
//               {type:'list', id, listId, offset, limit}
// Messages out: {type:'ready', version, defaultRecipe, architectures}
//               {type:'fatal', message}
//               {type:'progress', id, phase, bytesRead, bytesTotal, filesDone, filesTotal, file}
//               {type:'result', id, view, report (Blob of the JSON), timings}
//               {type:'list', id, items, total}
'use strict';

importScripts('summarize.js', 'wring_validator.js');

const PROGRESS_INTERVAL_MS = 50;
// A safetensors header is JSON for every tensor name and shape; even a
// 100,000-tensor checkpoint's header is a few MB. Larger is not a header.
const MAX_SAFETENSORS_HEADER_BYTES = 256 * 1024 * 1024;

let validator = null;
let lastStore = null;

function inputErrorReport(message) {
  return JSON.stringify({
    wring_version: validator ? validator.version() : '',
    verdict: { would_run: false, exit_code: 2, summary: message },
    diagnostics: [{ severity: 'error', code: 'input', message, explanation: '', fix: '' }],
  });
}

class InputError extends Error {}

// Counts bytes as files are read and reports them at most every
// PROGRESS_INTERVAL_MS.
class Progress {
  constructor(id, files, bytesTotal) {
    this.id = id;
    this.filesTotal = files;
    this.bytesTotal = bytesTotal;
    this.filesDone = 0;
    this.bytesRead = 0;
    this.file = '';
    this.lastPost = 0;
  }
  add(bytes, force) {
    this.bytesRead += bytes;
    const now = performance.now();
    if (force || now - this.lastPost >= PROGRESS_INTERVAL_MS) {
      this.lastPost = now;
      postMessage({
        type: 'progress', id: this.id, phase: 'read', file: this.file,
        bytesRead: this.bytesRead, bytesTotal: this.bytesTotal,
        filesDone: this.filesDone, filesTotal: this.filesTotal,
      });
    }
  }
  fileDone() {
    this.filesDone++;
    this.add(0, true);
  }
}

async function readText(file, progress) {
  progress.file = file.name;
  const reader = file.stream().getReader();
  const decoder = new TextDecoder('utf-8');
  const chunks = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(decoder.decode(value, { stream: true }));
    progress.add(value.byteLength);
  }
  chunks.push(decoder.decode());
  progress.fileDone();
  return chunks.join('');
}

// Only the header: the first 8 bytes are its length N (little-endian u64),
// the next N bytes its JSON. The tensor data after it is never touched.
async function readSafetensorsHeader(file, progress) {
  progress.file = file.name;
  if (file.size < 8) {
    throw new InputError(`${file.name}: ${file.size} bytes is too short for a safetensors file (it starts with an 8-byte header length)`);
  }
  const lengthBytes = new DataView(await file.slice(0, 8).arrayBuffer());
  const length = lengthBytes.getBigUint64(0, true);
  progress.add(8);
  if (length > BigInt(file.size - 8) || length > BigInt(MAX_SAFETENSORS_HEADER_BYTES)) {
    throw new InputError(`${file.name}: header length ${length} does not fit the file (${file.size} bytes): ` +
      'not a safetensors file, or a truncated download');
  }
  const n = Number(length);
  const header = await file.slice(8, 8 + n).text();
  progress.add(n);
  progress.fileDone();
  return { name: file.name, header, size: file.size };
}

async function readInput(input, progress) {
  if (!input) return '';
  if (input.file) return readText(input.file, progress);
  return input.text || '';
}

function bytesToRead(msg) {
  let total = 0;
  for (const input of [msg.config, msg.model, msg.recipe]) if (input && input.file) total += input.file.size;
  // Headers are small; their exact size is known only once read.
  return total;
}

async function check(msg) {
  const files = [msg.config, msg.model, msg.recipe].filter((i) => i && i.file).length + msg.safetensors.length;
  const progress = new Progress(msg.id, files, bytesToRead(msg));
  const t0 = performance.now();
  let raw;
  let checkMs = 0;
  try {
    const config = await readInput(msg.config, progress);
    const recipe = await readInput(msg.recipe, progress);
    let model = '';
    const headers = [];
    if (msg.safetensors.length) {
      for (const file of msg.safetensors) headers.push(await readSafetensorsHeader(file, progress));
    } else {
      model = await readInput(msg.model, progress);
    }
    postMessage({ type: 'progress', id: msg.id, phase: 'check', filesDone: files, filesTotal: files,
      bytesRead: progress.bytesRead, bytesTotal: progress.bytesTotal });
    const t1 = performance.now();
    raw = headers.length
      ? validator.checkSafetensors(JSON.stringify(headers), config, recipe)
      : validator.check(model, config, recipe);
    checkMs = performance.now() - t1;
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    raw = inputErrorReport(e.message);
  }
  const readMs = performance.now() - t0 - checkMs;
  postMessage({ type: 'progress', id: msg.id, phase: 'summarize' });
  const t2 = performance.now();
  let report;
  try {
    report = JSON.parse(raw);
  } catch (e) {
    raw = inputErrorReport(`the validator returned a report that is not JSON (${e.message})`);
    report = JSON.parse(raw);
  }
  const { view, store } = WringSummary.summarize(report);
  lastStore = store;
  const summarizeMs = performance.now() - t2;
  postMessage({
    type: 'result', id: msg.id, view,
    report: new Blob([raw], { type: 'application/json' }),
    reportBytes: raw.length,
    timings: { read_ms: readMs, check_ms: checkMs, summarize_ms: summarizeMs },
  });
}

self.onmessage = (event) => {
  const msg = event.data;
  if (msg.type === 'check') {
    check(msg).catch((e) => postMessage({ type: 'result', id: msg.id, error: String(e && e.stack || e) }));
  } else if (msg.type === 'profile') {
    // Benchmarks: the validator's own breakdown of one check (read model,
    // resolve, write report), without the page's summary work.
    readInput(msg.model, new Progress(msg.id, 1, 0))
      .then((model) => readInput(msg.config, new Progress(msg.id, 1, 0))
        .then((config) => postMessage({
          type: 'profile', id: msg.id,
          timings: JSON.parse(validator.profileCheck(model, config, msg.recipeText || '')),
        })))
      .catch((e) => postMessage({ type: 'profile', id: msg.id, error: String(e && e.stack || e) }));
  } else if (msg.type === 'list') {
    const page = lastStore ? lastStore.page(msg.listId, msg.offset, msg.limit) : { items: [], total: 0 };
    postMessage({ type: 'list', id: msg.id, items: page.items, total: page.total });
  }
};

createWringValidator().then(
  (module) => {
    validator = module;
    postMessage({
      type: 'ready',
      version: module.version(),
      defaultRecipe: module.defaultRecipe(),
      architectures: JSON.parse(module.knownArchitectures()),
    });
  },
  (e) => postMessage({ type: 'fatal', message: `could not load the validator: ${e && e.message || e}` }),
);
