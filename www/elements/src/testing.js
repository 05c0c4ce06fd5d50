// @paysecure/elements/testing: a mock issuer for unit tests of host pages.
//
// Installed, it takes the place of the card service's frames for one origin:
// mountCardReveal / mountPin (and the React and Vue components) still create
// their iframe, but on an empty srcdoc document (no request), and the mock answers the init
// message with the events a real frame would send. Those events reach the
// SDK as `message` events from the iframe's window and the widget origin, so
// they pass the same origin, source, channel and shape checks as real ones.
// No network, no server, no card data (the real frames never send any).
// Works in jsdom, happy-dom and real browsers.
//
//   const issuer = createMockIssuer().install();
//   render(<CardReveal apiOrigin={issuer.origin} token="tok_0123456789abcdef" ephemeralKey={issuer.ephemeralKey} onRevealed={…} />);
//   const frame = await issuer.nextFrame();   // the mounted widget
//   frame.copy('pan');                         // -> onCopied({ field: 'pan' })
//   issuer.uninstall();

const KEY = Symbol.for('@paysecure/elements/mock-issuer');
const TOKEN = /^tok_[0-9a-f]{8,64}$/;
const EPHEMERAL_KEY = /^pse_[A-Za-z0-9_-]{20,100}$/;

/** Waits for the next macrotask, like a message from another frame. */
const later = (fn) => setTimeout(fn, 0);

class MockFrame {
  constructor(issuer, { widget, iframe, init, origin }) {
    this.issuer = issuer;
    /** 'reveal' or 'pin'. */
    this.widget = widget;
    /** The SDK's iframe (an empty srcdoc document). */
    this.iframe = iframe;
    /** What the SDK sent: { channel, token, ephemeralKey, appearance, remaskAfterMs, features }. */
    this.init = init;
    this.origin = origin;
    this.connected = true;
    /** Every event this frame sent, in order. */
    this.sent = [];
    /** 'masked' or 'revealed' (reveal widget). */
    this.state = 'masked';
  }

  /** Sends an event as the frame would (any name and fields: test the SDK's checks too). */
  emit(event, detail = {}) {
    if (!this.connected) throw new Error('this mock frame was destroyed');
    const data = { ...detail, type: 'paysecure:event', v: 1, channel: this.init.channel, event };
    this.sent.push({ event, ...detail });
    const win = this.iframe.ownerDocument.defaultView;
    win.dispatchEvent(new win.MessageEvent('message', { data, origin: this.origin, source: this.iframe.contentWindow }));
    return this;
  }

  /** The cardholder pressed Show (reveal widget): `revealed`, or `error` with `issuer.failWith`. */
  reveal() {
    if (this.issuer.failWith) return this.emit('error', { code: this.issuer.failWith });
    this.state = 'revealed';
    return this.emit('revealed');
  }

  /** The values were masked again (`reason`: 'user' or 'timeout'). */
  hide(reason = 'user') {
    this.state = 'masked';
    return this.emit('hidden', { reason });
  }

  /** A copy button: `copied`, or `copy-unavailable` when `available` is false. */
  copy(field = 'pan', available = true) {
    return this.emit(available ? 'copied' : 'copy-unavailable', { field });
  }

  /** The PIN widget set a PIN (or failed with `issuer.failWith`). */
  setPin() {
    if (this.issuer.failWith) return this.emit('error', { code: this.issuer.failWith });
    return this.emit('pin-set');
  }

  /** A PIN check: right, or wrong with `triesRemaining` (0 also sends `blocked`). */
  verify(right, triesRemaining = right ? 3 : 2) {
    this.emit('verified', { verified: right, triesRemaining });
    if (!right && triesRemaining === 0) this.emit('blocked', { code: 'PIN_BLOCKED' });
    return this;
  }

  /** An error with one of the SDK's codes. */
  error(code) {
    return this.emit('error', { code });
  }

  /** The frame's content is now `height` px tall. */
  resize(height) {
    return this.emit('resize', { height });
  }
}

/**
 * A mock issuer for `origin` (default https://cards.mock.invalid).
 * Options: `autoReady` (default true: answer init with `ready` and a
 * `resize`), `autoReveal` (default true: the reveal widget then reveals, as
 * the real one does on load), `height` (px, default 240), `failWith` (an
 * error code: reveal and setPin fail with it; the widget still gets ready).
 */
export function createMockIssuer(options = {}) {
  const origin = new URL(options.origin || 'https://cards.mock.invalid').origin;
  const waiting = [];
  const issuer = {
    origin,
    /** An ephemeral key of the right format, for tests. */
    ephemeralKey: 'pse_mockmockmockmockmockmock',
    /** A card token of the right format, for tests. */
    token: 'tok_0123456789abcdef',
    failWith: options.failWith || null,
    /** Every frame mounted while installed (destroyed ones too). */
    frames: [],
    /** Init messages that failed the frame's checks (the frame stays silent, as a real one does). */
    rejected: [],

    /** Makes mounts for `origin` use this mock; returns the issuer. */
    install() {
      if (globalThis[KEY] && globalThis[KEY] !== controller) throw new Error('another mock issuer is installed');
      globalThis[KEY] = controller;
      return issuer;
    },
    /** Puts the real frames back. */
    uninstall() {
      if (globalThis[KEY] === controller) delete globalThis[KEY];
    },
    /** The frames still mounted. */
    get mounted() {
      return issuer.frames.filter((f) => f.connected);
    },
    /** Resolves with the next frame to be mounted (or the latest one not yet taken). */
    nextFrame() {
      const pending = issuer.frames.find((f) => !f.taken);
      if (pending) {
        pending.taken = true;
        return Promise.resolve(pending);
      }
      return new Promise((resolve) => waiting.push(resolve));
    },
  };

  const controller = {
    origin,
    connect(connection) {
      const { init, widget } = connection;
      // The real frame's checks: version, channel, token and key formats.
      if (init.v !== 1 || !/^[0-9a-f]{32}$/.test(init.channel) || !TOKEN.test(init.token) || !EPHEMERAL_KEY.test(init.ephemeralKey)) {
        issuer.rejected.push({ widget, token: init.token });
        return;
      }
      const frame = new MockFrame(issuer, connection);
      issuer.frames.push(frame);
      const waiter = waiting.shift();
      if (waiter) {
        frame.taken = true;
        waiter(frame);
      }
      if (options.autoReady === false) return;
      later(() => {
        if (!frame.connected) return;
        frame.emit('ready');
        frame.resize(options.height ?? 240);
        if (widget === 'reveal' && options.autoReveal !== false) frame.reveal();
      });
    },
    disconnect(iframe) {
      for (const f of issuer.frames) if (f.iframe === iframe) f.connected = false;
    },
  };
  return issuer;
}
