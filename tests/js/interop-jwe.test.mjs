// encryptCard's compact JWE (RFC 7516: RSA-OAEP-256 + A256GCM) opened by
// independent implementations: jose, WebCrypto (crypto.subtle) and OpenSSL
// (node:crypto); tampering, freshness and input validation.
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { compactDecrypt, importPKCS8 } from 'jose';
import { ps, root, publicPem, privatePem, privateDerB64, throwsCode, unb64 } from './helpers.mjs';

const { encryptCard } = ps;
const { subtle } = globalThis.crypto;

const data = (f) => readFileSync(path.join(root, 'tests', 'data', f), 'utf8');
const b64u = (s) => Buffer.from(s, 'base64url');
const KID = 'rsa-fe656ac0e7bf4311';
const HEADER = `{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"${KID}"}`;
// 1_795_000_000 s: the instant of the core's documented example.
const CAPTURE = new Date(1_795_000_000_000);
const CAPTURE_TEXT = '2026-11-18T11:06:40Z';

// Every optional field, in mixed forms (numbers, digit strings, YY years).
const FULL = {
  cardNumber: '4444 3333 2222 1111', sequenceNumber: '01', cardholderName: 'MR J HOLDER',
  startMonth: 3, startYear: '24', expiryMonth: '12', expiryYear: 2031, cvv: '1234',
};
const FULL_JSON = '{"cardNumber":"4444333322221111","sequenceNumber":"01","cardholderName":"MR J HOLDER",'
  + '"startMonth":"03","startYear":"2024","expiryMonth":"12","expiryYear":"2031","cvv":"1234",'
  + `"captureTime":"${CAPTURE_TEXT}"}`;
// No optional field.
const MINIMAL = { cardNumber: '4111111111111111', expiryMonth: 1, expiryYear: 30 };
const MINIMAL_JSON = `{"cardNumber":"4111111111111111","expiryMonth":"01","expiryYear":"2030","captureTime":"${CAPTURE_TEXT}"}`;

const joseKey = await importPKCS8(privatePem, 'RSA-OAEP-256');
const JOSE_OPTS = { keyManagementAlgorithms: ['RSA-OAEP-256'], contentEncryptionAlgorithms: ['A256GCM'] };

/** jose's view: the decoded protected header and the plaintext as text. */
async function joseOpen(jwe) {
  const { plaintext, protectedHeader } = await compactDecrypt(jwe, joseKey, JOSE_OPTS);
  return { header: protectedHeader, text: new TextDecoder('utf-8', { fatal: true }).decode(plaintext) };
}

/** The five parts of a compact JWE, decoded (and the header's base64url text, the AAD). */
function parts(jwe) {
  const p = jwe.split('.');
  assert.equal(p.length, 5, 'five dot-separated parts');
  for (const s of p) assert.match(s, /^[A-Za-z0-9_-]+$/, 'unpadded base64url');
  return {
    protected: p[0], header: b64u(p[0]).toString('utf8'),
    encryptedKey: b64u(p[1]), iv: b64u(p[2]), ciphertext: b64u(p[3]), tag: b64u(p[4]),
  };
}

test('jose compactDecrypt opens a card with every optional field', async () => {
  const jwe = encryptCard(FULL, publicPem, { keyAlias: KID, captureTime: CAPTURE });
  const { header, text } = await joseOpen(jwe);
  assert.deepEqual(header, { alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: KID });
  assert.equal(text, FULL_JSON);
  assert.deepEqual(Object.keys(JSON.parse(text)), ['cardNumber', 'sequenceNumber', 'cardholderName',
    'startMonth', 'startYear', 'expiryMonth', 'expiryYear', 'cvv', 'captureTime']);
  const p = parts(jwe);
  assert.equal(p.header, HEADER, 'the protected header, byte for byte');
  assert.equal(p.encryptedKey.length, 256, 'RSA-2048 wrapped key');
  assert.equal(p.iv.length, 12);
  assert.equal(p.tag.length, 16);
  assert.equal(p.ciphertext.length, Buffer.byteLength(FULL_JSON));
});

test('jose compactDecrypt opens a card with no optional field', async () => {
  const jwe = encryptCard(MINIMAL, publicPem, { keyAlias: KID, captureTime: CAPTURE });
  const { header, text } = await joseOpen(jwe);
  assert.deepEqual(header, { alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: KID });
  assert.equal(text, MINIMAL_JSON);
});

test('the plaintext is the documented single line of JSON', async () => {
  const card = { cardNumber: '4444333322221111', cardholderName: 'MR J HOLDER', expiryMonth: '12', expiryYear: '2031', cvv: '123' };
  const { text } = await joseOpen(encryptCard(card, publicPem, { keyAlias: KID, captureTime: CAPTURE }));
  assert.equal(text, '{"cardNumber":"4444333322221111","cardholderName":"MR J HOLDER","expiryMonth":"12","expiryYear":"2031","cvv":"123","captureTime":"2026-11-18T11:06:40Z"}');
  assert.doesNotMatch(text, /\n/);
});

test('a name needing JSON escapes reaches a JSON parser intact', async () => {
  const name = 'O"Brien \\ Ünal';
  const { text } = await joseOpen(encryptCard({ ...MINIMAL, cardholderName: `  ${name} ` }, publicPem,
    { keyAlias: KID, captureTime: CAPTURE }));
  assert.equal(JSON.parse(text).cardholderName, name, 'escaped, surrounding spaces trimmed');
});

test('captureTime: a Date or milliseconds, sent as RFC 3339 UTC seconds; default now', async () => {
  const at = async (captureTime) =>
    JSON.parse((await joseOpen(encryptCard(MINIMAL, publicPem, { keyAlias: KID, captureTime }))).text).captureTime;
  assert.equal(CAPTURE.toISOString().replace(/\.\d{3}Z$/, 'Z'), CAPTURE_TEXT);
  assert.equal(await at(CAPTURE), CAPTURE_TEXT);
  assert.equal(await at(CAPTURE.getTime()), CAPTURE_TEXT);
  assert.equal(await at(new Date(CAPTURE.getTime() + 999)), CAPTURE_TEXT, 'milliseconds are dropped');
  const odd = new Date(Date.UTC(2028, 1, 29, 3, 4, 5, 678)); // a leap day, single-digit fields
  assert.equal(await at(odd), '2028-02-29T03:04:05Z');
  assert.equal(await at(odd), odd.toISOString().replace(/\.\d{3}Z$/, 'Z'));

  const before = Date.now();
  const jwe = encryptCard(MINIMAL, publicPem, { keyAlias: KID });
  const after = Date.now();
  const now = JSON.parse((await joseOpen(jwe)).text).captureTime;
  assert.match(now, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  const t = Date.parse(now);
  assert.ok(t >= Math.floor(before / 1000) * 1000 && t <= after, `${now} is between ${before} and ${after}`);
  assert.ok(Math.abs(t - Date.now()) < 5000, 'within a few seconds of now');
});

test('WebCrypto decrypts it by hand: RSA-OAEP SHA-256 unwrap, AES-GCM with the header as AAD', async () => {
  const rsa = await subtle.importKey('pkcs8', unb64(privateDerB64), { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['decrypt']);
  for (const [card, json] of [[FULL, FULL_JSON], [MINIMAL, MINIMAL_JSON]]) {
    const p = parts(encryptCard(card, publicPem, { keyAlias: KID, captureTime: CAPTURE }));
    const cek = new Uint8Array(await subtle.decrypt({ name: 'RSA-OAEP' }, rsa, p.encryptedKey));
    assert.equal(cek.length, 32, 'a 256-bit content key');
    const aes = await subtle.importKey('raw', cek, 'AES-GCM', false, ['decrypt']);
    const plain = await subtle.decrypt(
      { name: 'AES-GCM', iv: p.iv, additionalData: new TextEncoder().encode(p.protected), tagLength: 128 },
      aes, Buffer.concat([p.ciphertext, p.tag]));
    assert.equal(new TextDecoder().decode(plain), json);
    // The AAD is the base64url text of the header, not the decoded JSON.
    await assert.rejects(subtle.decrypt(
      { name: 'AES-GCM', iv: p.iv, additionalData: new TextEncoder().encode(p.header), tagLength: 128 },
      aes, Buffer.concat([p.ciphertext, p.tag])));
  }
  // OAEP with SHA-1 (the session-id padding) does not unwrap it.
  const sha1 = await subtle.importKey('pkcs8', unb64(privateDerB64), { name: 'RSA-OAEP', hash: 'SHA-1' }, false, ['decrypt']);
  const p = parts(encryptCard(MINIMAL, publicPem, { keyAlias: KID, captureTime: CAPTURE }));
  await assert.rejects(subtle.decrypt({ name: 'RSA-OAEP' }, sha1, p.encryptedKey));
});

test('OpenSSL (node:crypto) decrypts it by hand: privateDecrypt OAEP SHA-256, aes-256-gcm', () => {
  for (const [card, json] of [[FULL, FULL_JSON], [MINIMAL, MINIMAL_JSON]]) {
    const p = parts(encryptCard(card, publicPem, { keyAlias: KID, captureTime: CAPTURE }));
    const cek = crypto.privateDecrypt(
      { key: privatePem, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, p.encryptedKey);
    assert.equal(cek.length, 32);
    const d = crypto.createDecipheriv('aes-256-gcm', cek, p.iv);
    d.setAAD(Buffer.from(p.protected, 'ascii'));
    d.setAuthTag(p.tag);
    assert.equal(Buffer.concat([d.update(p.ciphertext), d.final()]).toString('utf8'), json);
  }
  const p = parts(encryptCard(MINIMAL, publicPem, { keyAlias: KID, captureTime: CAPTURE }));
  assert.throws(() => crypto.privateDecrypt(
    { key: privatePem, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, p.encryptedKey));
});

test('the public key as SPKI PEM, PKCS#1 PEM, a JWK object or JWK text', async () => {
  const jwkFile = JSON.parse(data('rsa2048-public.jwk.json'));
  const derived = crypto.createPublicKey(privatePem).export({ format: 'jwk' });
  assert.deepEqual({ n: jwkFile.n, e: jwkFile.e }, { n: derived.n, e: derived.e }, 'the JWK file is the vector key');
  const keys = {
    spki: publicPem, pkcs1: data('rsa2048-public-pkcs1.pem'), jwkFile, derived,
    jwkText: JSON.stringify(jwkFile), serverJwk: { ...jwkFile, alg: 'RSA-OAEP-256', kid: KID, use: 'enc' },
  };
  for (const [form, key] of Object.entries(keys)) {
    const { text } = await joseOpen(encryptCard(MINIMAL, key, { keyAlias: KID, captureTime: CAPTURE }));
    assert.equal(text, MINIMAL_JSON, form);
  }
});

test('tampering with ciphertext, tag, IV, encrypted key or header makes jose refuse it', async () => {
  const jwe = encryptCard(FULL, publicPem, { keyAlias: KID, captureTime: CAPTURE });
  await joseOpen(jwe); // the untouched one opens
  const p = jwe.split('.');
  const flip = (part, at) => {
    const bytes = b64u(p[part]);
    bytes[at < 0 ? bytes.length + at : at] ^= 0x01;
    return p.map((s, i) => (i === part ? bytes.toString('base64url') : s)).join('.');
  };
  const b64uText = (s) => Buffer.from(s).toString('base64url');
  const other = encryptCard(FULL, publicPem, { keyAlias: 'other-key', captureTime: CAPTURE }).split('.');
  const cases = {
    'ciphertext, first byte': flip(3, 0),
    'ciphertext, middle byte': flip(3, 40),
    'ciphertext, last byte': flip(3, -1),
    'tag, first byte': flip(4, 0),
    'tag, last byte': flip(4, 15),
    'IV, first byte': flip(2, 0),
    'IV, last byte': flip(2, 11),
    'encrypted key': flip(1, 100),
    'header of another JWE (other kid)': [other[0], ...p.slice(1)].join('.'),
    'header re-encoded with another kid': [b64uText(HEADER.replace(KID, 'rsa-0000000000000000')), ...p.slice(1)].join('.'),
    'header with the same members in another order':
      [b64uText(`{"enc":"A256GCM","alg":"RSA-OAEP-256","kid":"${KID}"}`), ...p.slice(1)].join('.'),
    'parts of another JWE (key and IV swapped in)': [p[0], other[1], other[2], p[3], p[4]].join('.'),
  };
  for (const [what, bad] of Object.entries(cases)) {
    assert.notEqual(bad, jwe, what);
    await assert.rejects(compactDecrypt(bad, joseKey, JOSE_OPTS), { code: 'ERR_JWE_DECRYPTION_FAILED' }, what);
  }
  // A header naming other algorithms is refused before any decryption.
  const weak = [b64uText(`{"alg":"RSA-OAEP","enc":"A256GCM","kid":"${KID}"}`), ...p.slice(1)].join('.');
  await assert.rejects(compactDecrypt(weak, joseKey, JOSE_OPTS), { code: 'ERR_JOSE_ALG_NOT_ALLOWED' });
});

test('every output is fresh: new content key and IV for the same input', async () => {
  const rsa = await subtle.importKey('pkcs8', unb64(privateDerB64), { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['decrypt']);
  const outs = Array.from({ length: 6 }, () => encryptCard(FULL, publicPem, { keyAlias: KID, captureTime: CAPTURE }));
  const ps6 = outs.map(parts);
  const distinct = (f) => new Set(ps6.map(f)).size;
  assert.equal(new Set(outs).size, outs.length, 'whole JWEs');
  assert.equal(distinct((p) => p.protected), 1, 'one header');
  assert.equal(distinct((p) => p.encryptedKey.toString('hex')), outs.length, 'encrypted keys');
  assert.equal(distinct((p) => p.iv.toString('hex')), outs.length, 'IVs');
  assert.equal(distinct((p) => p.ciphertext.toString('hex')), outs.length, 'ciphertexts');
  assert.equal(distinct((p) => p.tag.toString('hex')), outs.length, 'tags');
  const ceks = await Promise.all(ps6.map(async (p) =>
    Buffer.from(await subtle.decrypt({ name: 'RSA-OAEP' }, rsa, p.encryptedKey)).toString('hex')));
  assert.equal(new Set(ceks).size, outs.length, 'content keys');
  for (const jwe of outs) assert.equal((await joseOpen(jwe)).text, FULL_JSON);
});

test('expiry months and years: numbers or digit strings; YY means 20YY', async () => {
  const forms = [
    [{ expiryMonth: 7, expiryYear: 2031 }, '07', '2031'],
    [{ expiryMonth: '7', expiryYear: '2031' }, '07', '2031'],
    [{ expiryMonth: '07', expiryYear: 31 }, '07', '2031'],
    [{ expiryMonth: 12, expiryYear: '31' }, '12', '2031'],
    [{ expiryMonth: 1, expiryYear: '2099' }, '01', '2099'],
    [{ expiryMonth: '11', expiryYear: 26 }, '11', '2026'], // the capture month itself: still valid
  ];
  for (const [expiry, month, year] of forms) {
    const { text } = await joseOpen(encryptCard({ cardNumber: '4111111111111111', ...expiry }, publicPem,
      { keyAlias: KID, captureTime: CAPTURE }));
    const json = JSON.parse(text);
    assert.deepEqual([json.expiryMonth, json.expiryYear], [month, year], JSON.stringify(expiry));
  }
});

test('key aliases: 1 to 64 of [A-Za-z0-9._-] become the kid', async () => {
  for (const keyAlias of ['k', 'rsa-fe656ac0e7bf4311', 'Key_2026.v2', 'a'.repeat(64)]) {
    const { header } = await joseOpen(encryptCard(MINIMAL, publicPem, { keyAlias, captureTime: CAPTURE }));
    assert.equal(header.kid, keyAlias);
  }
});

test('input validation: every error code, as a PaySecureError', () => {
  const opts = { keyAlias: KID, captureTime: CAPTURE };
  const card = (over) => ({ ...MINIMAL, ...over });
  const cases = [
    // INVALID_PAN: digits, length, Luhn.
    ['bad Luhn', card({ cardNumber: '4111111111111112' }), publicPem, opts, 'INVALID_PAN'],
    ['11 digits', card({ cardNumber: '41111111111' }), publicPem, opts, 'INVALID_PAN'],
    ['20 digits', card({ cardNumber: '41111111111111111113' }), publicPem, opts, 'INVALID_PAN'],
    ['a letter in the number', card({ cardNumber: '4111x11111111111' }), publicPem, opts, 'INVALID_PAN'],
    ['empty number', card({ cardNumber: '' }), publicPem, opts, 'INVALID_PAN'],
    // INVALID_CARD: month, year, expired, CVV, name, sequence number, start date.
    ['month 13', card({ expiryMonth: 13 }), publicPem, opts, 'INVALID_CARD'],
    ['month 0', card({ expiryMonth: '0' }), publicPem, opts, 'INVALID_CARD'],
    ['month 1.5', card({ expiryMonth: 1.5 }), publicPem, opts, 'INVALID_CARD'],
    ['month "1x"', card({ expiryMonth: '1x' }), publicPem, opts, 'INVALID_CARD'],
    ['year 1999', card({ expiryYear: 1999 }), publicPem, opts, 'INVALID_CARD'],
    ['year 2100', card({ expiryYear: '2100' }), publicPem, opts, 'INVALID_CARD'],
    ['expired before the capture month', card({ expiryMonth: 10, expiryYear: 2026 }), publicPem, opts, 'INVALID_CARD'],
    ['expired by an explicit captureTime', card({ expiryMonth: 1, expiryYear: 2030 }), publicPem,
      { keyAlias: KID, captureTime: new Date('2030-02-01T00:00:00Z') }, 'INVALID_CARD'],
    ['cvv "12"', card({ cvv: '12' }), publicPem, opts, 'INVALID_CARD'],
    ['cvv "12345"', card({ cvv: '12345' }), publicPem, opts, 'INVALID_CARD'],
    ['cvv "abc"', card({ cvv: 'abc' }), publicPem, opts, 'INVALID_CARD'],
    ['name of 51 characters', card({ cardholderName: 'X'.repeat(51) }), publicPem, opts, 'INVALID_CARD'],
    ['blank name', card({ cardholderName: '   ' }), publicPem, opts, 'INVALID_CARD'],
    ['name with a control character', card({ cardholderName: 'MR\tJ' }), publicPem, opts, 'INVALID_CARD'],
    ['sequence number of 4 digits', card({ sequenceNumber: '0001' }), publicPem, opts, 'INVALID_CARD'],
    ['start month 13', card({ startMonth: 13, startYear: 2024 }), publicPem, opts, 'INVALID_CARD'],
    // INVALID_PUBLIC_KEY, WEAK_PUBLIC_KEY.
    ['garbage PEM', MINIMAL, '-----BEGIN PUBLIC KEY-----MIGfMA0G-----END PUBLIC KEY-----', opts, 'INVALID_PUBLIC_KEY'],
    ['not a key', MINIMAL, 'hello', opts, 'INVALID_PUBLIC_KEY'],
    ['an EC key', MINIMAL, data('ec-p256-public.pem'), opts, 'INVALID_PUBLIC_KEY'],
    ['a JWK of kty EC', MINIMAL, { kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' }, opts, 'INVALID_PUBLIC_KEY'],
    ['JWK text that is not JSON', MINIMAL, '{"kty":', opts, 'INVALID_PUBLIC_KEY'],
    ['RSA-1024', MINIMAL, data('rsa1024-public.pem'), opts, 'WEAK_PUBLIC_KEY'],
    // INVALID_INPUT: types, keyAlias, options.
    ['card null', null, publicPem, opts, 'INVALID_INPUT'],
    ['card a string', '4111111111111111', publicPem, opts, 'INVALID_INPUT'],
    ['card a number', 4111111111111111, publicPem, opts, 'INVALID_INPUT'],
    ['cardNumber a number', card({ cardNumber: 4111111111111111 }), publicPem, opts, 'INVALID_INPUT'],
    ['cardNumber missing', { expiryMonth: 1, expiryYear: 2030 }, publicPem, opts, 'INVALID_INPUT'],
    ['expiryYear missing', { cardNumber: '4111111111111111', expiryMonth: 1 }, publicPem, opts, 'INVALID_INPUT'],
    ['cvv a number', card({ cvv: 123 }), publicPem, opts, 'INVALID_INPUT'],
    ['startMonth without startYear', card({ startMonth: 3 }), publicPem, opts, 'INVALID_INPUT'],
    ['startYear without startMonth', card({ startYear: 2024 }), publicPem, opts, 'INVALID_INPUT'],
    ['public key a number', MINIMAL, 42, opts, 'INVALID_INPUT'],
    ['no options', MINIMAL, publicPem, undefined, 'INVALID_INPUT'],
    ['keyAlias missing', MINIMAL, publicPem, { captureTime: CAPTURE }, 'INVALID_INPUT'],
    ['keyAlias empty', MINIMAL, publicPem, { keyAlias: '' }, 'INVALID_INPUT'],
    ['keyAlias with a space', MINIMAL, publicPem, { keyAlias: 'my key' }, 'INVALID_INPUT'],
    ['keyAlias with a quote', MINIMAL, publicPem, { keyAlias: 'k"' }, 'INVALID_INPUT'],
    ['keyAlias of 65 characters', MINIMAL, publicPem, { keyAlias: 'a'.repeat(65) }, 'INVALID_INPUT'],
    ['keyAlias a number', MINIMAL, publicPem, { keyAlias: 7 }, 'INVALID_INPUT'],
    ['captureTime a string', MINIMAL, publicPem, { keyAlias: KID, captureTime: CAPTURE_TEXT }, 'INVALID_INPUT'],
    ['captureTime negative', MINIMAL, publicPem, { keyAlias: KID, captureTime: -1 }, 'INVALID_INPUT'],
    ['captureTime an invalid Date', MINIMAL, publicPem, { keyAlias: KID, captureTime: new Date(NaN) }, 'INVALID_INPUT'],
  ];
  const seen = new Set();
  for (const [what, c, key, o, code] of cases) {
    throwsCode(assert, () => encryptCard(c, key, o), code);
    // The message names the problem, never the input.
    try { encryptCard(c, key, o); } catch (e) {
      assert.doesNotMatch(e.message, /4111111111111|4111x/, what);
    }
    seen.add(code);
  }
  assert.deepEqual([...seen].sort(),
    ['INVALID_CARD', 'INVALID_INPUT', 'INVALID_PAN', 'INVALID_PUBLIC_KEY', 'WEAK_PUBLIC_KEY']);
});

test('expiry is checked against the month of captureTime (valid through its last day)', async () => {
  const card = { cardNumber: '4111111111111111', expiryMonth: 10, expiryYear: 2026 };
  const ok = encryptCard(card, publicPem, { keyAlias: KID, captureTime: new Date('2026-10-31T23:59:59Z') });
  assert.equal(JSON.parse((await joseOpen(ok)).text).captureTime, '2026-10-31T23:59:59Z');
  throwsCode(assert, () => encryptCard(card, publicPem, { keyAlias: KID, captureTime: new Date('2026-11-01T00:00:00Z') }),
    'INVALID_CARD');
});
