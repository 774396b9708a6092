// The console's shell: sign-in (a pasted JWT, or a dev-login link carrying ?token= in the URL fragment, which never
// reaches a server log), the hash router and the header. Each page module renders into <main> and marks it
// data-state="ready" (or "error") when its numbers are on screen, which is what the browser tests wait for.
import { token, setToken, signOut, claims, scopes, boundAccount, h, routeParams } from './api.js';
import * as usage from './usage.js';
import * as statements from './statements.js';
import * as pricebooks from './pricebooks.js';
import * as operators from './operators.js';

const pages = { usage, statements, pricebooks, operators };
let current = null;

function takeTokenFromLink() {
  const params = routeParams();
  const t = params.get('token');
  if (!t) return;
  params.delete('token');
  setToken(t.trim());
  const route = location.hash.split('?')[0] || '#/usage';
  const q = params.toString();
  history.replaceState(null, '', location.pathname + (route === '#' || route === '#/' ? '#/usage' : route) + (q ? '?' + q : ''));
}

function renderWho() {
  const who = document.getElementById('who');
  const nav = document.getElementById('nav');
  who.replaceChildren();
  let c = null;
  try { c = claims(); } catch { c = null; }
  nav.hidden = !c;
  if (!c) return;
  const account = boundAccount(c);
  who.append(h('span', { 'data-testid': 'who' }, `${c.sub || 'token'} · ${scopes(c).join(' ') || 'no scopes'}${account ? ' · account ' + account : ''}`),
    h('button', { type: 'button', class: 'secondary', onclick: () => { signOut(); location.hash = '#/signin'; } }, 'Sign out'));
}

function signInPage(main, problem) {
  main.dataset.page = 'signin';
  const area = h('textarea', { id: 'token', name: 'token', required: true, autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'token-help' });
  const message = h('p', { id: 'signin-message', role: 'alert' }, problem || '');
  const form = h('form', { class: 'signin', onsubmit: e => {
    e.preventDefault();
    const t = area.value.trim();
    try {
      const c = claims(t);
      if (c.exp && c.exp * 1000 < Date.now()) throw new Error('this token has expired (exp ' + new Date(c.exp * 1000).toISOString() + ')');
    } catch (err) {
      message.textContent = 'Not a usable token: ' + err.message;
      message.className = 'error';
      return;
    }
    setToken(t);
    location.hash = '#/usage';
  } },
  h('h1', {}, 'Sign in'),
  h('label', { for: 'token' }, 'Bearer token (JWT)'), area,
  h('p', { id: 'token-help', class: 'muted' }, 'The same token the API takes (scopes usage:read, billing:read; an account claim limits it to that account). ',
    'It is kept in this tab only (sessionStorage). For the embedded main job, bash scripts/run.sh prints a ready link (docs/console.md).'),
  h('button', { type: 'submit', id: 'signin' }, 'Sign in'), message);
  main.replaceChildren(form);
  main.dataset.state = 'ready';
}

async function route() {
  takeTokenFromLink();
  renderWho();
  const main = document.getElementById('main');
  if (current && current.leave) current.leave();
  current = null;
  const name = (location.hash.split('?')[0].replace(/^#\/?/, '')) || 'usage';
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.page === name) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  main.dataset.state = 'loading';
  let c = null;
  try { c = claims(); } catch { c = null; }
  if (!token() || !c || name === 'signin') { signInPage(main, token() && !c ? 'The stored token could not be read; paste it again.' : ''); return; }
  const page = pages[name];
  if (!page) { main.replaceChildren(h('h1', {}, 'Not found'), h('p', {}, 'No console page ' + name + '.')); main.dataset.page = name; main.dataset.state = 'ready'; return; }
  current = page;
  main.dataset.page = name;
  document.title = page.title + ' · Metering console';
  try {
    await page.render(main, routeParams(), c);
    main.dataset.state = main.querySelector('[role="alert"].error') ? 'error' : 'ready';
  } catch (e) {
    main.append(h('p', { class: 'error', role: 'alert' }, String(e && e.message || e)));
    main.dataset.state = 'error';
  }
}

window.addEventListener('hashchange', route);
route();
