// The console's one way to the API: the signed-in token (sessionStorage: gone when the tab closes), JSON fetches that
// turn problem+json answers into readable errors, exact decimal sums, and a small DOM builder.

const TOKEN_KEY = 'metering.console.token';

export function token() { return sessionStorage.getItem(TOKEN_KEY); }
export function setToken(t) { sessionStorage.setItem(TOKEN_KEY, t); }
/** Forgets everything the console keeps in this tab: the token and any provider sign-in under way. */
export function signOut() {
  for (const key of Object.keys(sessionStorage)) if (key.startsWith('metering.console.')) sessionStorage.removeItem(key);
}

// A 401 to a request that carried the token means the API no longer takes it (expired, a rotated key): the console
// shows itself signed out instead of an error on every page (app.js listens).
function refused(response, sent, problem) {
  if (response.status !== 401 || !sent || sent !== token()) return;
  signOut();
  window.dispatchEvent(new CustomEvent('metering:signedout', { detail: problem.detail || problem.title || 'the API refused the token' }));
}

// The token's claims, decoded for display only: the server checks the signature on every request.
export function claims(t = token()) {
  if (!t) return null;
  const parts = t.split('.');
  if (parts.length !== 3) throw new Error('not a JWT: expected three dot-separated parts');
  const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
  const padded = b64 + '='.repeat((4 - b64.length % 4) % 4);
  const bytes = Uint8Array.from(atob(padded), c => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

export function scopes(c) {
  const s = (c && (c.scope || c.scp)) || '';
  return (Array.isArray(s) ? s : String(s).split(' ')).filter(x => x);
}

export function has(c, scope) { const s = scopes(c); return s.includes(scope) || s.includes('admin'); }

/** The account a token is bound to, or null. */
export function boundAccount(c = claims()) { return c && typeof c.account === 'string' ? c.account : null; }

export class ApiError extends Error {
  constructor(status, problem, path) {
    super(`${status} ${problem.title || ''}: ${problem.detail || problem.title || 'request failed'}`);
    this.status = status; this.problem = problem; this.path = path;
  }
}

/** GET path (JSON) with the bearer token; anonymous when anonymous is set. Problem answers throw ApiError. */
export async function get(path, { anonymous = false, text = false, okStatuses = [] } = {}) {
  const headers = { Accept: text ? 'text/plain' : 'application/json' };
  const sent = anonymous ? null : token();
  if (sent) headers.Authorization = 'Bearer ' + sent;
  const response = await fetch(path, { headers, credentials: 'omit', cache: 'no-store' });
  if (response.ok || okStatuses.includes(response.status)) {
    return text ? response.text() : response.json();
  }
  let problem = { title: response.statusText };
  try { problem = await response.json(); } catch { /* not JSON: keep the status text */ }
  refused(response, sent, problem);
  throw new ApiError(response.status, problem, path);
}

/** POST a JSON body with the bearer token (the re-rating preview); problem answers throw ApiError. */
export async function post(path, body) {
  const headers = { Accept: 'application/json', 'Content-Type': 'application/json' };
  const sent = token();
  if (sent) headers.Authorization = 'Bearer ' + sent;
  const response = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body), credentials: 'omit', cache: 'no-store' });
  if (response.ok) return response.json();
  let problem = { title: response.statusText };
  try { problem = await response.json(); } catch { /* not JSON: keep the status text */ }
  refused(response, sent, problem);
  throw new ApiError(response.status, problem, path);
}

export const enc = encodeURIComponent;

// Exact decimal arithmetic on the API's decimal strings (money and quantities are never binary floats).
function parseDec(s) {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(String(s));
  if (!m) throw new Error(`not a decimal: ${s}`);
  const frac = m[3] || '';
  return { n: BigInt(m[1] + m[2] + frac), scale: frac.length };
}
function scaleTo(d, scale) { return d.n * 10n ** BigInt(scale - d.scale); }
export function decAdd(a, b) {
  const x = parseDec(a), y = parseDec(b);
  const scale = Math.max(x.scale, y.scale);
  return formatDec(scaleTo(x, scale) + scaleTo(y, scale), scale);
}
export function decSum(values) { return values.reduce((acc, v) => decAdd(acc, v), '0'); }
function formatDec(n, scale) {
  const neg = n < 0n; let s = (neg ? -n : n).toString();
  if (scale > 0) {
    s = s.padStart(scale + 1, '0');
    // Trailing zeros stay: a sum of amounts keeps the currency's minor digits ("20.50", not "20.5").
    s = s.slice(0, -scale) + '.' + s.slice(-scale);
  }
  return (neg && s !== '0' ? '-' : '') + s;
}

/** Thousands separators for display; the digits stay exactly the API's. */
export function group(s) {
  if (s === null || s === undefined) return '';
  const [i, f] = String(s).split('.');
  const g = i.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return f === undefined ? g : g + '.' + f;
}

/** h('td', {class: 'num'}, 'text', child): builds elements; attributes starting with "on" are listeners. */
export function h(tag, attrs, ...children) {
  const svg = ['svg', 'g', 'rect', 'line', 'polyline', 'text', 'title', 'circle', 'path', 'desc'].includes(tag);
  const el = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A table: caption, header cells (a name ending in '#' is numeric), rows of cells (strings or nodes). */
export function table(caption, headers, rows, attrs = {}) {
  const head = headers.map(x => x.endsWith('#') ? h('th', { scope: 'col', class: 'num' }, x.slice(0, -1)) : h('th', { scope: 'col' }, x));
  const body = rows.map(r => {
    const cells = r.cells || r;
    return h('tr', r.attrs || {}, cells.map((c, i) => h('td', headers[i] && headers[i].endsWith('#') ? { class: 'num' } : {}, c)));
  });
  return h('table', attrs, h('caption', {}, caption), h('thead', {}, h('tr', {}, head)), h('tbody', {}, body));
}

export function errorBox(e) {
  const detail = e instanceof ApiError ? e.message : String(e && e.message || e);
  return h('p', { class: 'error', role: 'alert' }, detail);
}

/** Offers text as a file download (the statement exports). */
export function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name });
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** Query parameters of the hash route (#/page?x=1). */
export function routeParams() {
  const q = location.hash.indexOf('?');
  return new URLSearchParams(q < 0 ? '' : location.hash.slice(q + 1));
}

export function go(page, params) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '' && v !== null && v !== undefined)).toString();
  location.hash = '#/' + page + (q ? '?' + q : '');
}
