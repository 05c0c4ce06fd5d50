// Card-reveal widget: fetches PAN, expiry and CVV2 with the host's
// ephemeral key, shows them in this frame only, re-masks automatically.
import { cardBrand } from '/pkg/paysecure_wasm_reveal.js';
import { connect, withSession, describe, codeOf, clampMs } from './common.js';

const $ = (id) => document.getElementById(id);
let card = null; // { pan, expiry, cvv2 } while revealed; dropped on hide
let last4 = '';
let remaskTimer = 0;
let remaskMs = 60000;
let ctx;

function group(pan) {
  if (cardBrand(pan) === 'AMEX' && pan.length === 15) return `${pan.slice(0, 4)} ${pan.slice(4, 10)} ${pan.slice(10)}`;
  return pan.replace(/(.{4})(?=.)/g, '$1 ');
}

function masked() {
  return last4 ? `•••• •••• •••• ${last4}` : '•••• •••• •••• ••••';
}

function status(text, kind = 'info') {
  $('status').textContent = text;
  $('status').dataset.kind = kind;
}

function render() {
  const shown = card !== null;
  $('pan').textContent = shown ? group(card.pan) : masked();
  $('expiry').textContent = shown ? card.expiry : '••/••';
  $('cvv2').textContent = shown ? card.cvv2 : '•••';
  for (const b of document.querySelectorAll('.copy')) b.disabled = !shown;
  $('toggle').textContent = shown ? 'Hide' : 'Show';
  $('toggle').setAttribute('aria-pressed', String(shown));
  $('toggle').disabled = false;
}

async function reveal() {
  $('toggle').disabled = true;
  status('Loading…');
  try {
    card = await withSession('POST', `/v2/cards/${encodeURIComponent(ctx.options.token)}/reveal`, ctx.options.ephemeralKey, null, (res, s) => ({
      pan: s.decrypt(res.pan),
      cvv2: s.decrypt(res.cvv2),
      expiry: `${String(res.expiryMonth).padStart(2, '0')}/${String(res.expiryYear % 100).padStart(2, '0')}`,
    }));
    last4 = card.pan.slice(-4);
    render();
    status(`Shown. Hidden again in ${Math.round(remaskMs / 1000)} s.`, 'ok');
    ctx.emit('revealed');
    clearTimeout(remaskTimer);
    remaskTimer = setTimeout(() => hide('timeout'), remaskMs);
  } catch (e) {
    card = null;
    render();
    status(describe(codeOf(e)), 'error');
    ctx.emit('error', { code: codeOf(e) });
  }
}

function hide(reason) {
  clearTimeout(remaskTimer);
  card = null; // drop the plaintext; showing again fetches anew
  render();
  status(reason === 'timeout' ? 'Hidden automatically.' : 'Hidden.');
  ctx.emit('hidden', { reason });
}

async function copy(field) {
  if (!card) return;
  const value = card[field];
  try {
    // Throws where the frame may not write the clipboard (no
    // allow="clipboard-write", a Permissions-Policy of the host, no API).
    await navigator.clipboard.writeText(value);
    status('Copied to the clipboard.', 'ok');
    ctx.emit('copied', { field });
  } catch {
    // The host shows its own hint; it hears which field, never the value.
    status('Copying is not available here. Select the number and copy it instead.', 'error');
    ctx.emit('copy-unavailable', { field });
  }
}

$('toggle').addEventListener('click', () => (card ? hide('user') : reveal()));
for (const b of document.querySelectorAll('.copy')) b.addEventListener('click', () => copy(b.dataset.field));
window.addEventListener('pagehide', () => { card = null; });

ctx = await connect();
remaskMs = clampMs(ctx.options.remaskAfterMs, 60000, 1000, 600000);
ctx.emit('ready');
await reveal();
