// The package's JavaScript surface, as an application sees it.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { ps, reveal, ENTRIES, FULL_ONLY, root, publicPem, vectors, throwsCode, unb64, KEY_BITS } from './helpers.mjs';


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

// Everything but V1 holds for both entry points (`paysecure-wasm` and `paysecure-wasm/reveal`).
for (const { entry, ps, versions, file, full } of ENTRIES) {
  const { Session, pinBlock, parsePinBlock, pinWeakness, luhnCheck, cardBrand, maskPan } = ps;

  test(`${entry}: exports the documented names`, () => {
    for (const name of ['Session', 'PublicKey', 'isPaySecureError', 'pinBlock', 'parsePinBlock', 'pinWeakness', 'luhnCheck', 'cardBrand', 'maskPan']) {
      assert.equal(typeof ps[name], 'function', name);
    }
    for (const m of ['create', 'fromKey']) assert.equal(typeof Session[m], 'function', m);
    // The full entry point's own: there, or (reveal) not there at all.
    for (const name of FULL_ONLY.functions) assert.equal(typeof ps[name], full ? 'function' : 'undefined', name);
    for (const m of FULL_ONLY.sessionMethods) assert.equal(typeof Session.prototype[m], full ? 'function' : 'undefined', m);
  });

  test(`${entry}: Session.create defaults to v2 and AES-256`, () => {
    const s = Session.create(publicPem);
    assert.equal(s.version, 'v2');
    assert.equal(s.keyBits, 256);
    assert.equal(typeof s.sessionId, 'string');
    assert.equal(unb64(s.sessionId).length, 256);
    assert.equal(unb64(s.exportKey()).length, 32);
    s.free();
  });

  test(`${entry}: every version and key size round-trips text, bytes and PINs`, () => {
    for (const version of versions) {
      for (const keyBits of KEY_BITS) {
        // V1 decryption is an explicit opt-in (unauthenticated AES-CBC).
        const s = Session.create(publicPem, { version, keyBits, allowLegacyCbc: version === 'v1' });
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

  test(`${entry}: fromKey reads the reference vectors`, () => {
    for (const c of vectors.aes_cases) {
      const v2 = Session.fromKey(c.session_key_b64);
      assert.equal(v2.sessionId, undefined);
      assert.equal(v2.decrypt({ data: c.aes_gcm_ct_tag_b64, iv: c.iv_b64 }), c.plaintext, c.id);
      if (!full) continue;
      const v1 = Session.fromKey(c.session_key_b64, { version: 'v1', allowLegacyCbc: true });
      assert.equal(v1.decrypt({ data: c.aes_cbc_ct_b64, iv: c.iv_b64 }), c.plaintext, c.id);
    }
  });

  test(`${entry}: failures are PaySecureErrors with stable codes`, () => {
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

  test(`${entry}: free() wipes the session; later use throws OBJECT_FREED, and Symbol.dispose frees`, () => {
    const s = Session.create(publicPem);
    s.free();
    throwsCode(assert, () => s.exportKey(), 'OBJECT_FREED');
    throwsCode(assert, () => s.sessionId, 'OBJECT_FREED');
    s.free(); // a second free() does nothing
    const t = Session.fromKey(vectors.aes_cases[0].session_key_b64);
    assert.equal(typeof t[Symbol.dispose], 'function');
    t[Symbol.dispose]();
    throwsCode(assert, () => t.encrypt('x'), 'OBJECT_FREED');
    const key = ps.PublicKey.parse(publicPem);
    key.free();
    throwsCode(assert, () => key.bits, 'OBJECT_FREED');
    throwsCode(assert, () => key.createSession(), 'OBJECT_FREED');
  });

  test(`${entry}: methods called on anything but a live object of this module throw INVALID_INPUT`, () => {
    const s = Session.fromKey(vectors.aes_cases[0].session_key_b64);
    const value = s.encrypt('x');
    // A forged or edited address never reaches WebAssembly.
    throwsCode(assert, () => Session.prototype.decrypt.call({ __wbg_ptr: 8 }, value), 'INVALID_INPUT');
    throwsCode(assert, () => Session.prototype.exportKey.call(Object.create(Session.prototype)), 'INVALID_INPUT');
    throwsCode(assert, () => Reflect.get(Session.prototype, 'version', {}), 'INVALID_INPUT');
    // A live object of the other class is not one either (its address is a Session's).
    const key = ps.PublicKey.parse(publicPem);
    throwsCode(assert, () => Reflect.get(ps.PublicKey.prototype, 'bits', s), 'INVALID_INPUT');
    throwsCode(assert, () => ps.PublicKey.prototype.createSession.call(s), 'INVALID_INPUT');
    throwsCode(assert, () => Session.prototype.exportKey.call(key), 'INVALID_INPUT');
    ps.PublicKey.prototype.free.call(s); // not a PublicKey: nothing happens
    assert.equal(s.decrypt(value), 'x');
    key.free();
    s.__wbg_ptr = 12345;
    assert.equal(s.decrypt(value), 'x');
    Object.freeze(s);
    assert.equal(s.decrypt(value), 'x');
    s.free();
    throwsCode(assert, () => s.decrypt(value), 'OBJECT_FREED');
  });

  test(`${entry}: free() from inside a call (a getter of an argument) waits for the call, then frees`, () => {
    const s = Session.fromKey(vectors.aes_cases[0].session_key_b64);
    const value = s.encrypt('4111111111111111');
    const reentrant = { get data() { s.free(); return value.data; }, iv: value.iv };
    assert.equal(s.decrypt(reentrant), '4111111111111111');
    throwsCode(assert, () => s.decrypt(value), 'OBJECT_FREED');
    // Reentrant calls into the same session work.
    const t = Session.fromKey(vectors.aes_cases[0].session_key_b64);
    const nested = { get data() { assert.equal(t.decrypt(value), '4111111111111111'); return value.data; }, iv: value.iv };
    assert.equal(t.decrypt(nested), '4111111111111111');
    t.free();
  });

  test(`${entry}: isPaySecureError is a type guard for this package's errors`, () => {
    assert.equal(typeof ps.isPaySecureError, 'function');
    let caught;
    try { Session.fromKey('AAAA'); } catch (e) { caught = e; }
    assert.equal(ps.isPaySecureError(caught), true);
    const s = Session.fromKey(vectors.aes_cases[0].session_key_b64);
    s.free();
    try { s.exportKey(); } catch (e) { caught = e; }
    assert.equal(ps.isPaySecureError(caught), true);
    for (const v of [new Error('x'), Object.assign(new Error('x'), { name: 'PaySecureError', code: 'NOPE' }),
      null, undefined, 'PaySecureError', 1, {}, new Proxy({}, { get() { throw new Error('trap'); } })]) {
      assert.equal(ps.isPaySecureError(v), false);
    }
  });

  test(`${entry}: every argument has a size limit: INPUT_TOO_LARGE`, () => {
    const s = Session.fromKey(vectors.aes_cases[0].session_key_b64);
    const big = (n) => 'A'.repeat(n);
    throwsCode(assert, () => s.encrypt(big(32 * 1024 + 1)), 'INPUT_TOO_LARGE');
    throwsCode(assert, () => s.encrypt(new Uint8Array(32 * 1024 + 1)), 'INPUT_TOO_LARGE');
    throwsCode(assert, () => s.decrypt({ data: big(64 * 1024 + 1), iv: 'A' }), 'INPUT_TOO_LARGE');
    if (full) throwsCode(assert, () => s.encryptBody(big(1024 * 1024 + 1)), 'INPUT_TOO_LARGE');
    throwsCode(assert, () => Session.create(big(16 * 1024 + 1)), 'INPUT_TOO_LARGE');
    throwsCode(assert, () => pinBlock(big(257)), 'INPUT_TOO_LARGE');
    throwsCode(assert, () => maskPan(big(257)), 'INPUT_TOO_LARGE');
    assert.equal(luhnCheck(`${'0'.repeat(300)}4111111111111111`), false);
    s.free();
  });

  test(`${entry}: arguments are read and errors made with the engine's own functions, whatever a page does to the globals after loading`, () => {
    // In a child process: the page's globals are edited for good.
    const script = `
      const assert = require('node:assert/strict');
      const ps = require(${JSON.stringify(file)});
      const jwk = require(${JSON.stringify(path.join(root, 'tests/data/rsa2048-public.jwk.json'))});
      const s = ps.Session.fromKey('${vectors.aes_cases[0].session_key_b64}');
      const key = new Uint8Array(16).fill(3);
      const TypedArray = Object.getPrototypeOf(Uint8Array.prototype);
      const boom = () => { throw new Error('edited global called'); };
      // Every object claims to be a Uint8Array; buffers have no length; views' lengths are 0.
      Object.defineProperty(TypedArray, Symbol.toStringTag, { get: () => 'Uint8Array' });
      Object.defineProperty(ArrayBuffer.prototype, 'byteLength', { get: boom });
      Object.defineProperty(TypedArray, 'byteLength', { get: () => 0 });
      Reflect.apply = boom;
      Reflect.getOwnPropertyDescriptor = boom;
      Reflect.getPrototypeOf = boom;
      Array.isArray = () => true;
      Date.prototype.getTime = boom;
      TextEncoder.prototype.encodeInto = boom;
      // Setting an Error's name or code runs this page's setters.
      Object.defineProperty(Error.prototype, 'name', { get: () => 'Error', set: boom, configurable: true });
      Object.defineProperty(Error.prototype, 'code', { get: () => undefined, set: boom, configurable: true });
      const code = (f) => { try { f(); return 'returned'; } catch (e) { return e.name === 'PaySecureError' ? e.code : e.message; } };
      assert.equal(code(() => ps.pinBlock('12')), 'INVALID_PIN');
      assert.equal(code(() => ps.maskPan('4444 3333 2222 1111 é')), 'INVALID_PAN');
      assert.equal(ps.maskPan('4444 3333 2222 1111'), '444433******1111');
      assert.equal(s.decrypt(s.encrypt('é 4111 😀')), 'é 4111 😀');
      const bytes = (v) => [...s.decryptBytes(s.encrypt(v))];
      assert.deepEqual(bytes(new Uint8Array([1, 2, 3])), [1, 2, 3]);
      assert.deepEqual(bytes(new Uint8Array([9, 1, 2, 3, 9]).subarray(1, 4)), [1, 2, 3]);
      assert.deepEqual(bytes(new Uint8Array([4, 5]).buffer), [4, 5]);
      assert.equal(code(() => s.encrypt(Object.create(Uint8Array.prototype))), 'INVALID_INPUT');
      assert.equal(code(() => s.encrypt(new Uint16Array(2))), 'INVALID_INPUT');
      assert.equal(code(() => s.encrypt({ byteLength: 2 })), 'INVALID_INPUT');
      const block = ps.pinBlock('1234', { format: 4, pan: '432198765432109870', key });
      assert.equal(ps.parsePinBlock(block, { pan: '432198765432109870', key }), '1234');
      assert.equal(code(() => ps.parsePinBlock(block, { pan: '432198765432109870', key: new Uint8Array(16) })), 'INVALID_PIN_BLOCK');
      ps.Session.create(jwk).free();
      assert.equal(code(() => ps.Session.create([jwk])), 'INVALID_INPUT');
      if (${full}) {
        const card = { cardNumber: '4444333322221111', expiryMonth: 12, expiryYear: 2031 };
        const pem = ${JSON.stringify(publicPem)};
        assert.equal(typeof ps.encryptCard(card, pem, { keyAlias: 'k', captureTime: new Date(1_700_000_000_000) }), 'string');
        assert.equal(code(() => ps.encryptCard(card, pem, { keyAlias: 'k', captureTime: Object.create(Date.prototype) })), 'INVALID_INPUT');
      }
      s.free();
      assert.equal(code(() => s.decrypt(s.encrypt('x'))), 'OBJECT_FREED');
      console.log('ok');`;
    assert.equal(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim(), 'ok');
  });

  test(`${entry}: a 100 MB argument is refused before it reaches WebAssembly memory`, () => {
    // In a child process whose WebAssembly.Instance is observed, to see the module's memory.
    const script = `
      const I = WebAssembly.Instance; let exports;
      WebAssembly.Instance = function (m, i) { const x = new I(m, i); exports = x.exports; return x; };
      const ps = require(${JSON.stringify(file)});
      const s = ps.Session.fromKey('${vectors.aes_cases[0].session_key_b64}');
      const huge = 'A'.repeat(100 * 1024 * 1024);
      const before = exports.memory.buffer.byteLength;
      const codes = [];
      const calls = [() => s.encrypt(huge), () => s.decrypt({ data: huge, iv: huge }), () => ps.Session.create(huge),
        () => ps.pinBlock(huge)];
      if (${full}) {
        calls.push(() => s.encryptBody(huge), () => s.decryptBody(huge), () => ps.encryptCard(
          { cardNumber: huge, expiryMonth: 1, expiryYear: 2031 }, huge, { keyAlias: 'k' }));
      }
      for (const f of calls) {
        try { f(); } catch (e) { codes.push(e.code); }
      }
      console.log(JSON.stringify({ grew: exports.memory.buffer.byteLength - before, codes }));`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }));
    assert.deepEqual(out.codes, Array(full ? 7 : 4).fill('INPUT_TOO_LARGE'));
    assert.equal(out.grew, 0);
  });

  test(`${entry}: JWKs with private members are refused (PRIVATE_JWK); use and key_ops are honoured`, () => {
    const jwk = JSON.parse(readFileSync(new URL('../data/rsa2048-public.jwk.json', import.meta.url), 'utf8'));
    for (const m of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']) {
      throwsCode(assert, () => Session.create({ ...jwk, [m]: 'AQAB' }), 'PRIVATE_JWK');
      throwsCode(assert, () => ps.PublicKey.parse(JSON.stringify({ ...jwk, [m]: 'AQAB' })), 'PRIVATE_JWK');
    }
    ps.PublicKey.parse({ ...jwk, use: 'enc', key_ops: ['wrapKey'] }).free();
    throwsCode(assert, () => Session.create({ ...jwk, use: 'sig' }), 'INVALID_PUBLIC_KEY');
    throwsCode(assert, () => Session.create({ ...jwk, key_ops: ['verify'] }), 'INVALID_PUBLIC_KEY');
  });

  test(`${entry}: PIN blocks and card helpers`, () => {
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

  test(`${entry}: pinWeakness agrees with the widget's previous rules on every 4- and 5-digit PIN`, () => {
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

  test(`${entry}: pinWeakness agrees with the widget's previous rules on longer PINs`, () => {
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

  test(`${entry}: pinWeakness refuses what is not a PIN`, () => {
    throwsCode(assert, () => pinWeakness('123'), 'INVALID_PIN');
    throwsCode(assert, () => pinWeakness('12a4'), 'INVALID_PIN');
    throwsCode(assert, () => pinWeakness('1234567890123'), 'INVALID_PIN');
    throwsCode(assert, () => pinWeakness(1234), 'INVALID_INPUT');
  });
}

test('paysecure-wasm: V1 decryption is an explicit opt-in, and every V1 failure is one opaque error', () => {
  const { Session } = ps;
  const key = vectors.aes_cases[0].session_key_b64;
  const v1 = Session.fromKey(key, { version: 'v1' });
  const value = v1.encrypt('4111111111111111'); // encrypting needs no opt-in
  for (const m of ['decrypt', 'decryptBytes', 'decryptPin']) throwsCode(assert, () => v1[m](value), 'LEGACY_CBC_DISABLED');
  const created = Session.create(publicPem, { version: 'v1' });
  throwsCode(assert, () => created.decrypt(created.encrypt('1')), 'LEGACY_CBC_DISABLED');
  const opted = Session.fromKey(key, { version: 'v1', allowLegacyCbc: true });
  assert.equal(opted.decrypt(value), '4111111111111111');
  const raw = unb64(value.data);
  raw[raw.length - 17] ^= 1; // bad padding
  for (const bad of [{ data: raw.toString('base64'), iv: value.iv }, { data: '@@', iv: value.iv },
    { data: value.data, iv: 'AAAA' }, { data: value.data }, 'nope', null, { data: 'A'.repeat(70000), iv: value.iv }]) {
    for (const m of ['decrypt', 'decryptBytes', 'decryptPin']) {
      assert.throws(() => opted[m](bad), { name: 'PaySecureError', code: 'DECRYPTION_FAILED', message: 'decryption failed' });
    }
  }
  throwsCode(assert, () => Session.fromKey(key, { version: 'v1', allowLegacyCbc: 1 }), 'INVALID_INPUT');
  for (const s of [v1, created, opted]) s.free();
});

test('paysecure-wasm/reveal: V1 is refused with V1_NOT_IN_ENTRY wherever a version is read', () => {
  const { Session, PublicKey, isPaySecureError } = reveal;
  const key = vectors.aes_cases[0].session_key_b64;
  const publicKey = PublicKey.parse(publicPem);
  for (const version of ['v1', 'V1']) {
    for (const call of [() => Session.create(publicPem, { version }), () => Session.create(publicPem, { version, allowLegacyCbc: true }),
      () => Session.fromKey(key, { version }), () => publicKey.createSession({ version })]) {
      assert.throws(call, (e) => {
        assert.ok(isPaySecureError(e) && ps.isPaySecureError(e), 'a PaySecureError for both entries');
        assert.equal(e.code, 'V1_NOT_IN_ENTRY');
        assert.match(e.message, /paysecure-wasm\/reveal.*'paysecure-wasm'/);
        return true;
      });
    }
  }
  // The other versions and unknown ones are as in the full entry point.
  throwsCode(assert, () => Session.create(publicPem, { version: 'v9' }), 'UNSUPPORTED_VERSION');
  for (const version of ['v2', 'v3']) Session.create(publicPem, { version }).free();
  publicKey.free();
  // The full entry point has V1 (its LEGACY_CBC_DISABLED rules: above).
  ps.Session.create(publicPem, { version: 'v1' }).free();
});

test('the two entry points are two modules: their values interoperate, their objects do not mix', () => {
  const key = vectors.aes_cases[0].session_key_b64;
  const full = ps.Session.fromKey(key);
  const small = reveal.Session.fromKey(key);
  assert.equal(small.decrypt(full.encrypt('4111111111111111')), '4111111111111111');
  assert.equal(full.decryptPin(small.encryptPin('1432')), '1432');
  // A Session of one entry point is not one of the other's (each guards its own addresses).
  throwsCode(assert, () => reveal.Session.prototype.exportKey.call(full), 'INVALID_INPUT');
  throwsCode(assert, () => ps.Session.prototype.decrypt.call(small, full.encrypt('x')), 'INVALID_INPUT');
  full.free();
  small.free();
});

