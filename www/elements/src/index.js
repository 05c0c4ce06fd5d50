// @paysecure/elements: the host-side SDK of the PaySecure widgets.
//
// Mounts the card-reveal and PIN widgets in an iframe of the card service's
// own origin. The host page never receives card data, only events. This one
// file is both the npm entry (`@paysecure/elements`) and the script-tag copy
// the server serves at /sdk/paysecure-embed.js: it imports nothing and touches
// no browser global until a widget is mounted (safe to import during SSR).
//
// The message channel (docs/widgets.md, "Message channel"):
//   host -> frame, once, after the iframe loads, to the widget origin only:
//     { type: 'paysecure:init', v: 1, channel, token, ephemeralKey, appearance, remaskAfterMs, features }
//   frame -> host, to the origin that sent init only:
//     { type: 'paysecure:event', v: 1, channel, event, ...details }
// The host accepts a message only if it comes from its own iframe's window,
// from the widget origin, and carries the mount's channel id (128 random
// bits): two widgets on one page never see each other's events, and a frame
// that navigated or reloaded cannot speak for the mount it replaced.

/** The protocol version both sides speak. */
export const PROTOCOL_VERSION = 1;

/** CSS variables a host may set (the frame enforces the same list). */
export const STYLE_VARIABLES = Object.freeze([
  '--ps-font-family', '--ps-font-size', '--ps-text', '--ps-muted', '--ps-background',
  '--ps-surface', '--ps-accent', '--ps-accent-text', '--ps-error', '--ps-radius', '--ps-border',
]);

/** Every error code an `error` event (or a rejected `ready`) can carry. */
export const ERROR_CODES = Object.freeze([
  'UNAUTHORIZED', 'FORBIDDEN', 'CARD_NOT_FOUND', 'RATE_LIMITED', 'PIN_BLOCKED', 'PIN_NOT_SET',
  'WEAK_PIN', 'INVALID_PIN', 'INVALID_PIN_BLOCK', 'NETWORK_ERROR', 'SERVER_ERROR', 'UNEXPECTED',
  'FRAME_TIMEOUT', 'DESTROYED',
]);

/** The events a widget emits, each with the fields it may carry. */
const EVENT_FIELDS = {
  ready: {},
  revealed: {},
  copied: { field: 'field' },
  'copy-unavailable': { field: 'field' },
  hidden: { reason: 'reason' },
  'pin-set': {},
  'pin-refused': { reason: 'reason' },
  'pin-revealed': {},
  'pin-hidden': {},
  verified: { verified: 'boolean', triesRemaining: 'count' },
  blocked: { code: 'code' },
  resize: { height: 'height' },
  error: { code: 'code' },
};
/** Allowed values of the enumerated fields. */
const ENUMS = {
  field: ['pan', 'expiry', 'cvv2'],
  reason: ['user', 'timeout', 'WEAK_PIN'],
  code: ERROR_CODES,
};

const DEFAULT_HEIGHT = { reveal: 260, pin: 660 };
const DEFAULT_MAX_HEIGHT = 2000;
const DEFAULT_READY_TIMEOUT_MS = 20000;
const MOCK_ISSUER = Symbol.for('@paysecure/elements/mock-issuer');

/** The error `ready` rejects with (and `error` events describe). */
export class ElementsError extends Error {
  constructor(code, message) {
    super(message || code);
    this.name = 'ElementsError';
    this.code = code;
  }
}

function randomChannel() {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The widget origin: https, or http on a loopback host (development). */
function widgetOrigin(apiOrigin) {
  let url;
  try {
    url = new URL(apiOrigin);
  } catch {
    throw new TypeError('apiOrigin must be an absolute URL such as https://cards.example.com');
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new TypeError('apiOrigin must be https (http only on localhost / 127.0.0.1)');
  }
  return url.origin;
}

const FONT_FAMILY = /^[A-Za-z0-9 _-]{1,64}$/;
const FONT_WEIGHT = /^(normal|bold|[1-9]00( [1-9]00)?)$/;
const FONT_STYLE = ['normal', 'italic', 'oblique'];
const FONT_DISPLAY = ['auto', 'block', 'swap', 'fallback', 'optional'];
const SAFE_VALUE = /^[#(),.%\w\s'"-]{1,80}$/;

/**
 * Checks `appearance` and returns the plain copy the frame receives. Fonts
 * are @font-face descriptors whose `src` is one https URL of a font file:
 * no stylesheet URL (that would let the host inject any CSS into the frame),
 * no `unicodeRange` (per-character font requests could tell which digits the
 * frame shows). The frame checks all this again.
 */
function checkAppearance(appearance, style) {
  const variables = { ...(style || {}), ...((appearance && appearance.variables) || {}) };
  const out = { variables: {}, fonts: [] };
  for (const [name, value] of Object.entries(variables)) {
    if (!STYLE_VARIABLES.includes(name)) throw new TypeError(`appearance.variables: unknown variable ${name}`);
    if (typeof value !== 'string' || !SAFE_VALUE.test(value) || /url\(|expression|image/i.test(value)) {
      throw new TypeError(`appearance.variables: refused value for ${name}`);
    }
    out.variables[name] = value;
  }
  const fonts = (appearance && appearance.fonts) || [];
  if (!Array.isArray(fonts) || fonts.length > 8) throw new TypeError('appearance.fonts: an array of at most 8 fonts');
  fonts.forEach((f, i) => {
    const where = `appearance.fonts[${i}]`;
    if (!f || typeof f !== 'object') throw new TypeError(`${where}: an object { family, src }`);
    if (typeof f.family !== 'string' || !FONT_FAMILY.test(f.family)) throw new TypeError(`${where}.family: letters, digits, spaces, - and _ only`);
    let src;
    try {
      src = new URL(f.src);
    } catch {
      throw new TypeError(`${where}.src: an absolute https URL of a font file`);
    }
    if (src.protocol !== 'https:' || src.username || src.password || src.href.length > 2048) {
      throw new TypeError(`${where}.src: an https URL of a font file (no other scheme, no credentials)`);
    }
    if (f.weight !== undefined && !(typeof f.weight === 'string' && FONT_WEIGHT.test(f.weight))) throw new TypeError(`${where}.weight: e.g. '400' or '100 900'`);
    if (f.style !== undefined && !FONT_STYLE.includes(f.style)) throw new TypeError(`${where}.style: ${FONT_STYLE.join(', ')}`);
    if (f.display !== undefined && !FONT_DISPLAY.includes(f.display)) throw new TypeError(`${where}.display: ${FONT_DISPLAY.join(', ')}`);
    const font = { family: f.family, src: src.href };
    for (const k of ['weight', 'style', 'display']) if (f[k] !== undefined) font[k] = f[k];
    out.fonts.push(font);
  });
  return out;
}

function checkNumber(value, name, min, max) {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new TypeError(`${name}: a number from ${min} to ${max}`);
  }
  return value;
}

/** The message's event with only its known, well-typed fields; null if malformed. */
function readEvent(m, maxHeight) {
  const shape = Object.prototype.hasOwnProperty.call(EVENT_FIELDS, m.event) ? EVENT_FIELDS[m.event] : null;
  if (!shape) return null;
  const e = { event: m.event };
  for (const [key, kind] of Object.entries(shape)) {
    const v = m[key];
    if (kind === 'boolean') {
      if (typeof v !== 'boolean') return null;
    } else if (kind === 'count') {
      if (!Number.isInteger(v) || v < 0 || v > 100) return null;
    } else if (kind === 'height') {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) return null;
      e[key] = Math.min(Math.ceil(v), maxHeight);
      continue;
    } else if (!ENUMS[kind].includes(v)) {
      if (kind === 'code' && typeof v === 'string') {
        e[key] = 'UNEXPECTED'; // an issuer code this SDK does not know yet
        continue;
      }
      return null;
    }
    e[key] = v;
  }
  return e;
}

function mount(element, widget, title, opts) {
  if (typeof Element === 'undefined' || !(element instanceof Element)) throw new TypeError('mount target must be a DOM element');
  if (!opts || typeof opts !== 'object') throw new TypeError('options are required: { apiOrigin, token, ephemeralKey }');
  const origin = widgetOrigin(opts.apiOrigin);
  if (typeof opts.token !== 'string' || typeof opts.ephemeralKey !== 'string') throw new TypeError('token and ephemeralKey must be strings');
  const appearance = checkAppearance(opts.appearance, opts.style);
  const remaskAfterMs = checkNumber(opts.remaskAfterMs, 'remaskAfterMs', 1000, 600000);
  const maxHeight = checkNumber(opts.maxHeight, 'maxHeight', 50, 10000) ?? DEFAULT_MAX_HEIGHT;
  const height = checkNumber(opts.height, 'height', 0, 10000) ?? DEFAULT_HEIGHT[widget];
  const readyTimeoutMs = checkNumber(opts.readyTimeoutMs, 'readyTimeoutMs', 0, 600000) ?? DEFAULT_READY_TIMEOUT_MS;
  const autoHeight = opts.autoHeight !== false;
  let features;
  if (opts.features !== undefined) {
    if (!Array.isArray(opts.features) || !opts.features.every((f) => ['set', 'reveal', 'verify'].includes(f))) {
      throw new TypeError("features: a list of 'set', 'reveal', 'verify'");
    }
    features = [...opts.features];
  }
  const channel = randomChannel();
  const init = { type: 'paysecure:init', v: PROTOCOL_VERSION, channel, token: opts.token, ephemeralKey: opts.ephemeralKey, appearance, remaskAfterMs, features };
  const listeners = new Map();
  let destroyed = false;
  let isReady = false;
  let readyTimer = 0;
  let settleReady;
  const ready = new Promise((resolve, reject) => {
    settleReady = (err) => (err ? reject(err) : resolve());
  });
  ready.catch(() => {}); // a host that never awaits `ready` gets no unhandled rejection

  const iframe = document.createElement('iframe');
  iframe.title = opts.title || title;
  iframe.allow = 'clipboard-write';
  iframe.referrerPolicy = 'no-referrer';
  iframe.loading = 'eager';
  iframe.setAttribute('scrolling', autoHeight ? 'no' : 'auto');
  iframe.style.border = '0';
  iframe.style.width = '100%';
  iframe.style.display = 'block';
  iframe.style.height = `${height}px`;
  iframe.dataset.paysecureWidget = widget;

  function dispatch(e) {
    if (destroyed) return;
    if (e.event === 'resize' && autoHeight) iframe.style.height = `${e.height}px`;
    if (e.event === 'ready' && !isReady) {
      isReady = true;
      clearTimeout(readyTimer);
      settleReady();
    }
    if (e.event === 'error' && !isReady) settleReady(new ElementsError(e.code));
    if (typeof opts.onEvent === 'function') opts.onEvent(e);
    for (const cb of [...(listeners.get(e.event) || []), ...(listeners.get('*') || [])]) cb(e);
  }

  // What the frame said, after the origin and source checks: the channel,
  // the version and the event's shape.
  function receive(m) {
    if (!m || typeof m !== 'object' || m.type !== 'paysecure:event' || m.v !== PROTOCOL_VERSION || m.channel !== channel) return;
    const e = readEvent(m, maxHeight);
    if (e) dispatch(e);
  }
  const mock = globalThis[MOCK_ISSUER];
  const mocked = Boolean(mock && mock.origin === origin);
  function onMessage(e) {
    const frame = iframe.contentWindow;
    if (!frame || e.source !== frame || e.origin !== origin) return;
    receive(e.data);
  }
  window.addEventListener('message', onMessage);
  if (mocked) {
    // @paysecure/elements/testing: no network (an empty srcdoc document);
    // the mock answers the same protocol through the same checks (testing.js).
    iframe.srcdoc = '<!doctype html><title>PaySecure mock frame</title>';
    element.replaceChildren(iframe);
    mock.connect({ widget, iframe, init, origin });
  } else {
    iframe.src = `${origin}/widget/${widget}.html`;
    iframe.addEventListener('load', () => {
      // The token and key go to the widget origin only, never in a URL. If the
      // frame is not (or no longer) our widget page, targetOrigin drops them.
      if (!destroyed && iframe.contentWindow) iframe.contentWindow.postMessage(init, origin);
    }, { once: true });
    element.replaceChildren(iframe);
  }
  if (readyTimeoutMs > 0) {
    readyTimer = setTimeout(() => {
      if (!isReady && !destroyed) dispatch({ event: 'error', code: 'FRAME_TIMEOUT' });
    }, readyTimeoutMs);
  }

  return {
    iframe,
    ready,
    get destroyed() {
      return destroyed;
    },
    on(event, callback) {
      if (typeof callback !== 'function') throw new TypeError('callback must be a function');
      if (!listeners.has(event)) listeners.set(event, new Set());
      listeners.get(event).add(callback);
      return this;
    },
    off(event, callback) {
      listeners.get(event)?.delete(callback);
      return this;
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      clearTimeout(readyTimer);
      window.removeEventListener('message', onMessage);
      listeners.clear();
      if (!isReady) settleReady(new ElementsError('DESTROYED', 'the widget was destroyed before it was ready'));
      if (mocked) mock.disconnect(iframe);
      iframe.remove();
    },
  };
}

/** The card-reveal widget: PAN, expiry and CVV2 with copy buttons and re-masking. */
export function mountCardReveal(element, options) {
  return mount(element, 'reveal', 'Card details', options);
}

/** The PIN widget: set, reveal and verify the PIN (`options.features` picks which). */
export function mountPin(element, options) {
  return mount(element, 'pin', 'Card PIN', options);
}

/** The former name of {@link mountPin}. */
export const mountSetPin = mountPin;
