// The package's JavaScript surface, as an application sees it.
import test from 'node:test';
import assert from 'node:assert/strict';
import { ps, publicPem, vectors, throwsCode, unb64, VERSIONS, KEY_BITS } from './helpers.mjs';

const { Session, pinBlock, parsePinBlock, pinWeakness, luhnCheck, cardBrand, maskPan } = ps;

test('exports the documented names', () => {
  for (const name of ['Session', 'PublicKey', 'pinBlock', 'parsePinBlock', 'pinWeakness', 'luhnCheck', 'cardBrand', 'maskPan']) {
    assert.equal(typeof ps[name], 'function', name);
  }
  for (const m of ['create', 'fromKey']) assert.equal(typeof Session[m], 'function', m);
});

test('Session.create defaults to v2 and AES-256', () => {
  const s = Session.create(publicPem);
  assert.equal(s.version, 'v2');
  assert.equal(s.keyBits, 256);
  assert.equal(typeof s.sessionId, 'string');
  assert.equal(unb64(s.sessionId).length, 256);
  assert.equal(unb64(s.exportKey()).length, 32);
  s.free();
});

test('every version and key size round-trips text, bytes and PINs', () => {
  for (const version of VERSIONS) {
    for (const keyBits of KEY_BITS) {
      const s = Session.create(publicPem, { version, keyBits });
      assert.equal(s.version, version);
      assert.equal(s.keyBits, keyBits);
      const v = s.encrypt('4111111111111111');
      assert.deepEqual(Object.keys(v).sort(), ['data', 'iv']);
      assert.equal(unb64(v.iv).length, 16);
      assert.equal(s.decrypt(v), '4111111111111111');
      const bytes = new Uint8Array([0, 1, 2, 3, 250, 255]);
      assert.deepEqual(s.decryptBytes(s.encrypt(bytes)), bytes);
      assert.equal(s.decryptPin(s.encryptPin('0042')), '0042');
      s.free();
    }
  }
});

test('fromKey reads the reference vectors', () => {
  for (const c of vectors.aes_cases) {
    const v2 = Session.fromKey(c.session_key_b64);
    assert.equal(v2.sessionId, undefined);
    assert.equal(v2.decrypt({ data: c.aes_gcm_ct_tag_b64, iv: c.iv_b64 }), c.plaintext, c.id);
    const v1 = Session.fromKey(c.session_key_b64, { version: 'v1' });
    assert.equal(v1.decrypt({ data: c.aes_cbc_ct_b64, iv: c.iv_b64 }), c.plaintext, c.id);
  }
});

test('failures are PaySecureErrors with stable codes', () => {
  const s = Session.create(publicPem);
  const v = s.encrypt('secret');
  const raw = unb64(v.data);
  raw[raw.length - 1] ^= 1;
  throwsCode(assert, () => s.decrypt({ data: raw.toString('base64'), iv: v.iv }), 'DECRYPTION_FAILED');
  throwsCode(assert, () => s.decrypt({ data: '@@', iv: v.iv }), 'INVALID_BASE64');
  throwsCode(assert, () => s.decrypt({ data: v.data, iv: 'AAAA' }), 'INVALID_IV');
  throwsCode(assert, () => s.decrypt({ data: v.data }), 'INVALID_INPUT');
  throwsCode(assert, () => s.decrypt('nope'), 'INVALID_INPUT');
  throwsCode(assert, () => s.encrypt(42), 'INVALID_INPUT');
  throwsCode(assert, () => s.encryptPin('12'), 'INVALID_PIN');
  throwsCode(assert, () => s.encryptPin('12345678901234'), 'INVALID_PIN');
  throwsCode(assert, () => s.encryptPin(1234), 'INVALID_INPUT');
  throwsCode(assert, () => Session.create('-----BEGIN PUBLIC KEY-----oops-----END PUBLIC KEY-----'), 'INVALID_PUBLIC_KEY');
  throwsCode(assert, () => Session.create(publicPem, { version: 'v9' }), 'UNSUPPORTED_VERSION');
  throwsCode(assert, () => Session.create(publicPem, { keyBits: 64 }), 'INVALID_KEY_SIZE');
  throwsCode(assert, () => Session.create({ kty: 'RSA', n: 'AQAB', e: 'AQAB' }), 'WEAK_PUBLIC_KEY');
  throwsCode(assert, () => Session.fromKey('AAAA'), 'INVALID_KEY_SIZE');
  throwsCode(assert, () => parsePinBlock('2X1432FFFFFFFFFF'), 'INVALID_PIN_BLOCK');
  throwsCode(assert, () => pinBlock('1234', { format: 3 }), 'INVALID_PAN');
  throwsCode(assert, () => maskPan('41'), 'INVALID_PAN');
  throwsCode(assert, () => cardBrand('x'), 'INVALID_PAN');
  s.free();
});

test('free() wipes the session; later use throws, and Symbol.dispose frees', () => {
  const s = Session.create(publicPem);
  s.free();
  assert.throws(() => s.exportKey());
  const t = Session.fromKey(vectors.aes_cases[0].session_key_b64);
  assert.equal(typeof t[Symbol.dispose], 'function');
  t[Symbol.dispose]();
  assert.throws(() => t.encrypt('x'));
});

test('PIN blocks and card helpers', () => {
  assert.equal(pinBlock('1432'), '241432FFFFFFFFFF');
  assert.equal(pinBlock('1432', { format: 2 }), '241432FFFFFFFFFF');
  assert.equal(pinBlock('1234', { format: 0, pan: '43219876543210987' }), '0412AC89ABCDEF67');
  assert.equal(parsePinBlock('0412AC89ABCDEF67', { pan: '43219876543210987' }), '1234');
  assert.match(pinBlock('1234', { format: 1 }), /^141234[0-9A-F]{10}$/);
  assert.match(pinBlock('1234', { format: 3, pan: '4111111111111111' }), /^34[0-9A-F]{14}$/);
  for (const c of vectors.pin_blocks) {
    assert.equal(pinBlock(c.pin), c.pin_block_ascii);
    assert.equal(parsePinBlock(c.pin_block_ascii), c.pin);
  }
  assert.equal(luhnCheck('4111111111111111'), true);
  assert.equal(luhnCheck('4111111111111121'), false);
  assert.equal(luhnCheck(undefined), false);
  assert.equal(cardBrand('4111111111111111'), 'VISA');
  assert.equal(cardBrand('2221000000000009'), 'MASTERCARD');
  assert.equal(cardBrand('6200000000000005'), 'UNIONPAY');
  assert.equal(maskPan('4444333322221111'), '444433******1111');
});

// The PIN widget's own weak-PIN check as it was before it called
// pinWeakness (www/widget/pin.js, weakness(pin)), verbatim but for its
// messages, which are mapped to the codes here.
function widgetWeaknessBefore(pin) {
  if (/^(\d)\1+$/.test(pin)) return 'A PIN of one repeated digit is too easy to guess.';
  const steps = [...pin].slice(1).map((d, i) => (Number(d) - Number(pin[i]) + 10) % 10);
  if (steps.every((s) => s === 1) || steps.every((s) => s === 9)) return 'A run of consecutive digits is too easy to guess.';
  if (/^(\d\d)\1+$/.test(pin)) return 'A repeated pair of digits is too easy to guess.';
  const common = ['1004', '2000', '1122', '1313', '6969', '2580', '0852', '1010', '2001', '1990', '1999', '2468', '1357'];
  if (common.includes(pin)) return 'That PIN is among the most common ones. Choose another.';
  return '';
}
const OLD_MESSAGE_CODE = {
  'A PIN of one repeated digit is too easy to guess.': 'REPEATED_DIGIT',
  'A run of consecutive digits is too easy to guess.': 'SEQUENCE',
  'A repeated pair of digits is too easy to guess.': 'REPEATED_PAIR',
  'That PIN is among the most common ones. Choose another.': 'COMMON',
  '': null,
};

test('pinWeakness agrees with the widget\'s previous rules on every 4- and 5-digit PIN', () => {
  const counts = {};
  for (const length of [4, 5]) {
    for (let n = 0; n < 10 ** length; n++) {
      const pin = String(n).padStart(length, '0');
      const want = OLD_MESSAGE_CODE[widgetWeaknessBefore(pin)];
      const got = pinWeakness(pin);
      if (got !== want) assert.fail(`${pin}: pinWeakness ${got}, widget rules ${want}`);
      counts[got] = (counts[got] ?? 0) + 1;
    }
  }
  // 4 digits: 10 repeated, 20 runs, 90 pairs, 10 common; 5 digits: 10, 20.
  assert.deepEqual(counts, { REPEATED_DIGIT: 20, SEQUENCE: 40, REPEATED_PAIR: 90, COMMON: 10, null: 110000 - 160 });
});

test('pinWeakness agrees with the widget\'s previous rules on longer PINs', () => {
  const pins = [];
  for (let length = 6; length <= 12; length++) {
    for (let d = 0; d < 10; d++) {
      const up = Array.from({ length }, (_, i) => (d + i) % 10).join('');
      const down = Array.from({ length }, (_, i) => (d - i + 100) % 10).join('');
      pins.push(String(d).repeat(length), up, down, up.slice(0, -1) + ((Number(up.at(-1)) + 5) % 10));
      for (let e = 0; e < 10; e++) pins.push(`${d}${e}`.repeat(length / 2 | 0) + (length % 2 ? String(e) : ''));
    }
    // Random PINs of this length, seeded so that a failure can be replayed.
    let seed = length;
    for (let i = 0; i < 2000; i++) {
      pins.push(Array.from({ length }, () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % 10; }).join(''));
    }
  }
  const seen = new Set();
  for (const pin of pins) {
    assert.equal(pinWeakness(pin), OLD_MESSAGE_CODE[widgetWeaknessBefore(pin)], pin);
    seen.add(pinWeakness(pin));
  }
  assert.deepEqual([...seen].sort(), ['REPEATED_DIGIT', 'REPEATED_PAIR', 'SEQUENCE', null].sort());
});

test('pinWeakness refuses what is not a PIN', () => {
  throwsCode(assert, () => pinWeakness('123'), 'INVALID_PIN');
  throwsCode(assert, () => pinWeakness('12a4'), 'INVALID_PIN');
  throwsCode(assert, () => pinWeakness('1234567890123'), 'INVALID_PIN');
  throwsCode(assert, () => pinWeakness(1234), 'INVALID_INPUT');
});
