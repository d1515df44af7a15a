// Turns a `wring check` report (mapping/proto/report.proto, JSON form) into
// the compact view the page renders: resolutions grouped over layers, the
// coverage grid, and long module lists kept aside (fetched page by page), so
// a 100,000-module report never has to cross into the page or the DOM whole.
//
// A classic script (the worker loads it with importScripts); it defines
// self.WringSummary.
(function (global) {
  'use strict';

  // A path component that is a ModuleList index. (Hot: ~10^6 calls on a
  // large MoE report, hence no regex.)
  function isIndex(part) {
    if (part.length === 0) return false;
    for (let i = 0; i < part.length; i++) {
      const c = part.charCodeAt(i);
      if (c < 48 || c > 57) return false;
    }
    return true;
  }

  // "0-31", "0-2, 4-6, 8-10", "3, 7, …, 47 (step 4)".
  function formatIndices(values) {
    const v = Array.from(new Set(values)).sort((a, b) => a - b);
    if (v.length === 0) return '';
    if (v.length >= 4) {
      const step = v[1] - v[0];
      if (step > 1 && v.every((x, i) => i === 0 || x - v[i - 1] === step)) {
        return `${v[0]}, ${v[1]}, …, ${v[v.length - 1]} (step ${step})`;
      }
    }
    const runs = [];
    let start = v[0];
    let prev = v[0];
    for (let i = 1; i <= v.length; i++) {
      if (i < v.length && v[i] === prev + 1) {
        prev = v[i];
        continue;
      }
      runs.push(start === prev ? `${start}` : `${start}-${prev}`);
      if (i < v.length) start = prev = v[i];
    }
    return runs.join(', ');
  }

  // Positions of the numeric path components of `name` ("model.layers.3.x"
  // -> [2]) with their values.
  function numericComponents(parts) {
    const positions = [];
    for (let i = 0; i < parts.length; i++) if (isIndex(parts[i])) positions.push(i);
    return positions;
  }

  // Replaces, in `name`, each of the anchor's numeric components that `name`
  // shares (same path prefix) with '*', and drops the anchor's prefix up to
  // its first numeric component: "model.layers.3.self_attn.q_proj" against
  // anchor "model.layers.3.input_layernorm" -> "self_attn.q_proj".
  function relativeTemplate(name, anchorParts, anchorPositions) {
    const parts = name.split('.');
    let shared = 0;
    while (shared < parts.length && shared < anchorParts.length && parts[shared] === anchorParts[shared]) shared++;
    for (const p of anchorPositions) if (p < shared) parts[p] = '*';
    if (anchorPositions.length > 0) {
      const first = anchorPositions[0];
      if (shared > first) return parts.slice(first + 1).join('.');
    }
    return parts.join('.');
  }

  // Names that differ only in numbers collapse to one entry, in order of
  // first appearance: mlp.experts.0.gate_proj … mlp.experts.511.gate_proj ->
  // mlp.experts.[0-511].gate_proj.
  function compressNames(names) {
    if (names.length < 2) return names.slice();
    const groups = new Map();
    for (const name of names) {
      const parts = name.split('.');
      const nums = [];
      for (let i = 0; i < parts.length; i++) {
        if (isIndex(parts[i])) {
          nums.push(+parts[i]);
          parts[i] = '#';
        }
      }
      const key = parts.join('.');
      let g = groups.get(key);
      if (!g) {
        g = { shape: parts, columns: nums.map(() => new Set()) };
        groups.set(key, g);
      }
      for (let i = 0; i < nums.length; i++) g.columns[i].add(nums[i]);
    }
    return Array.from(groups.values(), ({ shape, columns }) => {
      let c = 0;
      return shape.map((p) => {
        if (p !== '#') return p;
        const set = columns[c++];
        return set.size === 1 ? `${set.values().next().value}` : `[${formatIndices([...set])}]`;
      }).join('.');
    });
  }

  // What a group of layer-indexed sets covers: "layers 0-31",
  // "layers 0-47 × experts 0-511".
  function scopeLabel(dimNames, tuples) {
    if (dimNames.length === 0) return '';
    const columns = dimNames.map((_, d) => tuples.map((t) => t[d]));
    const distinct = columns.map((c) => new Set(c).size);
    const product = distinct.reduce((a, b) => a * b, 1);
    let label = dimNames.map((n, d) => `${n} ${formatIndices(columns[d])}`).join(' × ');
    if (product !== tuples.length) label += ` (${tuples.length} sets)`;
    return label;
  }

  class ListStore {
    constructor() {
      this.lists = [];
    }
    add(items) {
      this.lists.push(items);
      return this.lists.length - 1;
    }
    page(id, offset, limit) {
      const list = this.lists[id] || [];
      return { items: list.slice(offset, offset + limit), total: list.length };
    }
  }

  // Groups items (resolved or skipped mappings) that are the same mapping
  // applied to different layers. `describe(item, rel)` returns the group's
  // text given a function mapping a module name to its layer-relative form.
  function groupOverLayers(items, anchorOf, describe, expandLine, store) {
    const groups = new Map();
    for (const item of items) {
      const anchor = anchorOf(item);
      const anchorParts = anchor.split('.');
      const positions = numericComponents(anchorParts);
      const rel = (name) => relativeTemplate(name, anchorParts, positions);
      const text = describe(item, rel);
      const prefix = positions.length ? anchorParts.slice(0, positions[0]).join('.') : '';
      const dims = positions.map((p) => anchorParts[p - 1] || '#');
      const key = `${item.mapping}\u0000${prefix}\u0000${dims.join('.')}\u0000${text}`;
      let g = groups.get(key);
      if (!g) {
        g = { mapping: item.mapping, prefix, dims, text, tuples: [], lines: [] };
        groups.set(key, g);
      }
      g.tuples.push(positions.map((p) => +anchorParts[p]));
      g.lines.push(expandLine(item));
    }
    return Array.from(groups.values(), (g) => ({
      mapping: g.mapping,
      prefix: g.prefix,
      scope: scopeLabel(g.dims, g.tuples),
      text: g.text,
      count: g.lines.length,
      listId: store.add(g.lines),
    }));
  }

  function resolvedText(r, rel) {
    let text = `${rel(r.smooth)} → ${compressNames(r.balance.map(rel)).join(', ')}`;
    text += ` (parent ${rel(r.parent) || '(root)'}`;
    if (r.hook !== undefined && r.hook !== null) text += `, hook ${rel(r.hook)}`;
    return text + ')';
  }

  function resolvedLine(r) {
    let line = `${r.smooth} → ${r.balance.join(', ')} (parent ${r.parent || '(root)'}`;
    if (r.hook !== undefined && r.hook !== null) line += `, hook ${r.hook}`;
    return line + ')';
  }

  // Where a module sits: its first numeric component is its layer, the path
  // before it the layer stack, the rest (numbers as '*') its kind.
  function splitLayer(name) {
    const parts = name.split('.');
    for (let i = 1; i < parts.length - 1; i++) {
      if (isIndex(parts[i])) {
        const kind = parts.slice(i + 1).map((p) => (isIndex(p) ? '*' : p)).join('.');
        return { stack: parts.slice(0, i).join('.'), layer: +parts[i], kind };
      }
    }
    return null;
  }

  // Decoder layers × module kinds, each cell counting its modules per state:
  // the index of the scheme that quantizes them, or 'none' (a Linear no
  // scheme reaches: ignored or untargeted).
  function coverageGrids(report) {
    const quant = report.quantization || {};
    const states = [];
    (quant.schemes || []).forEach((s, i) => (s.modules || []).forEach((m) => states.push([m, i])));
    (quant.unquantized_linear || []).forEach((m) => states.push([m, 'none']));
    const stacks = new Map();
    const outside = [];
    for (const [name, state] of states) {
      const where = splitLayer(name);
      if (!where) {
        outside.push({ name, state });
        continue;
      }
      let g = stacks.get(where.stack);
      if (!g) {
        g = { kinds: new Map(), layers: new Map() };
        stacks.set(where.stack, g);
      }
      if (!g.kinds.has(where.kind)) g.kinds.set(where.kind, g.kinds.size);
      let row = g.layers.get(where.layer);
      if (!row) {
        row = new Map();
        g.layers.set(where.layer, row);
      }
      let cell = row.get(where.kind);
      if (!cell) {
        cell = {};
        row.set(where.kind, cell);
      }
      cell[state] = (cell[state] || 0) + 1;
    }
    const layerTypes = (report.model && report.model.layer_types) || [];
    const grids = [];
    for (const [stack, g] of stacks) {
      const kinds = Array.from(g.kinds.keys());
      const layerNumbers = Array.from(g.layers.keys()).sort((a, b) => a - b);
      const maxLayer = layerNumbers[layerNumbers.length - 1];
      const rows = [];
      for (let layer = 0; layer <= maxLayer; layer++) {
        const row = g.layers.get(layer);
        rows.push({ layer, cells: kinds.map((k) => (row && row.get(k)) || null) });
      }
      grids.push({ stack, kinds, rows, withLayerTypes: layerTypes.length === rows.length });
    }
    // The largest stack (the decoder) first.
    grids.sort((a, b) => b.rows.length * b.kinds.length - a.rows.length * a.kinds.length);
    return { grids, outside };
  }

  function summarize(report) {
    const store = new ListStore();
    const view = {
      wring_version: report.wring_version || '',
      reference: report.reference || null,
      verdict: report.verdict || { would_run: false, exit_code: 2, summary: '' },
      model: report.model || null,
      recipe: report.recipe || null,
      diagnostics: report.diagnostics || [],
      awq: null,
      spinquant: null,
      quantization: null,
      coverage: null,
    };
    const awq = report.awq;
    if (awq) {
      view.awq = {
        source: awq.source || '',
        list_name: awq.list_name || '',
        mappings: awq.mappings || [],
        error: awq.error === undefined ? null : awq.error,
        log: awq.log || [],
        resolvedCount: (awq.resolved || []).length,
        groups: groupOverLayers(awq.resolved || [], (r) => r.smooth, resolvedText, resolvedLine, store),
        skippedCount: (awq.skipped || []).length,
        skipped: groupOverLayers(
          (awq.skipped || []).map((s) => Object.assign({}, s, { mapping: `${s.mapping}\u0000${s.reason}` })),
          (s) => s.smooth,
          (s, rel) => rel(s.smooth),
          (s) => s.smooth,
          store,
        ).map((g) => {
          const [mapping, reason] = g.mapping.split('\u0000');
          return Object.assign(g, { mapping, reason });
        }),
      };
    }
    const sq = report.spinquant;
    if (sq) {
      view.spinquant = {
        requested: !!sq.requested,
        head_dim: sq.head_dim === undefined ? null : sq.head_dim,
        log: sq.log || [],
        fields: Object.entries(sq.fields || {}).map(([name, f]) => ({
          name,
          patterns: f.patterns || [],
          count: (f.matches || []).length,
          compressed: compressNames(f.matches || []).slice(0, 6),
          listId: store.add(f.matches || []),
        })),
        norms: (sq.norms || []).map((n) => ({
          norm: n.norm,
          linears: n.linears || [],
          error: n.error === undefined ? null : n.error,
          count: (n.groups || []).length,
          listId: store.add((n.groups || []).map((set) => set.map((names) => names.join(', ')).join(' | '))),
        })),
      };
    }
    const q = report.quantization;
    if (q) {
      view.quantization = {
        schemes: (q.schemes || []).map((s) => ({
          modifier: s.modifier,
          group: s.group,
          summary: s.summary,
          count: (s.modules || []).length,
          listId: store.add(s.modules || []),
        })),
        unquantized: { count: (q.unquantized_linear || []).length, listId: store.add(q.unquantized_linear || []) },
        kv_cache_modules: q.kv_cache_modules || [],
        unmatched_targets: q.unmatched_targets || [],
        targets: { count: (report.targets || []).length, listId: store.add(report.targets || []) },
      };
      view.coverage = coverageGrids(report);
    }
    return { view, store };
  }

  global.WringSummary = { summarize, formatIndices, compressNames, splitLayer };
})(self);
