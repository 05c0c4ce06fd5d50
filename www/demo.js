// The cardholder side: everything here runs on paysecure-wasm.
import init, { Session, cardBrand, maskPan } from '/pkg/paysecure_wasm.js';
import { SimulatedIssuer } from './issuer-sim.js';

const $ = (id) => document.getElementById(id);
const groups = (pan) => pan.replace(/(.{4})(?=.)/g, '$1 ');
const short = (s) => (s.length > 28 ? `${s.slice(0, 24)}… (${s.length} chars)` : s);

function status(text, kind = 'info') {
  $('status').textContent = text;
  $('status').dataset.kind = kind;
}

function wire(direction, line, body) {
  const li = document.createElement('li');
  li.className = direction;
  const head = document.createElement('div');
  head.textContent = `${direction === 'out' ? '→' : '←'} ${line}`;
  li.append(head);
  if (body !== undefined) {
    const pre = document.createElement('pre');
    pre.textContent = JSON.stringify(body, (k, v) => (typeof v === 'string' ? short(v) : v), 2);
    li.append(pre);
  }
  $('log').prepend(li);
}

function explain(e) {
  return e && e.name === 'PaySecureError' ? `${e.code}: ${e.message}` : String(e?.message ?? e);
}

/** One request: a fresh session (key + session id), the call, then the key is wiped. */
async function withSession(method, path, call, body) {
  const session = Session.create(issuer.publicKeyPem, { version: 'v2', keyBits: Number($('keyBits').value) });
  try {
    wire('out', `${method} ${path}   Session-Id: ${short(session.sessionId)}`, body?.(session));
    return await call(session);
  } finally {
    session.free();
  }
}

let issuer;

async function reveal() {
  await withSession('POST', `/v2/cards/${issuer.token}/reveal`, async (s) => {
    const res = await issuer.reveal(s.sessionId);
    wire('in', '200 OK', res);
    const pan = s.decrypt(res.pan);
    $('pan').textContent = groups(pan);
    $('cvv2').textContent = s.decrypt(res.cvv2);
    $('expiry').textContent = `${String(res.expiryMonth).padStart(2, '0')}/${String(res.expiryYear).slice(-2)}`;
    $('brand').textContent = cardBrand(pan);
    $('card').dataset.state = 'revealed';
    $('hide').disabled = false;
    status(`Revealed with AES-${s.keyBits}-GCM; the session key is wiped now.`, 'ok');
  });
}

function hide() {
  $('pan').textContent = groups(maskPan(issuer.card.pan)).replace(/\*/g, '•');
  $('cvv2').textContent = '•••';
  $('expiry').textContent = '••/••';
  $('card').dataset.state = 'masked';
  $('hide').disabled = true;
  $('pin').textContent = '••••';
  status('Hidden.');
}

async function showPin() {
  await withSession('POST', `/v2/cards/${issuer.token}/pin`, async (s) => {
    const res = await issuer.getPin(s.sessionId);
    wire('in', '200 OK', res);
    $('pin').textContent = s.decryptPin(res.pinBlock);
    status('PIN shown (decrypted from an ISO 9564 format-2 block).', 'ok');
  });
}

async function setPin(event) {
  event.preventDefault();
  const pin = $('newPin').value.trim();
  await withSession(
    'PUT',
    `/v2/cards/${issuer.token}/pin`,
    async (s) => {
      const body = { pinBlock: s.encryptPin(pin) };
      const res = await issuer.setPin(s.sessionId, body);
      wire('in', '200 OK', res);
      $('newPin').value = '';
      $('pin').textContent = '••••';
      status('PIN changed. Press “Show PIN” to check it.', 'ok');
    },
  );
}

function guard(fn) {
  return async (event) => {
    try {
      await fn(event);
    } catch (e) {
      status(explain(e), 'error');
    }
  };
}

async function main() {
  await init();
  issuer = await SimulatedIssuer.create();
  wire('in', 'GET /v2/public-key   200 OK', { algorithm: 'RSA-OAEP-SHA1', publicKey: issuer.publicKeyPem });
  $('reveal').addEventListener('click', guard(reveal));
  $('hide').addEventListener('click', guard(hide));
  $('showPin').addEventListener('click', guard(showPin));
  $('setPinForm').addEventListener('submit', guard(setPin));
  for (const id of ['reveal', 'showPin', 'setPin']) $(id).disabled = false;
  hide();
  status('Ready. The card is masked; nothing secret has crossed the wire yet.');
  document.body.dataset.ready = 'true';
}

main().catch((e) => status(`Failed to start: ${explain(e)}`, 'error'));
