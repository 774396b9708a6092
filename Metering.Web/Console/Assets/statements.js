// Statements: GET /v1/accounts/{a}/statements/{period}, the draft of an open period or the final one a close wrote,
// line by line (usage with tiers and included units, fees, commitments, adjustments, totals), each line linked to the
// price-book version that priced it; CSV and NDJSON exports of exactly the lines shown.
import { get, enc, h, table, errorBox, group, boundAccount, go, download } from './api.js';

export const title = 'Statements';

function currentMonth() { return new Date().toISOString().slice(0, 7); }

function lineage(book, version, hash) {
  if (!hash) return h('span', { class: 'muted' }, 'none');
  return h('a', { href: `#/pricebooks?hash=${enc(hash)}`, title: hash }, `${book} ${version}`);
}

function unit(q, u) { return u ? `${group(q)} ${u}` : group(q); }

/** The statement as flat lines, the rows both exports write (one kind per line type). */
export function exportLines(s) {
  const base = { account: s.account, period_start: s.period_start, status: s.status, statement_id: s.statement_id, content_hash: s.content_hash };
  return [
    ...s.usage.map(l => ({ ...base, kind: 'usage', line_id: l.line_id, item: l.sku, quantity: l.billable_quantity, unit: l.billable_unit, included: l.included_units_applied, amount: l.amount, currency: l.currency, price_book: l.price_book, price_book_version: l.price_book_version, price_book_hash: l.price_book_hash })),
    ...s.fees.map(f => ({ ...base, kind: 'fee', line_id: f.line_id, item: f.fee_id, quantity: f.proration_factor, unit: 'proration', included: null, amount: f.amount, currency: f.currency, price_book: f.price_book, price_book_version: f.price_book_version, price_book_hash: f.price_book_hash })),
    ...s.commitments.map(c => ({ ...base, kind: 'commitment', line_id: c.line_id, item: 'true-up', quantity: c.committed, unit: 'committed', included: c.usage_charged, amount: c.true_up, currency: c.currency, price_book: c.price_book, price_book_version: c.price_book_version, price_book_hash: c.price_book_hash })),
    ...s.adjustments.map(a => ({ ...base, kind: 'adjustment', line_id: a.line_id, item: a.sku ?? a.kind, quantity: a.quantity, unit: a.kind, included: null, amount: a.amount, currency: a.currency, price_book: null, price_book_version: null, price_book_hash: null })),
  ];
}

function csv(rows) {
  const cols = Object.keys(rows[0] ?? { kind: '' });
  const cell = v => v === null || v === undefined ? '' : /[",\n\r]/.test(String(v)) ? '"' + String(v).replace(/"/g, '""') + '"' : String(v);
  return [cols.join(','), ...rows.map(r => cols.map(c => cell(r[c])).join(','))].join('\r\n') + '\r\n';
}

export async function render(main, params, claims) {
  const bound = boundAccount(claims);
  const account = bound || params.get('account') || '';
  const period = params.get('period') || currentMonth();
  const form = h('form', { class: 'query', 'aria-label': 'Statement query', onsubmit: e => {
    e.preventDefault();
    const f = new FormData(e.target);
    go('statements', { account: (f.get('account') || '').trim(), period: (f.get('period') || '').trim() });
  } },
  h('label', { for: 'f-account' }, 'Account', h('input', { id: 'f-account', name: 'account', value: account, required: true, readonly: !!bound })),
  h('label', { for: 'f-period' }, 'Period (YYYY-MM or its start date)', h('input', { id: 'f-period', name: 'period', value: period, required: true, size: 12 })),
  h('button', { type: 'submit' }, 'Show'));
  main.replaceChildren(h('h1', {}, 'Statement'), form);
  if (bound) main.append(h('p', { class: 'muted' }, `This token is bound to account ${bound}: it sees only that account.`));
  if (!account) { main.append(h('p', { class: 'note' }, 'Enter an account and a period.')); return; }

  let s;
  try { s = await get(`/v1/accounts/${enc(account)}/statements/${enc(period)}`); } catch (e) { main.append(errorBox(e)); return; }
  const name = `statement-${s.account}-${s.period_start.slice(0, 10)}-${s.status}`;
  main.append(
    h('section', { 'aria-labelledby': 'st-h', id: 'statement', 'data-status': s.status },
      h('h2', { id: 'st-h' }, `${s.account}, ${s.period_start} .. ${s.period_end} `, h('span', { class: 'badge ' + s.status, id: 'status' }, s.status)),
      h('p', { class: 'muted' }, s.statement_id ? `Statement ${s.statement_id}, finalized ${s.finalized_at}. ` : 'Draft: built now from the ledger; it changes until the period is closed. ',
        'Content hash ', h('span', { class: 'mono' }, s.content_hash), '.'),
      h('div', { class: 'actions' },
        h('button', { type: 'button', id: 'export-csv', onclick: () => download(name + '.csv', 'text/csv', csv(exportLines(s))) }, 'Export CSV'),
        h('button', { type: 'button', id: 'export-ndjson', onclick: () => download(name + '.ndjson', 'application/x-ndjson', exportLines(s).map(l => JSON.stringify(l)).join('\n') + '\n') }, 'Export NDJSON')),
      table('Usage', ['SKU', 'Recorded#', 'Included#', 'Billable#', 'Records#', 'Tiers', 'Amount#', 'Price book'], s.usage.map(l => ({ attrs: { 'data-line': l.line_id, 'data-sku': l.sku }, cells: [
        l.sku, unit(l.recorded_quantity, l.recorded_unit), group(l.included_units_applied), unit(l.billable_quantity, l.billable_unit), group(l.record_count),
        !l.priced ? h('span', { class: 'muted' }, 'unpriced: ' + (l.unpriced_reason || ''))
          : l.tiers.length === 0 ? h('span', { class: 'muted' }, 'one price')
          : h('ol', { class: 'tiers' }, l.tiers.map(t => h('li', {}, `${group(t.from)}${t.up_to ? '–' + group(t.up_to) : '+'}: ${group(t.quantity)} × ${t.unit_price}${t.flat_fee !== '0' ? ' + ' + t.flat_fee + ' flat' : ''} = ${t.amount}`))),
        `${group(l.amount)} ${l.currency || ''}`, lineage(l.price_book, l.price_book_version, l.price_book_hash)] })), { id: 'usage-lines' }),
      s.fees.length ? table('Fees', ['Fee', 'Service from', 'Service to', 'Factor#', 'Amount#', 'Price book'], s.fees.map(f => ({ attrs: { 'data-line': f.line_id }, cells: [
        f.fee_id, f.service_start, f.service_end, f.proration_factor, `${group(f.amount)} ${f.currency}`, lineage(f.price_book, f.price_book_version, f.price_book_hash)] })), { id: 'fee-lines' }) : null,
      s.commitments.length ? table('Commitment', ['Committed#', 'Usage charged#', 'True-up#', 'Price book'], s.commitments.map(c => ({ attrs: { 'data-line': c.line_id }, cells: [
        `${group(c.committed)} ${c.currency}`, `${group(c.usage_charged)} ${c.currency}`, `${group(c.true_up)} ${c.currency}`, lineage(c.price_book, c.price_book_version, c.price_book_hash)] })), { id: 'commitment-lines' }) : null,
      s.adjustments.length ? table('Adjustments', ['Kind', 'SKU', 'Quantity#', 'Amount#', 'Reference', 'Reason'], s.adjustments.map(a => ({ attrs: { 'data-line': a.line_id }, cells: [
        a.kind, a.sku ?? '', group(a.quantity ?? ''), `${group(a.amount)} ${a.currency}`, a.reference, a.reason] })), { id: 'adjustment-lines' })
        : h('p', { class: 'muted' }, 'No adjustments in this period.'),
      table('Totals', ['Currency', 'Usage#', 'Fees#', 'True-up#', 'Adjustments#', 'Total#'], s.totals.map(t => ({ attrs: { 'data-currency': t.currency }, cells: [
        t.currency, group(t.usage), group(t.fees), group(t.commitments), group(t.adjustments), group(t.total)] })), { id: 'totals' }),
      h('h3', {}, 'Built from'),
      h('p', { class: 'muted' }, `${s.inputs.totals.length} period total row(s), ${s.inputs.late_usage_ids.length} late-usage row(s), ${s.inputs.correction_ids.length} correction(s); price-book versions: `,
        s.inputs.price_books.flatMap((b, i) => [i ? ', ' : '', lineage(b.book, b.version, b.hash)]))));
}
