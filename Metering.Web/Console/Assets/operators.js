// Operators: what this server reports about the pipeline: /readyz (dependencies) and /metrics (Prometheus text), both
// anonymous; and, with an admin token, the ledger's dead letters by reason (GET /v1/operators/dead-letters) and a
// reconcile of one period run now (GET /v1/operators/reconcile). Engine series (lag, flushes, rejected records) appear
// when the process behind this URL exports them; the page says so when it does not, rather than showing zeros.
import { get, enc, h, table, errorBox, group, go, has } from './api.js';

export const title = 'Operators';

/** Prometheus text exposition -> [{ name, labels: {..}, value: string }] (comments and blank lines skipped). */
export function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[3] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => c === 'n' ? '\n' : c);
    out.push({ name: m[1], labels, value: m[4] });
  }
  return out;
}

function labelText(labels, skip = []) {
  return Object.entries(labels).filter(([k]) => !skip.includes(k) && k !== 'otel_scope_name' && k !== 'otel_scope_version').map(([k, v]) => `${k}=${v}`).join(', ');
}

// The smallest bucket bound holding the q-quantile of the histogram's observations (Prometheus' upper-bound estimate).
function quantileBound(buckets, count, q) {
  const need = q * count;
  for (const b of buckets) if (Number(b.value) >= need) return b.labels.le;
  return '+Inf';
}

function missing(what) { return h('p', { class: 'note' }, `${what}: not reported by this process (run the engine with its /metrics, docs/operations.md).`); }

function openPeriod() { return new Date().toISOString().slice(0, 7); }

// The ledger's side (admin): dead letters by reason and the reconcile of one period, both from the API.
async function ledgerSections(main, params, claims) {
  const period = params.get('period') || openPeriod();
  const dl = h('section', { 'aria-labelledby': 'dlr-h', id: 'dead-letter-table' }, h('h2', { id: 'dlr-h' }, 'Dead letters in the ledger'));
  const rec = h('section', { 'aria-labelledby': 'rec-h', id: 'reconcile' }, h('h2', { id: 'rec-h' }, 'Reconcile'),
    h('form', { class: 'query', 'aria-label': 'Reconcile a period', onsubmit: e => {
      e.preventDefault();
      go('operators', { period: (new FormData(e.target).get('period') || '').trim() });
    } },
    h('label', { for: 'f-period' }, 'Period', h('input', { id: 'f-period', name: 'period', value: period, placeholder: 'YYYY-MM' })),
    h('button', { type: 'submit' }, 'Reconcile')));
  main.append(dl, rec);
  if (!has(claims, 'admin')) {
    const note = 'Needs a token with scope admin (not bound to an account).';
    dl.append(h('p', { class: 'note' }, note));
    rec.append(h('p', { class: 'note' }, note));
    return;
  }
  const [letters, result] = await Promise.allSettled([get('/v1/operators/dead-letters'), get('/v1/operators/reconcile?period=' + enc(period))]);
  if (letters.status === 'fulfilled') {
    const v = letters.value;
    dl.append(h('p', {}, 'Total: ', h('strong', { id: 'dead-letter-total' }, group(String(v.total)))),
      v.reasons.length ? table('Dead letters by reason (dead_letters)', ['Reason', 'Records#', 'Not published#', 'First received', 'Last received'],
        v.reasons.map(r => ({ attrs: { 'data-reason': r.reason }, cells: [r.reason, group(String(r.count)), group(String(r.unpublished)), r.first_received_at, r.last_received_at] })))
        : h('p', { class: 'note' }, 'No dead letters.'));
  } else dl.append(errorBox(letters.reason));
  if (result.status === 'fulfilled') {
    const r = result.value;
    rec.append(h('p', {}, 'Period ', h('span', { id: 'reconcile-period' }, r.period_start), ': ', h('strong', { id: 'reconcile-status' }, r.status),
      ` (${group(String(r.ledger_totals))} ledger totals, ${group(String(r.clickhouse_groups))} ClickHouse groups, ${group(String(r.in_flight))} outbox rows in flight, `,
      h('span', { id: 'reconcile-drift-count' }, String(r.drift_count)), ' drift(s))'));
    if (r.drifts.length) {
      rec.append(table('Drifting totals (PostgreSQL against ClickHouse, exact)', ['Account', 'SKU', 'Field', 'Ledger#', 'ClickHouse#'],
        r.drifts.map(d => [d.account, d.sku, d.field, d.ledger ?? 'missing', d.clickhouse ?? 'missing']), { id: 'drifts' }));
    }
  } else rec.append(errorBox(result.reason));
}

export async function render(main, params, claims) {
  main.replaceChildren(h('h1', {}, 'Operators'));
  const [ready, metrics] = await Promise.allSettled([get('/readyz', { anonymous: true, okStatuses: [503] }), get('/metrics', { anonymous: true, text: true })]);
  const r = h('section', { 'aria-labelledby': 'ready-h', id: 'readiness' }, h('h2', { id: 'ready-h' }, 'Readiness'));
  if (ready.status === 'fulfilled') {
    const checks = ready.value.checks || {};
    r.append(h('p', {}, 'Status: ', h('strong', { id: 'ready-status' }, ready.value.status || ready.value.title || '')),
      table('Dependencies (/readyz)', ['Dependency', 'State'], Object.entries(checks).map(([k, v]) => ({ attrs: { 'data-check': k }, cells: [k, v] }))));
  } else r.append(errorBox(ready.reason));
  main.append(r);
  if (metrics.status !== 'fulfilled') { main.append(errorBox(metrics.reason)); await ledgerSections(main, params, claims); return; }
  const series = parseMetrics(metrics.value);
  const named = n => series.filter(s => s.name === n);

  const lag = named('metering_consumer_lag');
  main.append(h('section', { 'aria-labelledby': 'lag-h', id: 'lag' }, h('h2', { id: 'lag-h' }, 'Consumer lag per partition'),
    lag.length ? table('Messages behind the partition end', ['Partition', 'Lag#'], lag.map(s => ({ attrs: { 'data-series': labelText(s.labels) }, cells: [labelText(s.labels), group(s.value)] }))) : missing('Consumer lag')));

  const flush = h('section', { 'aria-labelledby': 'flush-h', id: 'flush' }, h('h2', { id: 'flush-h' }, 'Flush latency'));
  const count = named('metering_flush_duration_seconds_count');
  if (count.length) {
    const rows = count.map(c => {
      const key = labelText(c.labels);
      const buckets = named('metering_flush_duration_seconds_bucket').filter(b => labelText(b.labels, ['le']) === key).sort((a, b) => Number(a.labels.le) - Number(b.labels.le));
      const sum = named('metering_flush_duration_seconds_sum').find(s => labelText(s.labels) === key);
      const n = Number(c.value);
      return [key || 'all', group(c.value), n > 0 && sum ? (Number(sum.value) / n * 1000).toFixed(1) + ' ms' : '', n > 0 ? '≤ ' + quantileBound(buckets, n, 0.5) + ' s' : '', n > 0 ? '≤ ' + quantileBound(buckets, n, 0.99) + ' s' : ''];
    });
    flush.append(table('Flushes (histogram buckets)', ['Series', 'Flushes#', 'Mean#', 'p50#', 'p99#'], rows));
  } else flush.append(missing('Flush latency'));
  main.append(flush);

  const rejected = named('metering_records_rejected_total');
  main.append(h('section', { 'aria-labelledby': 'dl-h', id: 'dead-letters' }, h('h2', { id: 'dl-h' }, 'Dead letters by reason'),
    rejected.length ? table('Records rejected (dead letters)', ['Reason', 'Records#'], rejected.map(s => ({ attrs: { 'data-reason': s.labels.reason ?? '' }, cells: [labelText(s.labels), group(s.value)] }))) : missing('Dead letters')));

  const faults = series.filter(s => /^metering_(postgres|clickhouse)_write_errors_total$|^metering_flush_data_faults_total$|^metering_api_rejected_total$|^metering_aggregate_overflow_total$/.test(s.name));
  main.append(h('section', { 'aria-labelledby': 'faults-h', id: 'faults' }, h('h2', { id: 'faults-h' }, 'Errors and refusals'),
    faults.length ? table('Counters since the process started', ['Series', 'Labels', 'Value#'], faults.map(s => [s.name, labelText(s.labels), group(s.value)])) : h('p', { class: 'note' }, 'No error counter has been reported yet.')));

  await ledgerSections(main, params, claims);
  main.append(h('p', { class: 'muted' }, `${series.length} series read from /metrics.`));
}
