// The page: collects the inputs, hands them to the worker (worker.js) and
// shows its progress and report. The DOM rendering lives in render.js.
import { renderReport, renderVerdict } from './render.js';

const $ = (id) => document.getElementById(id);

const state = {
  config: null,       // {file} | null
  model: [],          // File[]: one structure file, or .safetensors files
  recipeFile: null,   // File | null (its text goes into the textarea)
  recipeLoading: Promise.resolve(),
  defaultRecipe: '',
  reportBlob: null,
  nextId: 1,
  pending: new Map(),  // request id -> resolve
};

const worker = new Worker('worker.js');

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = -1;
  do {
    v /= 1024;
    u++;
  } while (v >= 1024 && u < units.length - 1);
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

function isSafetensors(file) {
  return /\.safetensors$/i.test(file.name);
}

function showChosen() {
  $('chosen-config').textContent = state.config ? `${state.config.name} (${formatBytes(state.config.size)})` : 'none';
  if (state.model.length === 0) {
    $('chosen-model').textContent = 'none: architecture from config.json';
  } else if (state.model.every(isSafetensors)) {
    const total = state.model.reduce((a, f) => a + f.size, 0);
    $('chosen-model').textContent = `${state.model.length} safetensors file(s), ${formatBytes(total)} ` +
      `(headers only will be read): ${state.model.map((f) => f.name).join(', ')}`;
  } else {
    $('chosen-model').textContent = state.model.map((f) => `${f.name} (${formatBytes(f.size)})`).join(', ');
  }
}

function setModelFiles(files) {
  const list = Array.from(files);
  const weights = list.filter(isSafetensors);
  // Several safetensors shards make one model; any other structure file
  // stands alone.
  state.model = weights.length ? weights : list.slice(-1);
  showChosen();
}

function setRecipeFile(file) {
  state.recipeFile = file;
  state.recipeLoading = file.text().then((text) => {
    if (state.recipeFile === file) $('recipe-text').value = text;
  });
}

// Files dropped anywhere go where their names say.
function routeFiles(files, slot) {
  const list = Array.from(files);
  if (slot === 'config') {
    if (list[0]) state.config = list[0];
  } else if (slot === 'recipe') {
    if (list[0]) setRecipeFile(list[0]);
  } else if (slot === 'model') {
    setModelFiles(list);
  } else {
    const model = [];
    for (const f of list) {
      if (/(^|[\\/])config\.json$/i.test(f.name)) state.config = f;
      else if (/\.(ya?ml)$/i.test(f.name) || /recipe/i.test(f.name)) setRecipeFile(f);
      else model.push(f);
    }
    if (model.length) setModelFiles(model);
  }
  showChosen();
}

function request(message) {
  const id = state.nextId++;
  return new Promise((resolve) => {
    state.pending.set(id, resolve);
    worker.postMessage(Object.assign({ id }, message));
  });
}

// Pages of a long module list kept in the worker (see render.js).
export function fetchList(listId, offset, limit) {
  return request({ type: 'list', listId, offset, limit });
}

function showProgress(msg) {
  const bar = $('progress-bar');
  const text = $('progress-text');
  $('progress').hidden = false;
  if (msg.phase === 'read') {
    if (msg.bytesTotal > 0) {
      bar.max = msg.bytesTotal;
      bar.value = Math.min(msg.bytesRead, msg.bytesTotal);
    } else {
      bar.removeAttribute('value');
    }
    text.textContent = `Reading ${msg.file}: ${formatBytes(msg.bytesRead)}` +
      (msg.bytesTotal ? ` of ${formatBytes(msg.bytesTotal)}` : '') +
      ` · ${msg.filesDone}/${msg.filesTotal} files`;
  } else if (msg.phase === 'check') {
    bar.removeAttribute('value');
    text.textContent = `Read ${msg.filesDone}/${msg.filesTotal} files (${formatBytes(msg.bytesRead)}); resolving…`;
  } else {
    bar.removeAttribute('value');
    text.textContent = 'Preparing the report…';
  }
}

worker.onmessage = (event) => {
  const msg = event.data;
  if (msg.type === 'ready') {
    state.defaultRecipe = msg.defaultRecipe;
    $('engine-status').textContent = `Validator ready (wring ${msg.version}).`;
    $('engine-status').dataset.ready = 'true';
    $('version').textContent = `wring ${msg.version}`;
    $('architectures').textContent = `Architectures buildable from config.json alone: ${msg.architectures.join(', ')}.`;
    $('check').disabled = false;
    $('use-default-recipe').disabled = false;
  } else if (msg.type === 'fatal') {
    $('engine-status').textContent = msg.message;
    $('engine-status').classList.add('error');
  } else if (msg.type === 'progress') {
    showProgress(msg);
  } else {
    const resolve = state.pending.get(msg.id);
    state.pending.delete(msg.id);
    if (resolve) resolve(msg);
  }
};
worker.onerror = (event) => {
  $('engine-status').textContent = `The validator worker failed: ${event.message}`;
  $('engine-status').classList.add('error');
};

async function runCheck() {
  $('check').disabled = true;
  $('result').hidden = true;
  document.body.dataset.state = 'checking';
  await state.recipeLoading;
  const recipeText = $('recipe-text').value;
  const model = state.model.length && !state.model.every(isSafetensors) ? { file: state.model[0] } : null;
  const result = await request({
    type: 'check',
    config: state.config ? { file: state.config } : null,
    model,
    safetensors: state.model.filter(isSafetensors),
    recipe: recipeText.trim() ? { text: recipeText } : null,
  });
  $('progress').hidden = true;
  $('check').disabled = false;
  if (result.error) {
    $('engine-status').textContent = `The check failed inside the validator: ${result.error}`;
    $('engine-status').classList.add('error');
    document.body.dataset.state = 'failed';
    return;
  }
  state.reportBlob = result.report;
  renderVerdict($('verdict'), result.view);
  const t = result.timings;
  $('timings').textContent = `read ${t.read_ms.toFixed(0)} ms · check ${t.check_ms.toFixed(1)} ms · ` +
    `summary ${t.summarize_ms.toFixed(0)} ms · report ${formatBytes(result.reportBytes)}`;
  $('timings').dataset.checkMs = t.check_ms.toFixed(3);
  renderReport($('report'), result.view, fetchList);
  $('result').hidden = false;
  document.body.dataset.state = 'done';
}

function download() {
  if (!state.reportBlob) return;
  const a = document.createElement('a');
  a.href = URL.createObjectURL(state.reportBlob);
  a.download = 'wring-report.json';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

function wireDropzone(zone) {
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    e.stopPropagation();
    zone.classList.remove('over');
    routeFiles(e.dataTransfer.files, zone.dataset.slot);
  });
}

document.querySelectorAll('.dropzone').forEach(wireDropzone);
document.addEventListener('dragover', (e) => e.preventDefault());
document.addEventListener('drop', (e) => {
  e.preventDefault();
  routeFiles(e.dataTransfer.files, null);
});
$('file-config').addEventListener('change', (e) => routeFiles(e.target.files, 'config'));
$('file-model').addEventListener('change', (e) => routeFiles(e.target.files, 'model'));
$('file-recipe').addEventListener('change', (e) => routeFiles(e.target.files, 'recipe'));
$('use-default-recipe').addEventListener('click', () => {
  state.recipeFile = null;
  $('recipe-text').value = state.defaultRecipe;
});
$('clear').addEventListener('click', () => {
  state.config = null;
  state.model = [];
  state.recipeFile = null;
  $('recipe-text').value = '';
  for (const id of ['file-config', 'file-model', 'file-recipe']) $(id).value = '';
  showChosen();
});
$('check').addEventListener('click', runCheck);
$('download').addEventListener('click', download);
showChosen();
