// Renders the worker's summary of a `wring check` report (see summarize.js)
// into the page. Long module lists stay in the worker and are fetched a page
// at a time when their section is opened.

const PAGE = 500;

const EXIT_MEANING = {
  0: 'exit code 0: the recipe would run',
  1: 'exit code 1: llm-compressor would fail',
  2: 'exit code 2: unusable input (wring could not read the model, config or recipe)',
};

const SKIP_REASON = {
  incompatible: 'the smooth layer’s output does not fit the balance layers’ input (e.g. v_proj → o_proj under ' +
    'grouped-query attention); llm-compressor skips the mapping',
  no_balance: 'no balance layer matched; llm-compressor skips the mapping',
  not_targeted: 'none of the balance layers is quantized by the recipe; llm-compressor skips the mapping',
};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function section(id, title, ...children) {
  return el('section', { id, class: 'panel' }, el('h2', { text: title }), ...children);
}

// A <details> whose body lists `count` module names fetched on first open.
function expandableList(summary, count, listId, fetchList, attrs) {
  const list = el('ol', { class: 'modules' });
  const details = el('details', attrs, el('summary', {}, summary), list);
  let loaded = 0;
  let loading = false;
  const more = el('button', { type: 'button', class: 'more' });
  const loadPage = async () => {
    if (loading) return;
    loading = true;
    const page = await fetchList(listId, loaded, PAGE);
    loading = false;
    const frag = document.createDocumentFragment();
    for (const item of page.items) frag.append(el('li', { text: item }));
    list.append(frag);
    loaded += page.items.length;
    more.remove();
    if (loaded < page.total) {
      more.textContent = `Show ${Math.min(PAGE, page.total - loaded)} more (${page.total - loaded} left)`;
      details.append(more);
    }
  };
  more.addEventListener('click', loadPage);
  details.addEventListener('toggle', () => {
    if (details.open && loaded === 0 && count > 0) loadPage();
  });
  return details;
}

export function renderVerdict(node, view) {
  const v = view.verdict;
  const kind = v.exit_code === 0 ? 'ok' : v.exit_code === 1 ? 'fail' : 'input';
  node.className = `verdict ${kind}`;
  node.dataset.exitCode = String(v.exit_code);
  node.replaceChildren(...[
    el('p', { class: 'headline', text: v.would_run ? 'The recipe would run.' : v.exit_code === 1
      ? 'llm-compressor would fail on this model.' : 'The input could not be checked.' }),
    el('p', { class: 'exit', text: EXIT_MEANING[v.exit_code] || `exit code ${v.exit_code}` }),
    el('p', { class: 'summary', text: v.summary }),
    view.reference
      ? el('p', { class: 'reference', text: `Answers follow llm-compressor ${view.reference.llmcompressor}`
        + ` (compressed-tensors ${view.reference.compressed_tensors}).` })
      : null,
  ].filter(Boolean));
}

const PHASE = {
  recipe: 'loading the recipe',
  initialize: 'on_initialize',
  calibration_start: 'on_calibration_start',
  run: 'during the run',
};

// The report lists errors in the order a llm-compressor run would meet them
// (the first one is where it stops), then warnings, then notes: keep it.
function renderDiagnostics(view) {
  if (!view.diagnostics.length) return null;
  return section('diagnostics', 'Diagnostics', view.diagnostics.map((d) => {
    const message = d.message || '';
    const long = message.length > 600;
    const where = [d.modifier, PHASE[d.phase]].filter(Boolean).join(', ');
    const assumes = d.assumes_fixed || [];
    return el('article', { class: `diagnostic ${d.severity}${d.stops_run ? ' stops-run' : ''}`, 'data-code': d.code },
      el('p', { class: 'head' }, el('span', { class: 'severity', text: d.severity }), ' ', el('code', { text: d.code }),
        d.stops_run ? el('span', { class: 'stops', text: ' a run stops here' }) : null,
        where ? el('span', { class: 'where', text: ` (${where})` }) : null),
      assumes.length
        ? el('p', { class: 'assumes' }, 'Computed past: ', assumes.map((c, i) => [i ? ', ' : '', el('code', { text: c })]),
          ' (llm-compressor only gets here once those are fixed as their fix says)')
        : null,
      long
        ? el('details', { class: 'message' }, el('summary', { text: `${message.slice(0, 400)}…` }), el('pre', { text: message }))
        : el('pre', { class: 'message', text: message }),
      d.explanation ? el('p', { class: 'explanation' }, el('strong', { text: 'Why: ' }), d.explanation) : null,
      d.fix ? el('div', { class: 'fix' }, el('strong', { text: 'Fix: ' }), el('pre', { text: d.fix })) : null);
  }));
}

function renderLayerTypes(types) {
  if (!types.length) return null;
  const kinds = Array.from(new Set(types));
  const strip = el('div', { class: 'layer-types' }, types.map((t, i) =>
    el('span', { class: `lt lt-${kinds.indexOf(t) % 6}`, title: `layer ${i}: ${t}`, text: String(i) })));
  const legend = el('p', { class: 'legend' }, kinds.map((k, i) =>
    el('span', { class: 'legend-item' }, el('span', { class: `swatch lt lt-${i % 6}` }), ` ${k} (${types.filter((t) => t === k).length})`)));
  return el('div', { id: 'layer-types' }, el('h3', { text: 'Layer types (config layer_types)' }), strip, legend);
}

function renderModel(view) {
  const m = view.model;
  if (!m) return null;
  const facts = [
    ['Architecture', m.architecture], ['model_type', m.model_type], ['Read from', m.source_kind],
    ['Modules', m.num_modules], ['Linear modules', m.num_linear],
  ];
  if (m.linearized_experts) facts.push(['Fused expert modules linearized', m.linearized_experts]);
  return section('model', 'Model',
    el('dl', { class: 'facts' }, facts.map(([k, v]) => [el('dt', { text: k }), el('dd', { text: String(v) })])),
    m.notes && m.notes.length
      ? el('div', { id: 'model-notes' }, el('h3', { text: 'What was inferred' }), el('ul', {}, m.notes.map((n) => el('li', { text: n }))))
      : null,
    renderLayerTypes(m.layer_types || []));
}

function renderRecipe(view) {
  const r = view.recipe;
  if (!r) return null;
  return section('recipe', 'Recipe',
    el('p', { text: `Source: ${r.source}` }),
    el('ol', {}, (r.modifiers || []).map((m) => el('li', {}, el('code', { text: m.type }), ` in stage ${m.stage}, group ${m.group}`))));
}

function renderAwq(view, fetchList) {
  const a = view.awq;
  if (!a) return null;
  const groups = a.groups.map((g) => expandableList(
    [el('span', { class: 'scope', title: g.prefix, text: g.scope || 'outside layers' }), ': ',
      el('span', { class: 'resolution', text: g.text }), el('span', { class: 'count', text: ` ×${g.count}` })],
    g.count, g.listId, fetchList, { class: 'mapping-group', 'data-mapping': g.mapping }));
  const skipped = a.skipped.map((g) => expandableList(
    [el('span', { class: 'scope', title: g.prefix, text: g.scope || 'outside layers' }), ': ',
      el('code', { text: g.text }), ` skipped, ${g.reason}`, el('span', { class: 'count', text: ` ×${g.count}` })],
    g.count, g.listId, fetchList, { class: 'skip-group', 'data-reason': g.reason }));
  const reasons = Array.from(new Set(a.skipped.map((g) => g.reason)));
  return section('awq', 'AWQ mappings',
    el('p', {}, `Mappings from: ${a.source}`, a.list_name ? ` (${a.list_name})` : '',
      `; ${a.resolvedCount} resolved, ${a.skippedCount} skipped.`),
    el('details', { class: 'mapping-list' }, el('summary', { text: `The ${a.mappings.length} mapping(s)` }),
      el('ul', {}, a.mappings.map((m) => el('li', {}, el('code', { text: m.smooth_layer }), ' → ',
        m.balance_layers.map((b, i) => [i ? ', ' : '', el('code', { text: b })]),
        m.activation_hook_target ? ` (hook ${m.activation_hook_target})` : '')))),
    a.error ? el('div', { class: 'awq-error' }, el('strong', { text: 'llm-compressor would raise: ' }),
      el('pre', { text: a.error.length > 1200 ? `${a.error.slice(0, 1200)}…` : a.error })) : null,
    groups.length ? el('h3', { text: 'Resolved, grouped over layers (open a line for every module)' }) : null,
    el('div', { id: 'awq-resolved' }, groups),
    skipped.length ? el('h3', { text: 'Skipped' }) : null,
    el('div', { id: 'awq-skipped' }, skipped),
    reasons.length ? el('ul', { class: 'hint' }, reasons.map((r) => el('li', {}, el('code', { text: r }), `: ${SKIP_REASON[r] || r}`))) : null,
    a.log.length ? el('details', {}, el('summary', { text: 'llm-compressor log' }), el('pre', { text: a.log.join('\n') })) : null);
}

function cellState(cell) {
  const states = Object.keys(cell);
  return states.length === 1 ? states[0] : 'mixed';
}

function cellTitle(stack, layer, kind, cell, schemes) {
  const parts = Object.entries(cell).map(([s, n]) =>
    `${n} ${s === 'none' ? 'not quantized' : (schemes[s] && schemes[s].summary) || `scheme ${s}`}`);
  return `${stack}.${layer}.${kind}: ${parts.join(', ')}`;
}

function renderGrid(grid, schemes, layerTypes) {
  const head = el('tr', {}, el('th', { text: 'layer' }), grid.withLayerTypes ? el('th', { text: 'type' }) : null,
    grid.kinds.map((k) => el('th', { class: 'kind' }, el('span', { text: k }))));
  const body = grid.rows.map((row) => el('tr', {},
    el('th', { text: String(row.layer) }),
    grid.withLayerTypes ? el('td', { class: 'ltype', text: layerTypes[row.layer] }) : null,
    row.cells.map((cell, i) => {
      if (!cell) return el('td', { class: 'cell absent', title: `${grid.stack}.${row.layer}.${grid.kinds[i]}: absent` });
      const s = cellState(cell);
      const cls = s === 'none' ? 'none' : s === 'mixed' ? 'mixed' : `scheme-${s % 6}`;
      const total = Object.values(cell).reduce((a, b) => a + b, 0);
      return el('td', { class: `cell ${cls}`, title: cellTitle(grid.stack, row.layer, grid.kinds[i], cell, schemes),
        text: total > 1 ? String(total) : '' });
    })));
  return el('div', { class: 'grid-wrap' }, el('h3', {}, el('code', { text: grid.stack })),
    el('table', { class: 'coverage', 'data-stack': grid.stack }, el('thead', {}, head), el('tbody', {}, body)));
}

function renderQuantization(view, fetchList) {
  const q = view.quantization;
  if (!q) return null;
  const cov = view.coverage;
  const legend = el('p', { class: 'legend' },
    q.schemes.map((s, i) => el('span', { class: 'legend-item' }, el('span', { class: `swatch scheme-${i % 6}` }),
      ` ${s.modifier}${s.group ? ` / ${s.group}` : ''}: ${s.summary}`)),
    el('span', { class: 'legend-item' }, el('span', { class: 'swatch none' }), ' Linear, not quantized (ignored or untargeted)'),
    el('span', { class: 'legend-item' }, el('span', { class: 'swatch mixed' }), ' mixed'),
    el('span', { class: 'legend-item' }, el('span', { class: 'swatch absent' }), ' absent in this layer'));
  const outside = cov.outside.length ? el('div', { id: 'outside-layers' }, el('h3', { text: 'Outside the layer stacks' }),
    el('ul', {}, cov.outside.slice(0, 200).map((o) => el('li', {}, el('span', { class: `swatch ${o.state === 'none' ? 'none' : `scheme-${o.state % 6}`}` }),
      ' ', el('code', { text: o.name }), o.state === 'none' ? ' not quantized' : ` ${q.schemes[o.state].summary}`)))) : null;
  return section('quantization', 'Quantization coverage',
    legend,
    cov.grids.map((g) => renderGrid(g, q.schemes, (view.model && view.model.layer_types) || [])),
    outside,
    el('h3', { text: 'Schemes' }),
    q.schemes.map((s) => expandableList(`${s.modifier}${s.group ? ` / ${s.group}` : ''}: ${s.summary}: ${s.count} modules`,
      s.count, s.listId, fetchList, { class: 'scheme' })),
    expandableList(`Linear modules not quantized: ${q.unquantized.count}`, q.unquantized.count, q.unquantized.listId, fetchList,
      { class: 'unquantized' }),
    expandableList(`All targets (modules receiving a scheme): ${q.targets.count}`, q.targets.count, q.targets.listId, fetchList,
      { class: 'targets' }),
    q.kv_cache_modules.length ? el('p', {}, `KV-cache quantization on: ${q.kv_cache_modules.join(', ')}`) : null,
    q.unmatched_targets.length ? el('p', { class: 'warning' }, `Targets that matched nothing: ${q.unmatched_targets.join(', ')}`) : null);
}

function renderSpinQuant(view, fetchList) {
  const s = view.spinquant;
  if (!s) return null;
  const fields = s.fields.map((f) => expandableList(
    [el('code', { text: f.name }), ` (${f.patterns.join(', ')}): ${f.count} match${f.count === 1 ? '' : 'es'}`,
      f.count ? el('span', { class: 'hint', text: ` — ${f.compressed.join(', ')}${f.compressed.length < f.count ? ', …' : ''}` }) : null],
    f.count, f.listId, fetchList, { class: 'sq-field', 'data-field': f.name }));
  const norms = s.norms.map((n) => expandableList(
    [el('code', { text: n.norm }), ' → ', n.linears.join(', '), `: ${n.count} set${n.count === 1 ? '' : 's'}`,
      n.error ? el('span', { class: 'error-text', text: ` — ${n.error}` }) : null],
    n.count, n.listId, fetchList, { class: 'sq-norm' }));
  const body = [
    el('p', { text: s.requested ? 'The recipe has a SpinQuantModifier: these are the modules its mappings rotate.'
      : 'The recipe has no SpinQuantModifier; these are the matches it would have.' }),
    s.head_dim !== null ? el('p', { text: `head_dim: ${s.head_dim}` }) : null,
    el('h3', { text: 'Mapping fields' }), fields,
    el('h3', { text: 'Norm mappings' }), norms,
    s.log.length ? el('details', {}, el('summary', { text: 'log' }), el('pre', { text: s.log.join('\n') })) : null,
  ];
  if (s.requested) return section('spinquant', 'SpinQuant mappings', body);
  return el('section', { id: 'spinquant', class: 'panel' },
    el('details', {}, el('summary', {}, el('h2', { class: 'inline', text: 'SpinQuant mappings (not in this recipe)' })), body));
}

export function renderReport(node, view, fetchList) {
  node.replaceChildren(...[
    renderDiagnostics(view),
    renderModel(view),
    renderAwq(view, fetchList),
    renderQuantization(view, fetchList),
    renderSpinQuant(view, fetchList),
    renderRecipe(view),
  ].filter(Boolean));
}
