// Host-side helper: mounts the PaySecure widgets in an iframe of the card
// service's origin. The host page never receives card data: only events.
//
//   import { mountCardReveal } from '/sdk/paysecure-embed.js';
//   const w = mountCardReveal(el, { apiOrigin, token, ephemeralKey, style, remaskAfterMs });
//   w.on('revealed', () => ...).on('error', (e) => console.log(e.code));
//   w.destroy();

/** @typedef {{ type: 'paysecure:event', event: string, [k: string]: unknown }} WidgetEvent */

function mount(element, page, title, height, opts) {
  if (!(element instanceof Element)) throw new TypeError('mount target must be an element');
  const { apiOrigin, token, ephemeralKey, style, remaskAfterMs, features, onEvent } = opts || {};
  const origin = new URL(apiOrigin).origin;
  const listeners = new Map();
  const iframe = document.createElement('iframe');
  iframe.src = `${origin}/widget/${page}`;
  iframe.title = title;
  iframe.allow = 'clipboard-write';
  iframe.referrerPolicy = 'no-referrer';
  iframe.loading = 'eager';
  iframe.style.border = '0';
  iframe.style.width = '100%';
  iframe.style.height = height;

  function onMessage(e) {
    if (e.source !== iframe.contentWindow || e.origin !== origin) return;
    const m = e.data;
    if (!m || m.type !== 'paysecure:event' || typeof m.event !== 'string') return;
    if (onEvent) onEvent(m);
    for (const cb of listeners.get(m.event) || []) cb(m);
    for (const cb of listeners.get('*') || []) cb(m);
  }
  window.addEventListener('message', onMessage);
  iframe.addEventListener('load', () => {
    // The secrets of the session go to the widget's origin only, never in the URL.
    iframe.contentWindow.postMessage({ type: 'paysecure:init', token, ephemeralKey, style, remaskAfterMs, features }, origin);
  }, { once: true });
  element.replaceChildren(iframe);

  return {
    iframe,
    /** Subscribes to an event ('ready', 'revealed', 'copied', 'hidden', 'error', ..., or '*'). */
    on(event, callback) {
      if (!listeners.has(event)) listeners.set(event, []);
      listeners.get(event).push(callback);
      return this;
    },
    /** Removes the widget. */
    destroy() {
      window.removeEventListener('message', onMessage);
      listeners.clear();
      iframe.remove();
    },
  };
}

/** The card-reveal widget: PAN, expiry and CVV2 with copy buttons and re-masking. */
export function mountCardReveal(element, options) {
  return mount(element, 'reveal.html', 'Card details', '260px', options);
}

/** The PIN widget: set, reveal and verify the PIN (options.features picks which). */
export function mountSetPin(element, options) {
  return mount(element, 'pin.html', 'Card PIN', '660px', options);
}
