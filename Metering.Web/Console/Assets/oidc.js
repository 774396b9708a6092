// Sign-in through the server's OpenID Connect provider: the authorization code flow with PKCE (RFC 7636, S256), as a
// public client. The page keeps the verifier, state and nonce of the one sign-in under way in sessionStorage (this
// tab only) and sends the verifier nowhere but to its own server, which redeems the code at the provider's token
// endpoint (POST /console/oidc/token: the page's policy allows fetches to this origin only; docs/console.md).

const PENDING_KEY = 'metering.console.oidc';
let config = null;

/** The server's provider ({enabled: false} when none is configured); read once per page load. */
export async function providerConfig() {
  if (config) return config;
  const response = await fetch('/console/oidc.json', { headers: { Accept: 'application/json' }, credentials: 'omit', cache: 'no-store' });
  if (!response.ok) throw new Error(`/console/oidc.json answered ${response.status}`);
  config = await response.json();
  return config;
}

function base64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function random(bytes) { return base64url(crypto.getRandomValues(new Uint8Array(bytes))); }

/** BASE64URL(SHA-256(ASCII(verifier))): the S256 challenge of RFC 7636 section 4.2. */
export async function challengeOf(verifier) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/** Sends the browser to the provider; after signing in it comes back to the callback with ?code=&state=. */
export async function beginSignIn(provider, returnTo) {
  if (!window.isSecureContext || !crypto.subtle) {
    throw new Error('signing in through the provider needs a secure page (https, or http on localhost): the browser offers no SHA-256 here');
  }
  // 32 random bytes: a 43-character verifier, the shortest RFC 7636 allows, with 256 bits of entropy.
  const verifier = random(32);
  const pending = { state: random(16), nonce: random(16), verifier, issuer: provider.issuer, returnTo, started: Date.now() };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const url = new URL(provider.authorization_endpoint);
  const params = {
    response_type: 'code', client_id: provider.client_id, redirect_uri: provider.redirect_uri, scope: provider.scopes,
    state: pending.state, nonce: pending.nonce, code_challenge: await challengeOf(verifier), code_challenge_method: 'S256',
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  location.assign(url.toString());
}

export function forgetPending() { sessionStorage.removeItem(PENDING_KEY); }

function payload(jwt) {
  const parts = String(jwt).split('.');
  if (parts.length !== 3) throw new Error('the ID token is not a JWT');
  const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(b64 + '='.repeat((4 - b64.length % 4) % 4)), c => c.charCodeAt(0))));
}

/**
 * Finishes the sign-in on the callback page: checks the answer against the sign-in this tab started, redeems the code
 * through the server and returns { accessToken, returnTo }. Throws an Error whose message is shown to the user; the
 * pending sign-in is gone either way (a code and its verifier are used once).
 */
export async function completeSignIn(query) {
  const raw = sessionStorage.getItem(PENDING_KEY);
  forgetPending();
  const error = query.get('error');
  if (error) {
    const description = query.get('error_description');
    throw new Error(`The identity provider did not sign you in: ${error}${description ? ' (' + description + ')' : ''}.`);
  }
  if (!raw) throw new Error('This sign-in was not started in this tab (or was already finished): start it again.');
  const pending = JSON.parse(raw);
  // The state ties the answer to the request this tab made (RFC 6749 section 10.12): anything else may be forged.
  if (query.get('state') !== pending.state) throw new Error('The answer does not belong to the sign-in this tab started (state mismatch); nothing was kept. Start it again.');
  const provider = await providerConfig();
  // RFC 9207: a provider that names itself must be the one this sign-in went to.
  if (query.get('iss') && query.get('iss') !== pending.issuer) throw new Error(`The answer came from ${query.get('iss')}, not from ${pending.issuer}; nothing was kept.`);
  if (!provider.enabled || provider.issuer !== pending.issuer) throw new Error('The server no longer uses the provider this sign-in went to; start it again.');
  const code = query.get('code');
  if (!code) throw new Error('The identity provider sent no authorization code back.');

  const response = await fetch('/console/oidc/token', {
    method: 'POST', headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
    body: JSON.stringify({ code, code_verifier: pending.verifier }), credentials: 'omit', cache: 'no-store',
  });
  let body = {};
  try { body = await response.json(); } catch { /* no JSON: the status says it */ }
  if (!response.ok) throw new Error(`The sign-in failed: ${body.detail || body.title || response.status}.`);
  if (body.id_token) {
    // Received straight from the token endpoint, so TLS vouches for its origin (OpenID Connect Core 3.1.3.7); what
    // this page must check is that it answers the request this tab made.
    const id = payload(body.id_token);
    if (id.nonce !== pending.nonce) throw new Error('The ID token does not answer this sign-in (nonce mismatch); nothing was kept.');
    if (id.iss !== pending.issuer) throw new Error(`The ID token names issuer ${id.iss}, not ${pending.issuer}; nothing was kept.`);
  }
  return { accessToken: body.access_token, returnTo: pending.returnTo };
}
