// Plumbing shared by the widgets: the init handshake with the host page,
// the style allow-list, events, API calls and error messages.
//
// Protocol: the host sends one message { type: 'paysecure:init', token,
// ephemeralKey, ... } from window.parent. The widget answers only with
// { type: 'paysecure:event', event, ...non-sensitive details } to that
// origin. Card data never leaves this frame.
import init, { Session } from '/pkg/paysecure_wasm.js';

const wasmReady = init();

/** CSS variables a host may set, with a conservative value syntax. */
export const STYLE_VARIABLES = [
  '--ps-font-family', '--ps-font-size', '--ps-text', '--ps-muted', '--ps-background',
  '--ps-surface', '--ps-accent', '--ps-accent-text', '--ps-error', '--ps-radius', '--ps-border',
];
const SAFE_VALUE = /^[#(),.%\w\s'"-]{1,80}$/;

export function applyStyle(style) {
  if (!style || typeof style !== 'object') return;
  for (const [name, value] of Object.entries(style)) {
    if (STYLE_VARIABLES.includes(name) && typeof value === 'string' && SAFE_VALUE.test(value) && !/url\(|expression|image/i.test(value)) {
      document.documentElement.style.setProperty(name, value);
    }
  }
}

/** Waits for the host's init message; resolves to { options, emit }. */
export function connect() {
  return new Promise((resolve) => {
    const onMessage = (e) => {
      const m = e.data;
      if (e.source !== window.parent || !m || m.type !== 'paysecure:init') return;
      if (typeof m.token !== 'string' || !/^tok_[0-9a-f]{8,64}$/.test(m.token)) return;
      if (typeof m.ephemeralKey !== 'string' || !/^pse_[A-Za-z0-9_-]{20,100}$/.test(m.ephemeralKey)) return;
      window.removeEventListener('message', onMessage);
      const host = e.origin;
      const emit = (event, detail = {}) => window.parent.postMessage({ type: 'paysecure:event', event, ...detail }, host);
      applyStyle(m.style);
      wasmReady.then(() => resolve({ options: m, emit }));
    };
    window.addEventListener('message', onMessage);
  });
}

export class ApiError extends Error {
  constructor(code, status) {
    super(code);
    this.code = code;
    this.status = status;
  }
}

let publicKey;

/**
 * One API call under a fresh session (new key, new session id, wiped after).
 * `body(session)` builds the request body; `read(json, session)` reads the answer.
 */
export async function withSession(method, path, key, body, read) {
  if (!publicKey) {
    const res = await request('GET', '/v2/public-key');
    publicKey = (await res.json()).publicKey;
  }
  const session = Session.create(publicKey, { version: 'v2' });
  try {
    const res = await request(method, path, {
      authorization: `Bearer ${key}`,
      'session-id': session.sessionId,
      ...(body ? { 'content-type': 'application/json' } : {}),
    }, body ? JSON.stringify(body(session)) : undefined);
    return read(await res.json(), session);
  } finally {
    session.free();
  }
}

async function request(method, path, headers = {}, body) {
  let res;
  try {
    res = await fetch(path, { method, headers, body, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' });
  } catch {
    throw new ApiError('NETWORK_ERROR', 0);
  }
  if (!res.ok) {
    let code = 'HTTP_' + res.status;
    try {
      code = (await res.json()).error.code || code;
    } catch { /* not our envelope */ }
    throw new ApiError(code, res.status);
  }
  return res;
}

/** What a cardholder should read for an error code. */
export function describe(code) {
  switch (code) {
    case 'UNAUTHORIZED': return 'This secure view has expired. Close it and open it again.';
    case 'FORBIDDEN': return 'This view is not allowed to do that.';
    case 'NETWORK_ERROR': return 'Cannot reach the card service. Check your connection and try again.';
    case 'RATE_LIMITED': return 'Too many attempts. Wait a minute and try again.';
    case 'PIN_BLOCKED': return 'The PIN is blocked after three wrong attempts. Contact your card issuer to unblock it.';
    case 'PIN_NOT_SET': return 'No PIN has been set for this card yet.';
    case 'WEAK_PIN': return 'That PIN is too easy to guess. Choose another.';
    case 'CARD_NOT_FOUND': return 'This card could not be found.';
    case 'INVALID_PIN_BLOCK': case 'INVALID_PIN': return 'That PIN is not valid.';
    default: return 'Something went wrong. Please try again.';
  }
}

export const codeOf = (e) => (e && typeof e.code === 'string' ? e.code : 'UNEXPECTED');

/** Clamps a host-provided number of milliseconds. */
export function clampMs(value, fallback, min, max) {
  const n = Number(value);
  return Number.isFinite(n) ? Math.min(Math.max(n, min), max) : fallback;
}
