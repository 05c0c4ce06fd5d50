// The RSA public-key operation (our own Montgomery arithmetic and OAEP /
// PKCS#1 v1.5 padding, crates/core/src/rsa_encrypt.rs and crates/montgomery) against
// OpenSSL (node:crypto) and node-forge, over keys OpenSSL generates: several
// sizes, including ones that are not a multiple of 32 bits, and e = 3.
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { ps, ENTRIES, forge, throwsCode, unb64, KEY_BITS } from './helpers.mjs';

const { PublicKey, Session } = ps;

// [modulus bits, public exponent]
const SHAPES = [[2048, 65537], [2048, 3], [2049, 65537], [2056, 65537], [2081, 17], [3072, 65537], [4096, 65537]];
// OpenSSL may produce a modulus a bit shorter than asked for odd sizes, so
// the size each test expects is read from the key itself.
const bitLength = (b64url) => {
  const n = Buffer.from(b64url, 'base64url');
  return n.length * 8 - Math.clz32(n[0]) + 24;
};
const keys = SHAPES.map(([asked, publicExponent]) => {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: asked, publicExponent });
  const jwk = publicKey.export({ format: 'jwk' });
  return {
    modulusLength: bitLength(jwk.n),
    publicExponent,
    pem: publicKey.export({ type: 'spki', format: 'pem' }),
    jwk,
    privateKey,
    forgePrivate: forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs8', format: 'pem' })),
  };
});

// Through both entry points (V1, PKCS#1 v1.5, through the full one only).
for (const { entry, ps: { PublicKey, Session } } of ENTRIES) {
  test(`${entry}: PublicKey.parse reads PEM and JWK forms of every key, with its size`, () => {
    // At least one modulus whose length is not a multiple of 32 bits.
    assert.ok(keys.some((k) => k.modulusLength % 32 !== 0), keys.map((k) => k.modulusLength).join(', '));
    for (const k of keys) {
      for (const input of [k.pem, k.jwk, JSON.stringify(k.jwk)]) {
        const key = PublicKey.parse(input);
        assert.equal(key.bits, k.modulusLength);
        key.free();
      }
    }
  });

  test(`${entry}: OpenSSL unwraps V2/V3 session ids (RSA-OAEP SHA-1) under every key shape`, () => {
    for (const k of keys) {
      const key = PublicKey.parse(k.pem);
      for (let i = 0; i < 24; i++) {
        const s = key.createSession({ version: i % 2 ? 'v3' : 'v2', keyBits: KEY_BITS[i % 3] });
        const id = unb64(s.sessionId);
        assert.equal(id.length, Math.ceil(k.modulusLength / 8), `${k.modulusLength}-bit ciphertext length`);
        const plain = crypto.privateDecrypt({ key: k.privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, id);
        assert.equal(plain.toString('utf8'), s.exportKey(), `${k.modulusLength}/${k.publicExponent} #${i}`);
        s.free();
      }
      key.free();
    }
  });

  test(`${entry}: createSession and Session.create agree on options and errors`, () => {
    const key = PublicKey.parse(keys[0].pem);
    const s = key.createSession();
    assert.equal(s.version, 'v2');
    assert.equal(s.keyBits, 256);
    s.free();
    throwsCode(assert, () => key.createSession({ version: 'v9' }), 'UNSUPPORTED_VERSION');
    throwsCode(assert, () => key.createSession({ keyBits: 64 }), 'INVALID_KEY_SIZE');
    throwsCode(assert, () => PublicKey.parse('nope'), 'INVALID_PUBLIC_KEY');
    throwsCode(assert, () => PublicKey.parse({ kty: 'RSA', n: 'AQAB', e: 'AQAB' }), 'WEAK_PUBLIC_KEY');
    throwsCode(assert, () => PublicKey.parse(42), 'INVALID_INPUT');
    // An even exponent, e = 1 and e ≥ 2^33 are refused.
    const n = keys[0].jwk.n;
    for (const e of ['Ag', 'AQ', 'AgAAAAE']) {
      throwsCode(assert, () => PublicKey.parse({ kty: 'RSA', n, e }), 'INVALID_PUBLIC_KEY');
    }
    // Session.create(pem) and PublicKey.parse(pem).createSession() wrap alike.
    const viaCreate = Session.create(keys[0].pem);
    const plain = crypto.privateDecrypt({ key: keys[0].privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, unb64(viaCreate.sessionId));
    assert.equal(plain.toString('utf8'), viaCreate.exportKey());
    viaCreate.free();
    key.free();
  });
}

test('node-forge unwraps V1 session ids (RSAES-PKCS1-v1_5) under every key shape', () => {
  for (const k of keys) {
    const key = PublicKey.parse(k.jwk);
    for (let i = 0; i < 12; i++) {
      const s = key.createSession({ version: 'v1', keyBits: KEY_BITS[i % 3] });
      const text = k.forgePrivate.decrypt(forge.util.decode64(s.sessionId), 'RSAES-PKCS1-V1_5');
      assert.equal(text, s.exportKey(), `${k.modulusLength}/${k.publicExponent} #${i}`);
      s.free();
    }
    key.free();
  }
});
