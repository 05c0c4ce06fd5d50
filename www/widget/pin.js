// PIN widget: set (with confirmation and weak-PIN refusal), reveal and
// verify. PINs are encrypted here as ISO 9564 format-2 blocks; the host
// only hears events.
import { pinWeakness } from '/pkg/paysecure_wasm_reveal.js';
import { connect, withSession, describe, codeOf, clampMs } from './common.js';

const $ = (id) => document.getElementById(id);
let ctx;
let hideTimer = 0;

/**
 * What the cardholder reads for each weak-PIN code of pinWeakness (the
 * issuer's own rules, from the paysecure-wasm core: the server refuses the
 * same PINs with WEAK_PIN).
 */
const WEAKNESS_MESSAGES = {
  REPEATED_DIGIT: 'A PIN of one repeated digit is too easy to guess.',
  SEQUENCE: 'A run of consecutive digits is too easy to guess.',
  REPEATED_PAIR: 'A repeated pair of digits is too easy to guess.',
  COMMON: 'That PIN is among the most common ones. Choose another.',
};

/** Why a PIN (4 to 12 digits) is too easy to guess, or '' if it is not. */
export function weakness(pin) {
  const code = pinWeakness(pin);
  return code ? (WEAKNESS_MESSAGES[code] ?? describe('WEAK_PIN')) : '';
}

function status(id, text, kind = 'info') {
  $(id).textContent = text;
  $(id).dataset.kind = kind;
}

const digitsOnly = (el) => el.addEventListener('input', () => { el.value = el.value.replace(/\D/g, '').slice(0, 12); });
for (const id of ['pin1', 'pin2', 'pin3']) digitsOnly($(id));

const path = (suffix) => `/v2/cards/${encodeURIComponent(ctx.options.token)}/pin${suffix}`;

async function setPin(event) {
  event.preventDefault();
  const pin = $('pin1').value;
  const again = $('pin2').value;
  if (!/^\d{4,12}$/.test(pin)) return status('set-status', 'A PIN has 4 to 12 digits.', 'error');
  const weak = weakness(pin);
  if (weak) {
    ctx.emit('pin-refused', { reason: 'WEAK_PIN' });
    return status('set-status', weak, 'error');
  }
  if (pin !== again) return status('set-status', 'The two PINs differ.', 'error');
  $('set').disabled = true;
  try {
    await withSession('PUT', path(''), ctx.options.ephemeralKey, (s) => ({ pinBlock: s.encryptPin(pin) }), () => null);
    $('pin1').value = '';
    $('pin2').value = '';
    status('set-status', 'Your new PIN is set.', 'ok');
    ctx.emit('pin-set');
  } catch (e) {
    status('set-status', describe(codeOf(e)), 'error');
    ctx.emit(codeOf(e) === 'PIN_BLOCKED' ? 'blocked' : 'error', { code: codeOf(e) });
  } finally {
    $('set').disabled = false;
  }
}

function hidePin() {
  clearTimeout(hideTimer);
  $('pin').textContent = '••••';
  $('reveal').textContent = 'Show PIN';
  $('reveal').setAttribute('aria-pressed', 'false');
}

async function togglePin() {
  if ($('reveal').getAttribute('aria-pressed') === 'true') {
    hidePin();
    ctx.emit('pin-hidden');
    return;
  }
  $('reveal').disabled = true;
  try {
    const pin = await withSession('POST', path(''), ctx.options.ephemeralKey, null, (res, s) => s.decryptPin(res.pinBlock));
    $('pin').textContent = pin;
    $('reveal').textContent = 'Hide PIN';
    $('reveal').setAttribute('aria-pressed', 'true');
    status('reveal-status', '');
    ctx.emit('pin-revealed');
    hideTimer = setTimeout(() => { hidePin(); ctx.emit('pin-hidden'); }, clampMs(ctx.options.remaskAfterMs, 15000, 1000, 120000));
  } catch (e) {
    status('reveal-status', describe(codeOf(e)), 'error');
    ctx.emit(codeOf(e) === 'PIN_BLOCKED' ? 'blocked' : 'error', { code: codeOf(e) });
  } finally {
    $('reveal').disabled = false;
  }
}

async function verifyPin(event) {
  event.preventDefault();
  const pin = $('pin3').value;
  if (!/^\d{4,12}$/.test(pin)) return status('verify-status', 'A PIN has 4 to 12 digits.', 'error');
  $('verify').disabled = true;
  try {
    const r = await withSession('POST', path('/verify'), ctx.options.ephemeralKey, (s) => ({ pinBlock: s.encryptPin(pin) }), (res) => res);
    $('pin3').value = '';
    if (r.verified) {
      status('verify-status', 'That is the right PIN.', 'ok');
    } else if (r.triesRemaining > 0) {
      status('verify-status', `Wrong PIN. ${r.triesRemaining} ${r.triesRemaining === 1 ? 'try' : 'tries'} left before the PIN is blocked.`, 'error');
    } else {
      status('verify-status', describe('PIN_BLOCKED'), 'error');
    }
    ctx.emit('verified', { verified: r.verified, triesRemaining: r.triesRemaining });
    if (!r.verified && r.triesRemaining === 0) ctx.emit('blocked', { code: 'PIN_BLOCKED' });
  } catch (e) {
    status('verify-status', describe(codeOf(e)), 'error');
    ctx.emit(codeOf(e) === 'PIN_BLOCKED' ? 'blocked' : 'error', { code: codeOf(e) });
  } finally {
    $('verify').disabled = false;
  }
}

$('set-form').addEventListener('submit', setPin);
$('verify-form').addEventListener('submit', verifyPin);
$('reveal').addEventListener('click', togglePin);

ctx = await connect();
const features = Array.isArray(ctx.options.features) ? ctx.options.features : ['set', 'reveal', 'verify'];
for (const f of ['set', 'reveal', 'verify']) $(`${f}-section`).hidden = !features.includes(f);
for (const id of ['set', 'reveal', 'verify']) $(id).disabled = false;
ctx.emit('ready');
