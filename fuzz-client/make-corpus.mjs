// Writes the seed corpora fuzz-client/corpus/<target>/ from valid inputs
// (the repository's test keys and vectors, and values made by the built
// nodejs package). Run once after a format change: node fuzz-client/make-corpus.mjs
// (needs pkg/paysecure-wasm: scripts/build.sh).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const ps = createRequire(import.meta.url)(path.join(root, 'pkg', 'paysecure-wasm'));
const vectors = JSON.parse(readFileSync(path.join(root, 'tests/data/paysecure-v1-v2.json'), 'utf8'));
const pkcs1Pem = readFileSync(path.join(root, 'tests/data/rsa2048-public-pkcs1.pem'), 'utf8');
const jwkText = readFileSync(path.join(root, 'tests/data/rsa2048-public.jwk.json'), 'utf8');
const jwk = JSON.parse(jwkText);
const spkiPem = vectors.rsa.public_spki_pem;
const derB64 = vectors.rsa.public_spki_der_b64;
const pkcs1B64 = pkcs1Pem.replace(/-----[^-]+-----|\s/g, '');

const seeds = {};
const add = (target, name, content) => {
  (seeds[target] ??= []).push([name, Buffer.isBuffer(content) ? content : Buffer.from(content)]);
};

add('public_key_text', 'spki.pem', spkiPem);
add('public_key_text', 'pkcs1.pem', pkcs1Pem);
add('public_key_text', 'spki-one-line.pem', `-----BEGIN PUBLIC KEY-----${derB64}-----END PUBLIC KEY-----`);
add('public_key_text', 'spki-crlf.pem', spkiPem.replace(/\n/g, '\r\n'));
add('public_key_text', 'spki-der.b64', derB64);
add('public_key_text', 'pkcs1-der.b64', pkcs1B64);
add('public_key_der', 'spki.der', Buffer.from(derB64, 'base64'));
add('public_key_der', 'pkcs1.der', Buffer.from(pkcs1B64, 'base64'));
add('public_key_jwk', 'rsa2048.json', jwkText);
add('public_key_jwk', 'use-enc.json', JSON.stringify({ ...jwk, use: 'enc', alg: 'RSA-OAEP', kid: 'rsa-1' }));
add('public_key_jwk', 'key-ops.json', JSON.stringify({ ...jwk, key_ops: ['encrypt', 'wrapKey'] }));
add('public_key_jwk', 'private-d.json', JSON.stringify({ ...jwk, d: 'AQAB' }));
add('public_key_jwk', 'use-sig.json', JSON.stringify({ ...jwk, use: 'sig' }));

add('base64', 'padded', 'AAECAw==');
add('base64', 'unpadded', 'AAECAw');
add('base64', 'wrapped', 'AAEC\r\nAw==\n');
add('base64', 'key', vectors.aes_cases[0].session_key_b64);
add('base64', 'url', jwk.n.slice(0, 64));

add('pin_block', 'iso2', '241432FFFFFFFFFF');
add('pin_block', 'iso2-12', '2C123456789012FF');
add('pin_block', 'iso0', '0412AC89ABCDEF67\n43219876543210987');
add('pin_block', 'iso1', ps.pinBlock('1234', { format: 1 }));
add('pin_block', 'iso3', `${ps.pinBlock('8642', { format: 3, pan: '4111111111111111' })}\n4111111111111111`);

// encrypted_value: selector byte (version = b % 3: v1, v2, v3; key = [32, 16, 24][b / 3 % 3] bytes
// of the target's fixed key), then data, '\n', iv.
const KEY = Buffer.from('603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4', 'hex');
const value = (selector, version, keyLen, plaintext, ivText) => {
  const key = KEY.subarray(0, keyLen);
  const s = ps.Session.fromKey(key.toString('base64'), { version, allowLegacyCbc: true });
  const v = typeof plaintext === 'string' && plaintext.length === 4 && /^\d+$/.test(plaintext) ? s.encryptPin(plaintext) : s.encrypt(plaintext);
  s.free();
  return Buffer.concat([Buffer.from([selector]), Buffer.from(`${v.data}\n${ivText ?? v.iv}`)]);
};
add('encrypted_value', 'v1-pan', value(0, 'v1', 32, '4111111111111111'));
add('encrypted_value', 'v2-pin', value(1, 'v2', 32, '1432'));
add('encrypted_value', 'v3-aes128', value(5, 'v3', 16, '123'));
add('encrypted_value', 'v2-aes192', value(7, 'v2', 24, '5413330089020011'));
add('encrypted_value', 'v1-pin-aes192', value(6, 'v1', 24, '0042'));
{
  // V1 with the V1 docs' 16-character text IV.
  const c = crypto.createCipheriv('aes-256-cbc', KEY, Buffer.from('Xb6qbV2L6d1F92YU'));
  const data = Buffer.concat([c.update('024'), c.final()]).toString('base64');
  add('encrypted_value', 'v1-text-iv', Buffer.concat([Buffer.from([0]), Buffer.from(`${data}\nXb6qbV2L6d1F92YU`)]));
}

const card = { cardNumber: '4444 3333 2222 1111', expiryMonth: 12, expiryYear: 2031, cvv: '123', cardholderName: 'MR J HOLDER' };
add('jwe', 'card', ps.encryptCard(card, spkiPem, { keyAlias: 'rsa-fe656ac0e7bf4311', captureTime: new Date('2026-11-18T11:06:40Z') }));
{
  // A JWE whose content key is the target's fixed one ([7; 32]), so that it opens.
  const cek = Buffer.alloc(32, 7);
  const header = Buffer.from('{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"k1"}').toString('base64url');
  const iv = crypto.randomBytes(12);
  const c = crypto.createCipheriv('aes-256-gcm', cek, iv).setAAD(Buffer.from(header));
  const ct = Buffer.concat([c.update('{"cardNumber":"4444333322221111"}'), c.final()]);
  add('jwe', 'opens', [header, crypto.randomBytes(256).toString('base64url'), iv.toString('base64url'),
    ct.toString('base64url'), c.getAuthTag().toString('base64url')].join('.'));
}

// body: the target's key is [0x42; 32].
{
  const s = ps.Session.fromKey(Buffer.alloc(32, 0x42).toString('base64'));
  add('body', 'json', s.encryptBody('{"data":{"orderId":"272d11bc"}}'));
  add('body', 'uuid-upper', s.encryptBody('272d11bc-72d2-4ec2-99f8-1374daec3535').toUpperCase());
  add('body', 'empty', s.encryptBody(''));
  s.free();
}

add('card', 'full', '4444 3333 2222 1111\n12\n2031\n123\nMR J HOLDER\n01\n3\n2024\n1800000000');
add('card', 'minimal', '4111111111111111\n1\n31');
add('card', 'amex', '378282246310005\n7\n2030\n1234\nJ. Q. "Quote" \\ Holder\n\n\n\n');
add('card', 'expired', '4111111111111111\n1\n2020\n\n\n\n\n\n1800000000');

for (const [target, files] of Object.entries(seeds)) {
  const dir = path.join(here, 'corpus', target);
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of files) writeFileSync(path.join(dir, name), content);
  console.log(`${target}: ${files.length} seeds`);
}
