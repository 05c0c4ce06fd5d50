// ISO 9564-1 format 4 (the AES PIN block) in the package's pinBlock / parsePinBlock, against an
// independent implementation written here on node:crypto (AES-ECB on single blocks) from the
// standard's description, and against published vectors:
// - ep2 (eft/pos 2000) Security Specification 8.0.0, §8.4 "PIN Encryption" (as quoted by the
//   open-source Python library psec, github.com/knovichikhin/psec, tests/test_pinblock.py);
// - psec's deterministic encipherment (random fill forced to FF bytes) and its PAN-field example.
// The node:crypto implementation is checked against those vectors first, so it is not merely a
// copy of the Rust code's reading of the standard.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, randomBytes, randomInt } from 'node:crypto';
import { ENTRIES, throwsCode } from './helpers.mjs';

// ---- the independent implementation (node:crypto)

const aes = (key, block, decrypt = false) => {
  const name = `aes-${key.length * 8}-ecb`;
  const c = decrypt ? createDecipheriv(name, key, null) : createCipheriv(name, key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(block), c.final()]);
};
const xor = (a, b) => Buffer.from(a.map((x, i) => x ^ b[i]));

/** Plain-text PIN field: 4, N, digits, 'A' fill to 16 nibbles, then 8 random bytes. */
function pinField(pin, fill = randomBytes(8)) {
  const head = `4${pin.length.toString(16).toUpperCase()}${pin}`.padEnd(16, 'A');
  return Buffer.concat([Buffer.from(head, 'hex'), fill]);
}
/** Plain-text PAN field: M = length - 12, the PAN left-justified, '0' padding to 32 nibbles. */
const panField = (pan) => Buffer.from(`${Math.max(0, pan.length - 12)}${pan.padStart(12, '0')}`.padEnd(32, '0'), 'hex');

function encipher(key, pin, pan, fill) {
  return aes(key, xor(aes(key, pinField(pin, fill)), panField(pan)));
}
function decipher(key, block, pan) {
  const field = aes(key, xor(aes(key, block, true), panField(pan)), true).toString('hex').toUpperCase();
  const n = parseInt(field[1], 16);
  if (field[0] !== '4' || n < 4 || n > 12) throw new Error('not a format 4 PIN field');
  const pin = field.slice(2, 2 + n);
  if (!/^[0-9]+$/.test(pin) || field.slice(2 + n, 16) !== 'A'.repeat(14 - n)) throw new Error('malformed PIN field');
  return pin;
}

const EP2 = { key: 'C1D0F8FB4958670DBA40AB1F3752EF0D', block: 'CC17F65586BFD0953010226C4FC5B3CA', pan: '432198765432109870', pin: '1234' };
const PSEC = { key: '00112233445566778899AABBCCDDEEFF', pin: '1234', pan: '1234567890123456789', fill: 'FF'.repeat(8), block: '28B41FDDD29B743E93124BD8E32D921E' };
const hex = (h) => Buffer.from(h, 'hex');

test('the node:crypto implementation reproduces the published vectors', () => {
  assert.equal(decipher(hex(EP2.key), hex(EP2.block), EP2.pan), EP2.pin);
  assert.equal(encipher(hex(PSEC.key), PSEC.pin, PSEC.pan, hex(PSEC.fill)).toString('hex').toUpperCase(), PSEC.block);
  assert.equal(panField('112233445566778899').toString('hex').toUpperCase(), '61122334455667788990000000000000');
});

const digits = (n) => Array.from({ length: n }, () => randomInt(10)).join('');

// Both entry points have format 4.
for (const { entry, ps: { pinBlock, parsePinBlock } } of ENTRIES) {
  test(`${entry}: parsePinBlock opens the published vectors (key as Uint8Array and as ArrayBuffer)`, () => {
    assert.equal(parsePinBlock(EP2.block, { pan: EP2.pan, key: new Uint8Array(hex(EP2.key)) }), EP2.pin);
    const ab = new Uint8Array(hex(PSEC.key)).buffer;
    assert.equal(parsePinBlock(PSEC.block, { pan: PSEC.pan, key: ab }), PSEC.pin);
    assert.equal(parsePinBlock(PSEC.block.toLowerCase(), { pan: PSEC.pan, key: ab }), PSEC.pin);
  });

  test(`${entry}: pinBlock format 4 → node:crypto, and node:crypto → parsePinBlock, for every key size`, () => {
    for (let i = 0; i < 300; i++) {
      const key = randomBytes([16, 24, 32][i % 3]);
      const pin = digits(4 + (i % 9));
      const pan = digits(12 + (i % 8));
      const block = pinBlock(pin, { format: 4, pan, key: new Uint8Array(key) });
      assert.match(block, /^[0-9A-F]{32}$/);
      assert.equal(decipher(key, hex(block), pan), pin, `${pin} ${pan}`);
      const theirs = encipher(key, pin, pan).toString('hex');
      assert.equal(parsePinBlock(theirs, { pan, key }), pin);
    }
  });

  test(`${entry}: format 4 blocks are randomized: one PIN, one key, one PAN, different blocks`, () => {
    const key = randomBytes(16);
    const seen = new Set(Array.from({ length: 50 }, () => pinBlock('4821', { format: 4, pan: '4111111111111111', key })));
    assert.equal(seen.size, 50);
  });

  test(`${entry}: a changed bit, another PAN or another key: one INVALID_PIN_BLOCK with one message`, () => {
    const key = randomBytes(32);
    const pan = '5500000000000004';
    const block = hex(pinBlock('739164', { format: 4, pan, key }));
    const messages = new Set();
    const refuse = (b, p, k) => {
      assert.throws(() => parsePinBlock(b.toString('hex'), { pan: p, key: k }), (e) => {
        assert.equal(e.code, 'INVALID_PIN_BLOCK');
        messages.add(e.message);
        return true;
      });
    };
    for (let bit = 0; bit < 128; bit++) {
      const t = Buffer.from(block);
      t[bit >> 3] ^= 1 << (bit & 7);
      refuse(t, pan, key);
    }
    refuse(block, '4111111111111111', key);
    refuse(block, pan, randomBytes(32));
    assert.equal(messages.size, 1, [...messages].join(' | '));
  });

  test(`${entry}: format 4 argument errors`, () => {
    const key = randomBytes(16);
    throwsCode(assert, () => pinBlock('1234', { format: 4, pan: '4111111111111111' }), 'INVALID_INPUT');
    throwsCode(assert, () => pinBlock('1234', { format: 4, pan: '4111111111111111', key: 'not bytes' }), 'INVALID_INPUT');
    throwsCode(assert, () => pinBlock('1234', { format: 4, pan: '4111111111111111', key: randomBytes(20) }), 'INVALID_KEY_SIZE');
    throwsCode(assert, () => pinBlock('1234', { format: 4, pan: '4111111111111111', key: randomBytes(64) }), 'INPUT_TOO_LARGE');
    throwsCode(assert, () => pinBlock('1234', { format: 4, key }), 'INVALID_PAN');
    throwsCode(assert, () => pinBlock('1234', { format: 4, pan: '41111', key }), 'INVALID_PAN');
    throwsCode(assert, () => pinBlock('123', { format: 4, pan: '4111111111111111', key }), 'INVALID_PIN');
    throwsCode(assert, () => pinBlock('1234', { format: 5, pan: '4111111111111111', key }), 'INVALID_INPUT');
    throwsCode(assert, () => parsePinBlock('CC17F65586BFD0953010226C4FC5B3C', { pan: EP2.pan, key: hex(EP2.key) }), 'INVALID_PIN_BLOCK');
    throwsCode(assert, () => parsePinBlock(EP2.block, { key: hex(EP2.key) }), 'INVALID_PAN');
    // Formats 0-3 are unchanged by a key-less call.
    assert.equal(pinBlock('1432'), '241432FFFFFFFFFF');
  });
}
