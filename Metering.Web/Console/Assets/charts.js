// Plain SVG charts (no library): a line chart over time and a timeline of ranges. Positions use floats, which is
// fine for pixels; every number a reader can copy is in the tables next to the charts, exactly as the API sent it.
import { h } from './api.js';

// Distinguishable on white and for common colour-vision deficiencies (Okabe-Ito).
export const PALETTE = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#000000', '#8c564b'];

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function shortNumber(v) {
  const a = Math.abs(v);
  for (const [d, s] of [[1e15, 'P'], [1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']]) if (a >= d) return +(v / d).toPrecision(3) + s;
  return String(+v.toPrecision(3));
}

function isoShort(ms) { return new Date(ms).toISOString().replace(':00.000Z', 'Z').replace('T', ' '); }

/**
 * A line chart: series = [{ name, points: [{ x: ms, y: number }] }], x from..to (ms). Returns a <figure> whose SVG
 * carries a title and description for screen readers.
 */
export function lineChart(id, caption, series, from, to, unitLabel = 'quantity') {
  const W = 560, H = 220, L = 56, R = 12, T = 12, B = 34;
  const maxY = niceMax(Math.max(0, ...series.flatMap(s => s.points.map(p => p.y))));
  const x = ms => L + (to > from ? (ms - from) / (to - from) : 0) * (W - L - R);
  const y = v => T + (1 - v / maxY) * (H - T - B);
  const parts = [];
  for (let i = 0; i <= 4; i++) {
    const v = maxY * i / 4;
    parts.push(h('line', { class: 'grid', x1: L, x2: W - R, y1: y(v), y2: y(v) }));
    parts.push(h('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, shortNumber(v)));
  }
  parts.push(h('line', { class: 'axis', x1: L, x2: L, y1: T, y2: H - B }));
  parts.push(h('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }));
  parts.push(h('text', { x: L, y: H - 12, 'text-anchor': 'start' }, isoShort(from)));
  parts.push(h('text', { x: W - R, y: H - 12, 'text-anchor': 'end' }, isoShort(to)));
  series.forEach((s, i) => {
    const colour = PALETTE[i % PALETTE.length];
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    if (pts.length > 1) parts.push(h('polyline', { fill: 'none', stroke: colour, 'stroke-width': 2, points: pts.map(p => `${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(' ') }));
    for (const p of pts.length <= 200 ? pts : []) {
      parts.push(h('circle', { cx: x(p.x).toFixed(1), cy: y(p.y).toFixed(1), r: 2.5, fill: colour }, h('title', {}, `${s.name} ${isoShort(p.x)}: ${p.label ?? p.y}`)));
    }
  });
  const total = series.reduce((n, s) => n + s.points.length, 0);
  const svg = h('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-labelledby': `${id}-t ${id}-d` },
    h('title', { id: `${id}-t` }, caption),
    h('desc', { id: `${id}-d` }, `${unitLabel} per bucket from ${isoShort(from)} to ${isoShort(to)}, ${series.length} series, ${total} points; the table below lists every value`),
    parts);
  const legend = series.length > 1 || (series[0] && series[0].name)
    ? h('ul', { class: 'legend' }, series.map((s, i) => h('li', {}, h('i', { class: 'sw' + (i % PALETTE.length), 'aria-hidden': 'true' }), s.name || 'all')))
    : null;
  return h('figure', { class: 'chart', id }, h('figcaption', {}, caption), svg, legend);
}

/** Ranges on one time axis: rows = [{ label, from: ms, to: ms|null, title }]; an open end runs to the axis end. */
export function timeline(id, caption, rows, now = Date.now()) {
  const W = 760, rowH = 26, L = 150, R = 16, T = 8, B = 30;
  const H = T + rows.length * rowH + B;
  const from = Math.min(...rows.map(r => r.from));
  const ends = rows.map(r => r.to ?? Math.max(now, r.from));
  let to = Math.max(...ends, from + 86400000);
  to += (to - from) * 0.08;
  const x = ms => L + (ms - from) / (to - from) * (W - L - R);
  const parts = [h('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }),
    h('text', { x: L, y: H - 10 }, isoShort(from).slice(0, 10)), h('text', { x: W - R, y: H - 10, 'text-anchor': 'end' }, isoShort(to).slice(0, 10))];
  rows.forEach((r, i) => {
    const y0 = T + i * rowH;
    const end = r.to ?? to;
    parts.push(h('text', { x: L - 8, y: y0 + 17, 'text-anchor': 'end' }, r.label));
    parts.push(h('rect', { x: x(r.from), y: y0 + 4, width: Math.max(2, x(end) - x(r.from)), height: rowH - 8, rx: 3, fill: PALETTE[i % PALETTE.length], 'fill-opacity': r.to === null ? 0.55 : 0.9 },
      h('title', {}, r.title)));
  });
  return h('figure', { class: 'chart', id }, h('figcaption', {}, caption),
    h('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-labelledby': `${id}-t` }, h('title', { id: `${id}-t` }, caption + ': ' + rows.map(r => r.title).join('; ')), parts));
}
