// Price books: every published book's versions on a timeline (GET /v1/pricebooks), a diff between any two versions
// (their documents as published, compared path by path), and the version behind a lineage hash (?hash=, from a
// statement line: GET /v1/pricebooks/by-hash/{hash}); and a re-rating preview: a draft book (pasted, or started from a
// published version) against a closed period, shown as the line-level difference the rerate API answers (apply=false:
// nothing is written).
import { get, post, enc, h, table, errorBox, go, group } from './api.js';
import { timeline } from './charts.js';

export const title = 'Price books';

/** Every leaf path whose value differs between a and b: [{ path, kind: added|removed|changed, before, after }]. */
export function diff(a, b, path = '$') {
  const isObj = v => v !== null && typeof v === 'object';
  if (!isObj(a) || !isObj(b) || Array.isArray(a) !== Array.isArray(b)) {
    if (JSON.stringify(a) === JSON.stringify(b)) return [];
    if (a === undefined) return [{ path, kind: 'added', before: undefined, after: b }];
    if (b === undefined) return [{ path, kind: 'removed', before: a, after: undefined }];
    return [{ path, kind: 'changed', before: a, after: b }];
  }
  const keys = Array.isArray(a) ? [...Array(Math.max(a.length, b.length)).keys()] : [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.flatMap(k => diff(a[k], b[k], Array.isArray(a) ? `${path}[${k}]` : `${path}.${k}`));
}

const show = v => v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);

export async function render(main, params) {
  main.replaceChildren(h('h1', {}, 'Price books'));
  const hash = params.get('hash');
  if (hash) {
    try {
      const v = await get(`/v1/pricebooks/by-hash/${enc(hash)}`);
      main.append(h('section', { 'aria-labelledby': 'hash-h', id: 'by-hash' }, h('h2', { id: 'hash-h' }, `${v.id} version ${v.version}`),
        h('p', { class: 'muted' }, `Hash ${v.hash}; effective ${v.effective_from} .. ${v.effective_to ?? 'open'}; published ${v.published_at}.`),
        h('pre', { class: 'mono', tabindex: 0, 'aria-label': 'The version document as published' }, JSON.stringify(v.document, null, 2))));
    } catch (e) { main.append(errorBox(e)); }
  }

  let list;
  try { list = await get('/v1/pricebooks'); } catch (e) { main.append(errorBox(e)); return; }
  if (list.books.length === 0) { main.append(h('p', { class: 'note' }, 'No price book is published.')); return; }
  const all = list.books.flatMap(b => b.versions.map(v => ({ book: b, v })));
  list.books.forEach((b, i) => {
    main.append(h('section', { 'aria-labelledby': `book-${i}`, 'data-book': b.id },
      h('h2', { id: `book-${i}` }, b.id, h('span', { class: 'muted' }, ` ${b.currency}${b.account ? ', account ' + b.account : ''}${b.parent ? ', on ' + b.parent : ''}`)),
      timeline(`tl-${i}`, `${b.id}: versions over time`, b.versions.map(v => ({ label: v.version, from: Date.parse(v.effective_from), to: v.effective_to ? Date.parse(v.effective_to) : null,
        title: `${v.version}: ${v.effective_from} .. ${v.effective_to ?? 'open'}` }))),
      table(`${b.id}: versions`, ['Version', 'Effective from', 'Effective to', 'Hash', 'Published'], b.versions.map(v => ({ attrs: { 'data-version': `${b.id}/${v.version}` }, cells: [
        h('a', { href: `#/pricebooks?hash=${enc(v.hash)}` }, v.version), v.effective_from, v.effective_to ?? 'open', h('span', { class: 'mono' }, v.hash.slice(0, 19) + '…'), v.published_at] })))));
  });

  const option = (x, sel) => h('option', { value: `${x.book.id}/${x.v.version}`, selected: sel }, `${x.book.id} ${x.v.version}`);
  const left = params.get('left') || (all.length > 1 ? `${all[all.length - 2].book.id}/${all[all.length - 2].v.version}` : '');
  const right = params.get('right') || (all.length ? `${all[all.length - 1].book.id}/${all[all.length - 1].v.version}` : '');
  const section = h('section', { 'aria-labelledby': 'diff-h', id: 'diff' }, h('h2', { id: 'diff-h' }, 'Compare two versions'),
    h('form', { class: 'query', onsubmit: e => { e.preventDefault(); const f = new FormData(e.target); go('pricebooks', { left: f.get('left'), right: f.get('right') }); } },
      h('label', { for: 'f-left' }, 'Before', h('select', { id: 'f-left', name: 'left' }, all.map(x => option(x, `${x.book.id}/${x.v.version}` === left)))),
      h('label', { for: 'f-right' }, 'After', h('select', { id: 'f-right', name: 'right' }, all.map(x => option(x, `${x.book.id}/${x.v.version}` === right)))),
      h('button', { type: 'submit' }, 'Compare')));
  main.append(section, rerateSection(all));
  if (!left || !right || left === right) return;
  try {
    const [a, b] = await Promise.all([left, right].map(k => { const [id, ...v] = k.split('/'); return get(`/v1/pricebooks/${enc(id)}/versions/${enc(v.join('/'))}`); }));
    // The versions' contents are compared (each document holds exactly its one version); the headers beside them.
    const va = a.document.versions?.[0] ?? a.document, vb = b.document.versions?.[0] ?? b.document;
    const { versions: _a, ...ha } = a.document; const { versions: _b, ...hb } = b.document;
    const changes = [...diff(ha, hb, '$'), ...diff(va, vb, '$.version')];
    section.append(changes.length === 0 ? h('p', { class: 'note', id: 'diff-empty' }, 'The two versions are the same.')
      : table(`${a.id} ${a.version} → ${b.id} ${b.version}: ${changes.length} difference(s)`, ['Path', 'Change', 'Before', 'After'],
        changes.map(c => ({ attrs: { class: 'diff-' + c.kind, 'data-path': c.path }, cells: [h('span', { class: 'mono' }, c.path), c.kind, show(c.before), show(c.after)] })), { id: 'diff-table' }));
  } catch (e) { section.append(errorBox(e)); }
}

// The re-rating preview: POST /v1/periods/{period}/rerate with apply=false, answered as exact decimal strings.
function rerateSection(all) {
  const result = h('div', { id: 'rerate-result', 'aria-live': 'polite' });
  const book = h('textarea', { id: 'f-draft', name: 'draft', rows: 8, cols: 80, class: 'mono', spellcheck: 'false', placeholder: '{ "id": "list", "currency": "USD", "versions": [ ... ] }' });
  const pick = h('select', { id: 'f-start', name: 'start' }, h('option', { value: '' }, '(paste a book)'), all.map(x => h('option', { value: `${x.book.id}/${x.v.version}` }, `${x.book.id} ${x.v.version}`)));
  pick.addEventListener('change', async () => {
    if (!pick.value) return;
    const [id, ...v] = pick.value.split('/');
    try { book.value = JSON.stringify((await get(`/v1/pricebooks/${enc(id)}/versions/${enc(v.join('/'))}`)).document, null, 2); } catch (e) { result.replaceChildren(errorBox(e)); }
  });
  const form = h('form', { class: 'query', id: 'rerate-form', 'aria-label': 'Re-rating preview', onsubmit: async e => {
    e.preventDefault();
    const f = new FormData(e.target);
    let draft;
    try { draft = JSON.parse(f.get('draft') || ''); } catch (x) { result.replaceChildren(h('p', { class: 'error', role: 'alert' }, 'The draft is not JSON: ' + x.message)); return; }
    const account = (f.get('account') || '').trim();
    result.replaceChildren(h('p', { class: 'muted' }, 'Re-rating…'));
    try { showRerate(result, await post(`/v1/periods/${enc((f.get('period') || '').trim())}/rerate`, { price_book: draft, ...(account ? { account } : {}) })); }
    catch (x) { result.replaceChildren(errorBox(x)); }
  } },
  h('label', { for: 'f-start' }, 'Start from a published version', pick),
  h('label', { for: 'f-draft' }, 'Draft price book (JSON)', book),
  h('label', { for: 'f-rerate-period' }, 'Closed period', h('input', { id: 'f-rerate-period', name: 'period', placeholder: 'YYYY-MM', required: true, size: 10 })),
  h('label', { for: 'f-rerate-account' }, 'Account (empty: every account with a final statement)', h('input', { id: 'f-rerate-account', name: 'account' })),
  h('button', { type: 'submit' }, 'Preview'));
  return h('section', { 'aria-labelledby': 'rerate-h', id: 'rerate' }, h('h2', { id: 'rerate-h' }, 'Re-rating preview'),
    h('p', { class: 'muted' }, 'Re-rates a closed period under the draft and shows what would change, line by line; nothing is booked (scope admin).'), form, result);
}

function showRerate(result, r) {
  const rows = r.accounts.flatMap(a => a.lines.map(l => ({ attrs: { 'data-line': `${a.account}|${l.line_id}` }, cells: [a.account, l.subject, group(l.before ?? ''), group(l.after ?? ''), group(l.amount), l.currency] })));
  result.replaceChildren(
    h('p', { id: 'rerate-summary' }, `Period ${r.period_start} .. ${r.period_end}: ${r.accounts_compared} account(s) compared, ${r.accounts_changed} changed, ${r.accounts_unchanged} unchanged.`),
    rows.length ? table('Line-level difference (after − before)', ['Account', 'Line', 'Before#', 'After#', 'Difference#', 'Currency'], rows, { id: 'rerate-lines' })
      : h('p', { class: 'note', id: 'rerate-none' }, 'No line changes under the draft.'),
    table('Difference per currency', ['Currency', 'Difference#'], r.totals.map(t => [t.currency, group(t.amount)]), { id: 'rerate-totals' }));
}
