// Seed 003's encrypted bodies (Session.encryptBody / decryptBody): lowercase
// hex of nonce || ciphertext || 16-byte tag, AES-GCM under the session key,
// no AAD, with a 26-byte ASCII nonce (UTC yyyyMMddHHmmss + 12 random
// lowercase hex digits) used whole as the GCM IV (J0 through GHASH). Interop
// both ways with OpenSSL (node:crypto), WebCrypto (crypto.subtle) and Java
// JCE (tests/java/BodyInterop.java); the nonce format; tampering and input
// validation.
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { ps, root, publicPem, b64, unb64, throwsCode, KEY_BITS } from './helpers.mjs';

const { Session } = ps;
const { subtle } = globalThis.crypto;
const NONCE_LEN = 26;
const TAG_LEN = 16;

const BODY = JSON.stringify({ data: { uuid: '272d11bc-72d2-4ec2-99f8-1374daec3535', udid: 'device-1' } });
const UNICODE = JSON.stringify({ firstName: 'Zoë', lastName: '山田', city: 'Kraków', note: 'ok 🎉 \u0000 "quoted"' });

/** A session over a fresh random key of `keyBits`, and that key's bytes. */
function session(keyBits) {
  const key = crypto.randomBytes(keyBits / 8);
  return { s: Session.fromKey(b64(key), { version: 'v2' }), key };
}

/** `yyyyMMddHHmmss` (UTC) of `date`. */
const stamp = (date) => date.toISOString().replace(/\D/g, '').slice(0, 14);
/** A well-formed nonce: the time of `date` and 12 random lowercase hex digits. */
const nonceFor = (date = new Date()) => stamp(date) + crypto.randomBytes(6).toString('hex');

// OpenSSL (node:crypto): GCM with a 26-byte IV.
function opensslSeal(key, nonce, text) {
  const iv = Buffer.from(nonce, 'latin1');
  assert.equal(iv.length, NONCE_LEN);
  const c = crypto.createCipheriv(`aes-${key.length * 8}-gcm`, key, iv, { authTagLength: TAG_LEN });
  return Buffer.concat([iv, c.update(Buffer.from(text, 'utf8')), c.final(), c.getAuthTag()]).toString('hex');
}
function opensslOpen(key, hex) {
  const raw = Buffer.from(hex, 'hex');
  const d = crypto.createDecipheriv(`aes-${key.length * 8}-gcm`, key, raw.subarray(0, NONCE_LEN), { authTagLength: TAG_LEN });
  d.setAuthTag(raw.subarray(-TAG_LEN));
  return Buffer.concat([d.update(raw.subarray(NONCE_LEN, -TAG_LEN)), d.final()]).toString('utf8');
}

// WebCrypto: AES-GCM takes an IV of any length.
const webKey = (key) => subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt', 'decrypt']);
async function webSeal(key, nonce, text) {
  const iv = new TextEncoder().encode(nonce);
  const ct = await subtle.encrypt({ name: 'AES-GCM', iv, tagLength: 128 }, await webKey(key), new TextEncoder().encode(text));
  return Buffer.concat([iv, new Uint8Array(ct)]).toString('hex');
}
async function webOpen(key, hex) {
  const raw = Buffer.from(hex, 'hex');
  const plain = await subtle.decrypt({ name: 'AES-GCM', iv: raw.subarray(0, NONCE_LEN), tagLength: 128 },
    await webKey(key), raw.subarray(NONCE_LEN));
  return new TextDecoder('utf-8', { fatal: true }).decode(plain);
}

/** Checks the shape of one of our bodies and returns its nonce text. */
function checkBody(hex, text, before, after) {
  assert.match(hex, /^[0-9a-f]+$/, 'lowercase hex');
  assert.equal(hex.length, 2 * (NONCE_LEN + Buffer.byteLength(text, 'utf8') + TAG_LEN));
  const nonce = Buffer.from(hex.slice(0, 2 * NONCE_LEN), 'hex').toString('latin1');
  assert.match(nonce, /^[0-9]{14}[0-9a-f]{12}$/, `nonce ${JSON.stringify(nonce)}`);
  const [y, mo, d, h, mi, s] = nonce.slice(0, 14).match(/^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)$/).slice(1).map(Number);
  const t = Date.UTC(y, mo - 1, d, h, mi, s);
  assert.equal(stamp(new Date(t)), nonce.slice(0, 14), 'a real UTC date-time');
  // Stamped with the current time, truncated to the second.
  assert.ok(t >= Math.floor(before / 1000) * 1000 - 2000 && t <= after + 2000,
    `nonce time ${new Date(t).toISOString()} not within [${new Date(before).toISOString()}, ${new Date(after).toISOString()}]`);
  return nonce;
}

/** `hex` with the hex digit at `i` changed (its nibble's lowest bit flipped). */
const flipDigit = (hex, i) => hex.slice(0, i) + (parseInt(hex[i], 16) ^ 1).toString(16) + hex.slice(i + 1);

test('encryptBody: lowercase hex, 26-byte stamped nonce, opened by OpenSSL and WebCrypto, every key size', async () => {
  for (const keyBits of KEY_BITS) {
    const { s, key } = session(keyBits);
    assert.equal(s.keyBits, keyBits);
    for (const text of [BODY, UNICODE, '', 'x']) {
      const before = Date.now();
      const hex = s.encryptBody(text);
      const after = Date.now();
      checkBody(hex, text, before, after);
      assert.equal(opensslOpen(key, hex), text, `${keyBits}: OpenSSL opens ${JSON.stringify(text)}`);
      assert.equal(await webOpen(key, hex), text, `${keyBits}: WebCrypto opens ${JSON.stringify(text)}`);
      assert.equal(s.decryptBody(hex), text, `${keyBits}: round trip`);
    }
    s.free();
  }
});

test('a Session.create session encrypts bodies under the key its session id carries', () => {
  for (const keyBits of KEY_BITS) {
    const s = Session.create(publicPem, { keyBits });
    const key = unb64(s.exportKey());
    assert.equal(key.length, keyBits / 8);
    assert.equal(opensslOpen(key, s.encryptBody(BODY)), BODY);
    assert.equal(s.decryptBody(opensslSeal(key, nonceFor(), BODY)), BODY);
    s.free();
  }
});

test('decryptBody opens bodies made by OpenSSL and WebCrypto (lowercase and uppercase hex), every key size', async () => {
  for (const keyBits of KEY_BITS) {
    const { s, key } = session(keyBits);
    for (const text of [BODY, UNICODE, '']) {
      const fromOpenssl = opensslSeal(key, nonceFor(), text);
      assert.equal(s.decryptBody(fromOpenssl), text, `${keyBits}: OpenSSL -> ours`);
      assert.equal(s.decryptBody(fromOpenssl.toUpperCase()), text, `${keyBits}: OpenSSL -> ours, uppercase hex`);
      const fromWeb = await webSeal(key, nonceFor(), text);
      assert.equal(s.decryptBody(fromWeb), text, `${keyBits}: WebCrypto -> ours`);
      assert.equal(s.decryptBody(fromWeb.toUpperCase()), text, `${keyBits}: WebCrypto -> ours, uppercase hex`);
    }
    // The nonce need not be recent for decryptBody (freshness is the server's check).
    assert.equal(s.decryptBody(opensslSeal(key, '201509241506213bc860332186', BODY)), BODY);
    s.free();
  }
});

test('Java JCE (GCMParameterSpec with the 26-byte nonce): both directions, every key size', () => {
  const javaDir = path.join(root, 'tests', 'java');
  const outDir = path.join(javaDir, 'out');
  const ops = [];
  const checks = [];
  const sessions = [];
  for (const keyBits of KEY_BITS) {
    const { s, key } = session(keyBits);
    sessions.push(s);
    // Ours -> Java.
    for (const text of [BODY, UNICODE]) {
      ops.push(`BODY_DECRYPT ${b64(key)} ${s.encryptBody(text)}`);
      checks.push((r) => assert.equal(unb64(r).toString('utf8'), text, `${keyBits}: ours -> Java`));
    }
    // Java -> ours.
    for (const text of [BODY, UNICODE]) {
      const nonce = nonceFor();
      ops.push(`BODY_ENCRYPT ${b64(key)} ${nonce} ${b64(Buffer.from(text, 'utf8'))}`);
      checks.push((r) => {
        assert.match(r, /^[0-9a-f]+$/);
        assert.equal(r, opensslSeal(key, nonce, text), `${keyBits}: Java and OpenSSL agree byte for byte`);
        assert.equal(s.decryptBody(r), text, `${keyBits}: Java -> ours`);
      });
    }
    // Java refuses our body tampered in the tag, and under another key.
    const hex = s.encryptBody(BODY);
    ops.push(`BODY_DECRYPT ${b64(key)} ${flipDigit(hex, hex.length - 1)}`);
    checks.push((r) => assert.equal(r, 'ERR AEADBadTagException'));
    ops.push(`BODY_DECRYPT ${b64(crypto.randomBytes(keyBits / 8))} ${hex}`);
    checks.push((r) => assert.equal(r, 'ERR AEADBadTagException'));
  }
  mkdirSync(outDir, { recursive: true });
  execFileSync('javac', ['-d', outDir, path.join(javaDir, 'BodyInterop.java')]);
  const out = execFileSync('java', ['-cp', outDir, 'BodyInterop'], { input: ops.join('\n') + '\n' });
  const results = out.toString('utf8').trimEnd().split('\n');
  assert.equal(results.length, ops.length);
  results.forEach((r, i) => checks[i](r));
  for (const s of sessions) s.free();
});

test('one changed hex digit anywhere (nonce, ciphertext, tag) is DECRYPTION_FAILED', () => {
  for (const keyBits of KEY_BITS) {
    const { s } = session(keyBits);
    const hex = s.encryptBody('{"a":1}');
    assert.equal(hex.length, 2 * (NONCE_LEN + 7 + TAG_LEN));
    for (let i = 0; i < hex.length; i++) {
      throwsCode(assert, () => s.decryptBody(flipDigit(hex, i)), 'DECRYPTION_FAILED');
    }
    // Each region by its high bit too (a nonce digit becomes a non-digit byte).
    for (const i of [0, 2 * 14, 2 * NONCE_LEN, hex.length - 2]) {
      const t = hex.slice(0, i) + (parseInt(hex[i], 16) ^ 8).toString(16) + hex.slice(i + 1);
      throwsCode(assert, () => s.decryptBody(t), 'DECRYPTION_FAILED');
    }
    // Truncated or extended.
    throwsCode(assert, () => s.decryptBody(hex.slice(0, -2)), 'DECRYPTION_FAILED');
    throwsCode(assert, () => s.decryptBody(hex + '00'), 'DECRYPTION_FAILED');
    assert.equal(s.decryptBody(hex), '{"a":1}', 'the untouched body still opens');
    s.free();
  }
});

test('a wrong key (same or other size) is DECRYPTION_FAILED', () => {
  for (const keyBits of KEY_BITS) {
    const { s } = session(keyBits);
    const hex = s.encryptBody(BODY);
    for (const otherBits of KEY_BITS) {
      const { s: other } = session(otherBits);
      throwsCode(assert, () => other.decryptBody(hex), 'DECRYPTION_FAILED');
      other.free();
    }
    s.free();
  }
});

test('a correctly sealed body whose nonce is not a UTC time + 12 hex digits is DECRYPTION_FAILED', () => {
  const { s, key } = session(256);
  const random = '3bc860332186';
  // The control: the same construction with a valid nonce opens.
  assert.equal(s.decryptBody(opensslSeal(key, `20240229120000${random}`, BODY)), BODY); // a leap day
  for (const nonce of [
    `20240230120000${random}`, // 30 February
    `20230229120000${random}`, // 29 February, not a leap year
    `20240431120000${random}`, // 31 April
    `20241301120000${random}`, // month 13
    `20240001120000${random}`, // month 0
    `20240100120000${random}`, // day 0
    `20240101240000${random}`, // hour 24
    `20240101126000${random}`, // minute 60
    `20240101120060${random}`, // second 60
    '20150924150621zzc860332186', // random part not hex
    '20150924150621 bc860332186', // random part not hex
    '2015O9241506213bc860332186', // letter O in the timestamp
    '2015-09-24T15:06:21Z3bc860', // an ISO date is not the format
  ]) {
    assert.equal(nonce.length, NONCE_LEN);
    const hex = opensslSeal(key, nonce, BODY);
    assert.equal(opensslOpen(key, hex), BODY, 'a well-formed GCM body otherwise');
    throwsCode(assert, () => s.decryptBody(hex), 'DECRYPTION_FAILED');
  }
  s.free();
});

test('odd-length, non-hex, empty and too-short text is DECRYPTION_FAILED', () => {
  const { s } = session(128);
  const hex = s.encryptBody(BODY);
  for (const bad of [
    '', 'a', 'abc', 'zz', 'zz'.repeat(60),
    hex.slice(0, -1), // odd length
    hex + 'a', // odd length
    hex.slice(0, 60) + 'g' + hex.slice(61), // a non-hex character
    hex.slice(0, 60) + ' ' + hex.slice(61),
    '0x' + hex.slice(2),
    Buffer.from(hex, 'hex').toString('base64'), // base64 is not hex
    '00'.repeat(NONCE_LEN + TAG_LEN - 1), // shorter than nonce + tag
    hex.slice(0, 2 * (NONCE_LEN + TAG_LEN)), // nonce and a wrong tag, no ciphertext
  ]) {
    throwsCode(assert, () => s.decryptBody(bad), 'DECRYPTION_FAILED');
  }
  s.free();
});

test('non-string arguments are INVALID_INPUT', () => {
  const { s } = session(256);
  const hex = s.encryptBody(BODY);
  for (const bad of [42, null, undefined, {}, [], true, Buffer.from(BODY), new Uint8Array([1, 2]), new String(hex)]) {
    throwsCode(assert, () => s.decryptBody(bad), 'INVALID_INPUT');
    throwsCode(assert, () => s.encryptBody(bad), 'INVALID_INPUT');
  }
  throwsCode(assert, () => s.decryptBody(), 'INVALID_INPUT');
  throwsCode(assert, () => s.encryptBody(), 'INVALID_INPUT');
  s.free();
});

test('an authenticated plaintext that is not UTF-8 is INVALID_UTF8', () => {
  const key = crypto.randomBytes(32);
  const s = Session.fromKey(b64(key), { version: 'v2' });
  const iv = Buffer.from(nonceFor(), 'latin1');
  const c = crypto.createCipheriv('aes-256-gcm', key, iv);
  const hex = Buffer.concat([iv, c.update(Buffer.from([0xff, 0xfe, 0x41])), c.final(), c.getAuthTag()]).toString('hex');
  throwsCode(assert, () => s.decryptBody(hex), 'INVALID_UTF8');
  s.free();
});

test('two encryptions of the same text differ (the nonce is random), both open', () => {
  const { s } = session(256);
  const seen = new Set();
  const nonces = new Set();
  for (let i = 0; i < 50; i++) {
    const hex = s.encryptBody(BODY);
    seen.add(hex);
    nonces.add(hex.slice(2 * 14, 2 * NONCE_LEN)); // the random part
    assert.equal(s.decryptBody(hex), BODY);
  }
  assert.equal(seen.size, 50);
  assert.equal(nonces.size, 50);
  s.free();
});

test('Unicode text round-trips, as UTF-8', () => {
  const { s, key } = session(192);
  for (const text of [UNICODE, 'é', '日本語テキスト', '🎉'.repeat(100), 'a\u2028b\r\n\t', JSON.stringify({ s: 'x'.repeat(5000) })]) {
    const hex = s.encryptBody(text);
    assert.equal(hex.length, 2 * (NONCE_LEN + Buffer.byteLength(text, 'utf8') + TAG_LEN));
    assert.equal(s.decryptBody(hex), text);
    assert.equal(opensslOpen(key, hex), text, 'UTF-8 inside');
  }
  s.free();
});
