// Usage over time: GET /v1/usage per SKU (and per kept dimension with group_by), by minute, hour or day, drawn as one
// chart per SKU with the exact numbers in tables; and the open period's live counters (GET /v1/accounts/{a}/usage/live),
// refreshed every 5 s while the page is open; the account's quotas (GET /v1/accounts/{a}/quotas) with their state
// from the quota alerts (GET /v1/accounts/{a}/alerts), when the token has billing:read.
import { get, enc, h, table, errorBox, group, decSum, boundAccount, go, has } from './api.js';
import { lineChart } from './charts.js';

export const title = 'Usage';
const MAX_PAGES = 50;
let timer = null;

export function leave() { if (timer) { clearInterval(timer); timer = null; } }

function defaults() {
  const day = 86400000;
  const to = new Date(Math.floor(Date.now() / day) * day + day);
  const from = new Date(to.getTime() - 7 * day);
  return { from: from.toISOString().replace('.000Z', 'Z'), to: to.toISOString().replace('.000Z', 'Z'), granularity: 'hour' };
}

function field(label, name, value, attrs = {}) {
  return h('label', { for: 'f-' + name }, label, h('input', { id: 'f-' + name, name, value: value ?? '', ...attrs }));
}

export async function render(main, params, claims) {
  const bound = boundAccount(claims);
  const d = defaults();
  const q = {
    account: bound || params.get('account') || '',
    sku: params.get('sku') || '',
    from: params.get('from') || d.from,
    to: params.get('to') || d.to,
    granularity: params.get('granularity') || d.granularity,
    group_by: params.get('group_by') || '',
  };
  const gran = h('select', { id: 'f-granularity', name: 'granularity' }, ['minute', 'hour', 'day'].map(g => h('option', { value: g, selected: g === q.granularity }, g)));
  const form = h('form', { class: 'query', 'aria-label': 'Usage query', onsubmit: e => {
    e.preventDefault();
    const f = new FormData(e.target);
    go('usage', Object.fromEntries(['account', 'sku', 'from', 'to', 'granularity', 'group_by'].map(k => [k, (f.get(k) || '').trim()])));
  } },
  field('Account', 'account', q.account, bound ? { readonly: true, 'aria-describedby': 'bound-note' } : { required: true }),
  field('SKU (empty: all)', 'sku', q.sku),
  field('From (RFC 3339)', 'from', q.from, { required: true, size: 22 }),
  field('To (exclusive)', 'to', q.to, { required: true, size: 22 }),
  h('label', { for: 'f-granularity' }, 'Granularity', gran),
  field('Group by dimensions (comma-separated)', 'group_by', q.group_by, { placeholder: 'region,tier' }),
  h('button', { type: 'submit' }, 'Show'));
  main.replaceChildren(h('h1', {}, 'Usage over time'), form);
  if (bound) main.append(h('p', { id: 'bound-note', class: 'muted' }, `This token is bound to account ${bound}: it sees only that account.`));
  if (!q.account) { main.append(h('p', { class: 'note' }, 'Enter an account to see its usage.')); return; }
  if (!has(claims, 'usage:read')) { main.append(h('p', { class: 'error', role: 'alert' }, 'This token lacks the usage:read scope.')); return; }

  const live = h('section', { 'aria-labelledby': 'live-h', id: 'live' }, h('h2', { id: 'live-h' }, 'Live counters, open period'));
  const history = h('section', { 'aria-labelledby': 'hist-h', id: 'history' }, h('h2', { id: 'hist-h' }, `${q.account}: usage by ${q.granularity}`));
  const quotas = h('section', { 'aria-labelledby': 'quotas-h', id: 'quotas' }, h('h2', { id: 'quotas-h' }, 'Quotas and alerts'));
  main.append(live, quotas, history);
  await Promise.all([renderLive(live, q.account), renderQuotas(quotas, q.account, claims), renderHistory(history, q)]);
  timer = setInterval(() => renderLive(live, q.account).catch(() => { }), 5000);
}

async function renderLive(section, account) {
  let body;
  try {
    const r = await get(`/v1/accounts/${enc(account)}/usage/live`);
    body = [h('p', { class: 'muted' }, `Period from ${r.period_start}; source ${r.source}; updated ${new Date().toISOString().slice(11, 19)} UTC.`),
      r.lines.length === 0 ? h('p', { class: 'note' }, 'No usage in the open period yet.')
        : table('Open period so far', ['SKU', 'Records#', 'Quantity#', 'Amount#', 'Currency'],
          r.lines.map(l => ({ attrs: { 'data-live-sku': l.sku }, cells: [l.sku, group(l.record_count), group(l.quantity), group(l.amount), l.currency] })), { id: 'live-table' })];
  } catch (e) { body = [errorBox(e)]; }
  section.replaceChildren(section.firstChild, ...body);
}

// Each quota's state is its latest alert: crossed (in which period, at which value) or not crossed; every alert follows
// with its delivery per channel, exactly as the API reports them.
async function renderQuotas(section, account, claims) {
  if (!has(claims, 'billing:read')) { section.append(h('p', { class: 'note' }, 'Quotas and alerts need the billing:read scope.')); return; }
  let quotas, alerts;
  try {
    [quotas, alerts] = await Promise.all([get(`/v1/accounts/${enc(account)}/quotas`), get(`/v1/accounts/${enc(account)}/alerts`)]);
  } catch (e) { section.append(errorBox(e)); return; }
  if (quotas.length === 0 && alerts.length === 0) { section.append(h('p', { class: 'note', id: 'no-quotas' }, 'No quotas for this account.')); return; }
  const latest = new Map();
  for (const a of alerts) if (!latest.has(a.quota_id)) latest.set(a.quota_id, a); // alerts come newest first
  const target = x => x.metric === 'amount' ? (x.currency || '') : (x.sku || 'all SKUs');
  const state = x => latest.has(x.id) ? `crossed at ${group(latest.get(x.id).value_at_crossing)} in the period from ${latest.get(x.id).period_start.slice(0, 10)}` : 'not crossed';
  if (quotas.length) {
    section.append(table('Quotas', ['Quota', 'Metric', 'SKU or currency', 'Threshold#', 'Source', 'State'],
      quotas.map(x => ({ attrs: { 'data-quota': String(x.id) }, cells: [String(x.id), x.metric, target(x), group(x.threshold), x.source, state(x)] })), { id: 'quota-table' }));
  }
  if (alerts.length) {
    section.append(table('Alerts (newest first)', ['Crossed at', 'Quota', 'SKU or currency', 'Threshold#', 'Before#', 'At crossing#', 'Kafka delivered', 'Webhook delivered', 'Attempts#'],
      alerts.map(a => ({ attrs: { 'data-alert': a.id }, cells: [a.crossed_at, String(a.quota_id), target(a), group(a.threshold), group(a.value_before), group(a.value_at_crossing),
        a.delivered_kafka_at || '—', a.delivered_webhook_at || '—', String(a.attempts)] })), { id: 'alert-table' }));
  } else section.append(h('p', { class: 'note', id: 'no-alerts' }, 'No alert has been raised for this account.'));
}

async function renderHistory(section, q) {
  const points = [];
  let cursor = null, pages = 0;
  try {
    do {
      const url = `/v1/usage?account=${enc(q.account)}&from=${enc(q.from)}&to=${enc(q.to)}&granularity=${enc(q.granularity)}&limit=10000`
        + (q.sku ? `&sku=${enc(q.sku)}` : '') + (q.group_by ? `&group_by=${enc(q.group_by)}` : '') + (cursor ? `&cursor=${enc(cursor)}` : '');
      const r = await get(url);
      points.push(...r.points);
      cursor = r.next_cursor;
    } while (cursor && ++pages < MAX_PAGES);
  } catch (e) { section.append(errorBox(e)); return; }
  if (points.length === 0) { section.append(h('p', { class: 'note', id: 'no-usage' }, 'No usage in this range.')); return; }
  if (cursor) section.append(h('p', { class: 'note' }, `Showing the first ${points.length} points; narrow the range for the rest.`));

  const skus = [...new Set(points.map(p => p.sku))].sort();
  const keys = q.group_by ? q.group_by.split(',').map(s => s.trim()).filter(s => s) : [];
  const dimsOf = p => keys.map(k => `${k}=${p.dimensions[k] ?? ''}`).join(', ');
  section.append(table('Totals over the range', ['SKU', 'Records#', 'Quantity#', 'Amount#', 'Currency'], skus.map(sku => {
    const ps = points.filter(p => p.sku === sku);
    return { attrs: { 'data-sku': sku }, cells: [sku, group(ps.reduce((n, p) => n + p.record_count, 0)), group(decSum(ps.map(p => p.quantity))), group(decSum(ps.map(p => p.amount))), ps[0].currency] };
  }), { id: 'usage-totals' }));

  const from = Date.parse(q.from), to = Date.parse(q.to);
  const charts = h('div', { class: 'charts' });
  skus.forEach((sku, i) => {
    const ps = points.filter(p => p.sku === sku);
    const combos = [...new Set(ps.map(dimsOf))].sort();
    const series = combos.slice(0, 8).map(c => ({ name: c, points: ps.filter(p => dimsOf(p) === c).map(p => ({ x: Date.parse(p.bucket_start), y: Number(p.quantity), label: p.quantity })) }));
    charts.append(lineChart('chart-' + i, `${sku}${combos.length > 8 ? ' (first 8 of ' + combos.length + ' dimension values)' : ''}`, series, from, to));
  });
  section.append(charts);
  const rows = points.map(p => ({ attrs: { 'data-point': `${p.bucket_start}|${p.sku}|${dimsOf(p)}` }, cells: [p.bucket_start, p.sku, dimsOf(p), group(p.quantity), group(p.record_count), group(p.amount), p.currency] }));
  section.append(h('details', { id: 'points' }, h('summary', {}, `Every bucket (${points.length})`),
    table('Buckets', ['Bucket start', 'SKU', 'Dimensions', 'Quantity#', 'Records#', 'Amount#', 'Currency'], rows)));
}
