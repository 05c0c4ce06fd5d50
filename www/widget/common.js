// Plumbing shared by the widgets: the init handshake with the host page,
// the style allow-list, events, API calls and error messages.
//
// Protocol (docs/widgets.md, "Message channel"): the host sends one message
// { type: 'paysecure:init', v: 1, channel, token, ephemeralKey, appearance, ... }
// from window.parent. The widget answers only with
// { type: 'paysecure:event', v: 1, channel, event, ...non-sensitive details }
// to that window and origin. Card data never leaves this frame.
import init, { Session } from '/pkg/paysecure_wasm_reveal.js';

const wasmReady = init();

/** CSS variables a host may set, with a conservative value syntax (the SDK checks the same). */
export const STYLE_VARIABLES = [
  '--ps-font-family', '--ps-font-size', '--ps-text', '--ps-muted', '--ps-background',
  '--ps-surface', '--ps-accent', '--ps-accent-text', '--ps-error', '--ps-radius', '--ps-border',
];
const SAFE_VALUE = /^[#(),.%\w\s'"-]{1,80}$/;
const FONT_FAMILY = /^[A-Za-z0-9 _-]{1,64}$/;
const FONT_WEIGHT = /^(normal|bold|[1-9]00( [1-9]00)?)$/;
const MAX_FONTS = 8;
const PROTOCOL_VERSION = 1;

/** Sets the allowed CSS variables; anything else is dropped. */
export function applyStyle(variables) {
  if (!variables || typeof variables !== 'object') return;
  for (const [name, value] of Object.entries(variables)) {
    if (STYLE_VARIABLES.includes(name) && typeof value === 'string' && SAFE_VALUE.test(value) && !/url\(|expression|image/i.test(value)) {
      document.documentElement.style.setProperty(name, value);
    }
  }
}

/**
 * Loads the host's fonts through the CSS Font Loading API: one https font
 * file per face, family/weight/style/display only. No stylesheet is loaded
 * (no host CSS in this frame), no unicode-range (per-character requests
 * would leak which digits are shown), and the card values and PIN inputs
 * keep the frame's own monospace stack (widget.css), so no host font ever
 * renders a secret. The CSP's font-src admits https: for these.
 */
export function applyFonts(fonts) {
  if (!Array.isArray(fonts) || typeof FontFace === 'undefined') return;
  for (const f of fonts.slice(0, MAX_FONTS)) {
    if (!f || typeof f.family !== 'string' || !FONT_FAMILY.test(f.family) || typeof f.src !== 'string') continue;
    let url;
    try {
      url = new URL(f.src);
    } catch {
      continue;
    }
    if (url.protocol !== 'https:' || url.username || url.password || url.href.length > 2048) continue;
    const descriptors = {};
    if (typeof f.weight === 'string' && FONT_WEIGHT.test(f.weight)) descriptors.weight = f.weight;
    if (['normal', 'italic', 'oblique'].includes(f.style)) descriptors.style = f.style;
    if (['auto', 'block', 'swap', 'fallback', 'optional'].includes(f.display)) descriptors.display = f.display;
    // A parsed URL's href has no quote, backslash or newline: it cannot end the url() early.
    const face = new FontFace(f.family, `url("${url.href}")`, descriptors);
    document.fonts.add(face);
    face.load().catch(() => { /* the fallback fonts of --ps-font-family apply */ });
  }
}

/** The error codes the host SDK knows (ERROR_CODES in www/elements/src/index.js). */
const PUBLIC_CODES = new Set([
  'UNAUTHORIZED', 'FORBIDDEN', 'CARD_NOT_FOUND', 'RATE_LIMITED', 'PIN_BLOCKED', 'PIN_NOT_SET',
  'WEAK_PIN', 'INVALID_PIN', 'INVALID_PIN_BLOCK', 'NETWORK_ERROR',
]);

/** The code the host hears for an error: one of its typed union. */
export function publicCode(code) {
  if (PUBLIC_CODES.has(code)) return code;
  if (code === 'TOKEN_EXPIRED') return 'UNAUTHORIZED';
  if (code === 'INTERNAL' || code === 'NOT_READY' || code === 'TIMEOUT' || /^HTTP_5\d\d$/.test(code)) return 'SERVER_ERROR';
  return 'UNEXPECTED';
}

/**
 * Posts the content height to the host whenever it changes (ResizeObserver
 * on <body>, which is as tall as its content: widget.css gives it no height).
 */
function watchHeight(emit) {
  let last = -1;
  const send = () => {
    const height = Math.ceil(document.body.getBoundingClientRect().height);
    if (height !== last) {
      last = height;
      emit('resize', { height });
    }
  };
  if (typeof ResizeObserver !== 'undefined') new ResizeObserver(send).observe(document.body);
  send();
}

/**
 * Waits for the host's init message; resolves to { options, emit }. Only the
 * first well-formed init from the parent window counts; every event goes to
 * that window and origin only, tagged with the host's channel id.
 */
export function connect() {
  return new Promise((resolve) => {
    const onMessage = (e) => {
      const m = e.data;
      if (e.source !== window.parent || window.parent === window || !m || m.type !== 'paysecure:init') return;
      if (m.v !== PROTOCOL_VERSION || typeof m.channel !== 'string' || !/^[0-9a-f]{32}$/.test(m.channel)) return;
      if (typeof m.token !== 'string' || !/^tok_[0-9a-f]{8,64}$/.test(m.token)) return;
      if (typeof m.ephemeralKey !== 'string' || !/^pse_[A-Za-z0-9_-]{20,100}$/.test(m.ephemeralKey)) return;
      if (e.origin === 'null') return; // an opaque (sandboxed) host cannot be answered by origin
      window.removeEventListener('message', onMessage);
      const host = e.origin;
      const parent = window.parent;
      const emit = (event, detail = {}) => parent.postMessage({ ...detail, type: 'paysecure:event', v: PROTOCOL_VERSION, channel: m.channel, event }, host);
      const appearance = m.appearance && typeof m.appearance === 'object' ? m.appearance : {};
      applyStyle(appearance.variables);
      applyFonts(appearance.fonts);
      wasmReady.then(() => {
        watchHeight(emit);
        resolve({ options: m, emit });
      });
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

/** The host-facing code of a caught error. */
export const codeOf = (e) => publicCode(e && typeof e.code === 'string' ? e.code : 'UNEXPECTED');

/** Clamps a host-provided number of milliseconds. */
export function clampMs(value, fallback, min, max) {
  const n = Number(value);
  return Number.isFinite(n) ? Math.min(Math.max(n, min), max) : fallback;
}
