// The console's shell: sign-in (a pasted JWT, a dev-login link carrying ?token= in the URL fragment, which never
// reaches a server log, or the server's OpenID Connect provider: oidc.js), the hash router and the header. Each page
// module renders into <main> and marks it data-state="ready" (or "error") when its numbers are on screen, which is
// what the browser tests wait for.
import { token, setToken, signOut, claims, scopes, boundAccount, h, routeParams } from './api.js';
import { providerConfig, beginSignIn, completeSignIn } from './oidc.js';
import * as usage from './usage.js';
import * as statements from './statements.js';
import * as pricebooks from './pricebooks.js';
import * as operators from './operators.js';

const pages = { usage, statements, pricebooks, operators };
let current = null;
// Each route() call's number: a render that finishes after a newer route began (a 401 signing the tab out) stays quiet.
let generation = 0;
// Why the sign-in page is shown (a failed provider sign-in, a token the API refused), shown once.
let signInProblem = '';

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

async function signInPage(main, problem, mine) {
  main.dataset.page = 'signin';
  document.title = 'Sign in · Metering console';
  const area = h('textarea', { id: 'token', name: 'token', required: true, autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'token-help' });
  const message = h('p', { id: 'signin-message', role: 'alert', class: problem ? 'error' : null }, problem || '');
  let provider = null;
  try { provider = await providerConfig(); } catch (e) { provider = { enabled: false, problem: String(e && e.message || e) }; }
  if (mine !== generation) return;
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
  h('label', { for: 'token' }, 'Bearer token (JWT)'), area,
  h('p', { id: 'token-help', class: 'muted' }, 'The same token the API takes (scopes usage:read, billing:read; an account claim limits it to that account). ',
    'It is kept in this tab only (sessionStorage). For the embedded main job, bash scripts/run.sh prints a ready link (docs/console.md).'),
  h('button', { type: 'submit', id: 'signin', class: provider.enabled ? 'secondary' : null }, 'Sign in'));
  const parts = [h('h1', {}, 'Sign in'), message];
  if (provider.enabled) {
    // Back to the page that asked for the sign-in (not to the sign-in page itself).
    const here = location.hash.split('?')[0];
    const returnTo = here && here !== '#/signin' && here !== '#' && here !== '#/' ? location.hash : '#/usage';
    const button = h('button', { type: 'button', id: 'oidc-signin', onclick: async () => {
      button.disabled = true;
      try { await beginSignIn(provider, returnTo); } catch (e) {
        message.textContent = String(e && e.message || e); message.className = 'error'; button.disabled = false;
      }
    } }, 'Sign in with ' + provider.name);
    parts.push(h('section', { class: 'signin', 'aria-labelledby': 'oidc-h' },
      h('h2', { id: 'oidc-h' }, 'Your identity provider'), button,
      h('p', { class: 'muted' }, `Signs in at ${provider.issuer} and comes back here; the provider's access token is kept in this tab only.`)),
    h('h2', {}, 'Or paste a token'));
  } else if (provider.problem) {
    parts.push(h('p', { class: 'note' }, 'Whether this server signs in through an identity provider could not be read (' + provider.problem + '); paste a token instead.'));
  }
  parts.push(form);
  main.replaceChildren(...parts);
  main.dataset.state = 'ready';
}

// The provider sent the browser back to /console/callback?code=&state= (or ?error=): finish the sign-in, then take the
// code out of the address (history, bookmarks) before anything else runs.
async function finishProviderSignIn() {
  const query = new URLSearchParams(location.search);
  let target = '#/signin';
  try {
    const { accessToken, returnTo } = await completeSignIn(query);
    signOut();
    setToken(accessToken);
    target = returnTo || '#/usage';
  } catch (e) {
    signOut(); // no token from a failed sign-in, nor an older one it was meant to replace
    signInProblem = String(e && e.message || e);
  }
  history.replaceState(null, '', location.pathname.replace(/callback$/, '') + target);
}

async function route() {
  const mine = ++generation;
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
  if (!token() || !c || name === 'signin') {
    const problem = signInProblem || (token() && !c ? 'The stored token could not be read; paste it again.' : '');
    signInProblem = '';
    await signInPage(main, problem, mine);
    return;
  }
  const page = pages[name];
  if (!page) { main.replaceChildren(h('h1', {}, 'Not found'), h('p', {}, 'No console page ' + name + '.')); main.dataset.page = name; main.dataset.state = 'ready'; return; }
  current = page;
  main.dataset.page = name;
  document.title = page.title + ' · Metering console';
  try {
    await page.render(main, routeParams(), c);
    if (mine !== generation) return;
    main.dataset.state = main.querySelector('[role="alert"].error') ? 'error' : 'ready';
  } catch (e) {
    if (mine !== generation) return;
    main.append(h('p', { class: 'error', role: 'alert' }, String(e && e.message || e)));
    main.dataset.state = 'error';
  }
}

// The API refused the token (api.js): signed out, and the sign-in page says why.
window.addEventListener('metering:signedout', e => {
  if (current && current.leave) current.leave();
  current = null;
  signInProblem = `You are signed out: the API no longer accepts the token (${e.detail}). Sign in again.`;
  route();
});
window.addEventListener('hashchange', route);
if (location.pathname.endsWith('/callback')) await finishProviderSignIn();
route();
