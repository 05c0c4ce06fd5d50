// Interop with WebCrypto (crypto.subtle) and OpenSSL (node:crypto), both
// directions. Chromium's WebCrypto is covered by tests/browser/.
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { ps, ENTRIES, publicPem, privatePem, privateDerB64, b64, unb64, KEY_BITS } from './helpers.mjs';

const { Session } = ps;
const { subtle } = globalThis.crypto;

// V2/V3 through both entry points; V1 (AES-CBC) through the full one only.
for (const { entry, ps: { Session } } of ENTRIES) {
  test(`${entry}: WebCrypto RSA-OAEP (SHA-1) unwraps our session ids`, async () => {
    const key = await subtle.importKey('pkcs8', unb64(privateDerB64), { name: 'RSA-OAEP', hash: 'SHA-1' }, false, ['decrypt']);
    for (const version of ['v2', 'v3']) {
      for (const keyBits of KEY_BITS) {
        const s = Session.create(publicPem, { version, keyBits });
        const plain = await subtle.decrypt({ name: 'RSA-OAEP' }, key, unb64(s.sessionId));
        assert.equal(new TextDecoder().decode(plain), s.exportKey());
        s.free();
      }
    }
  });

  test(`${entry}: OpenSSL (node:crypto) RSA-OAEP SHA-1 unwraps our session ids`, () => {
    const s = Session.create(publicPem);
    const plain = crypto.privateDecrypt(
      { key: privatePem, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
      unb64(s.sessionId),
    );
    assert.equal(plain.toString('utf8'), s.exportKey());
    s.free();
  });

  test(`${entry}: WebCrypto AES-GCM with 16-byte IVs, both directions, every key size`, async () => {
    for (const keyBits of KEY_BITS) {
      const s = Session.create(publicPem, { keyBits });
      const key = await subtle.importKey('raw', unb64(s.exportKey()), 'AES-GCM', false, ['encrypt', 'decrypt']);
      // Ours -> WebCrypto.
      const v = s.encrypt('4111111111111111');
      const plain = await subtle.decrypt({ name: 'AES-GCM', iv: unb64(v.iv), tagLength: 128 }, key, unb64(v.data));
      assert.equal(new TextDecoder().decode(plain), '4111111111111111');
      // WebCrypto -> ours.
      const iv = crypto.randomBytes(16);
      const ct = await subtle.encrypt({ name: 'AES-GCM', iv, tagLength: 128 }, key, new TextEncoder().encode('2C123456789012FF'));
      assert.equal(s.decryptPin({ data: b64(new Uint8Array(ct)), iv: b64(iv) }), '123456789012');
      // A 12-byte IV from WebCrypto is accepted on decryption.
      const iv12 = crypto.randomBytes(12);
      const ct12 = await subtle.encrypt({ name: 'AES-GCM', iv: iv12 }, key, new TextEncoder().encode('321'));
      assert.equal(s.decrypt({ data: b64(new Uint8Array(ct12)), iv: b64(iv12) }), '321');
      s.free();
    }
  });

  test(`${entry}: OpenSSL (node:crypto) AES-GCM with 16-byte IVs, both directions`, () => {
    for (const keyBits of KEY_BITS) {
      const s = Session.create(publicPem, { keyBits });
      const key = unb64(s.exportKey());
      const alg = `aes-${keyBits}-gcm`;
      const v = s.encrypt('6011000990139424123');
      const raw = unb64(v.data);
      const d = crypto.createDecipheriv(alg, key, unb64(v.iv));
      d.setAuthTag(raw.subarray(-16));
      assert.equal(Buffer.concat([d.update(raw.subarray(0, -16)), d.final()]).toString(), '6011000990139424123');
      const iv = crypto.randomBytes(16);
      const c = crypto.createCipheriv(alg, key, iv);
      const ct = Buffer.concat([c.update('777'), c.final(), c.getAuthTag()]);
      assert.equal(s.decrypt({ data: ct.toString('base64'), iv: iv.toString('base64') }), '777');
      s.free();
    }
  });
}

test('WebCrypto AES-CBC (V1), both directions', async () => {
  for (const keyBits of KEY_BITS) {
    const s = Session.create(publicPem, { version: 'v1', keyBits, allowLegacyCbc: true });
    const key = await subtle.importKey('raw', unb64(s.exportKey()), 'AES-CBC', false, ['encrypt', 'decrypt']);
    const v = s.encryptPin('1432');
    const plain = await subtle.decrypt({ name: 'AES-CBC', iv: unb64(v.iv) }, key, unb64(v.data));
    assert.equal(new TextDecoder().decode(plain), '241432FFFFFFFFFF');
    const iv = crypto.randomBytes(16);
    const ct = await subtle.encrypt({ name: 'AES-CBC', iv }, key, new TextEncoder().encode('987'));
    assert.equal(s.decrypt({ data: b64(new Uint8Array(ct)), iv: b64(iv) }), '987');
    s.free();
  }
});
