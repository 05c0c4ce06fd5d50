// Interop with node-forge, the library the PaySecure document's JavaScript client uses.
// Both directions: what we send, forge reads; what forge sends, we read.
import test from 'node:test';
import assert from 'node:assert/strict';
import { ps, ENTRIES, forge, publicPem, privatePem, throwsCode, unb64, KEY_BITS } from './helpers.mjs';

const { Session } = ps;
const forgePrivate = forge.pki.privateKeyFromPem(privatePem);
const forgePublic = forge.pki.publicKeyFromPem(publicPem);
const sha1 = () => forge.md.sha1.create();

const forgeBytes = (b64) => forge.util.decode64(b64);

// V2/V3 through both entry points; V1 through the full one only.
for (const { entry, ps: { Session } } of ENTRIES) {
  test(`${entry}: forge unwraps our V2/V3 session ids (RSA-OAEP SHA-1/MGF1-SHA-1)`, () => {
    for (const version of ['v2', 'v3']) {
      for (const keyBits of KEY_BITS) {
        const s = Session.create(publicPem, { version, keyBits });
        const text = forgePrivate.decrypt(forgeBytes(s.sessionId), 'RSA-OAEP', { md: sha1(), mgf1: { md: sha1() } });
        assert.equal(text, s.exportKey(), `${version}/${keyBits}`);
        s.free();
      }
    }
  });

  test(`${entry}: forge's seed-000 flow: forge key and PIN block in, our decryptPin out`, () => {
    // Seed 000's JavaScript, minus its bugs: random hex key, base64 of the key
    // bytes, OAEP session id, AES-GCM over the ASCII PIN block, 16-byte IV.
    const keyHex = forge.util.bytesToHex(forge.random.getBytesSync(32));
    const keyBytes = forge.util.hexToBytes(keyHex);
    const keyB64 = forge.util.encode64(keyBytes);
    const sessionId = forge.util.encode64(
      forgePublic.encrypt(keyB64, 'RSA-OAEP', { md: sha1(), mgf1: { md: sha1() } }),
    );
    assert.equal(unb64(sessionId).length, 256);

    const iv = forge.random.getBytesSync(16);
    const cipher = forge.cipher.createCipher('AES-GCM', keyBytes);
    cipher.start({ iv });
    cipher.update(forge.util.createBuffer('241432FFFFFFFFFF'));
    cipher.finish();
    const value = {
      data: forge.util.encode64(cipher.output.getBytes() + cipher.mode.tag.getBytes()),
      iv: forge.util.encode64(iv),
    };
    const s = Session.fromKey(keyB64);
    assert.equal(s.decryptPin(value), '1432');
    s.free();
  });

  test(`${entry}: our AES-GCM (16-byte IV) output verifies and decrypts in forge, every key size`, () => {
    for (const keyBits of KEY_BITS) {
      const s = Session.create(publicPem, { keyBits });
      const v = s.encryptPin('987654');
      const raw = forgeBytes(v.data);
      const decipher = forge.cipher.createDecipher('AES-GCM', forgeBytes(s.exportKey()));
      decipher.start({ iv: forgeBytes(v.iv), tag: forge.util.createBuffer(raw.slice(-16)) });
      decipher.update(forge.util.createBuffer(raw.slice(0, -16)));
      assert.equal(decipher.finish(), true, 'tag verifies');
      assert.equal(decipher.output.getBytes(), '26987654FFFFFFFF');
      s.free();
    }
  });

  test(`${entry}: the PaySecure document's decrypt example trusts a random tag; we refuse a forged one`, () => {
    const s = Session.create(publicPem);
    const v = s.encryptPin('1432');
    const raw = forgeBytes(v.data);
    const forgedTag = forge.random.getBytesSync(16);
    // forge as the seed uses it: output is filled even though finish() fails.
    const decipher = forge.cipher.createDecipher('AES-GCM', forgeBytes(s.exportKey()));
    decipher.start({ iv: forgeBytes(v.iv), tag: forge.util.createBuffer(forgedTag) });
    decipher.update(forge.util.createBuffer(raw.slice(0, -16)));
    assert.equal(decipher.finish(), false);
    assert.equal(decipher.output.getBytes(), '241432FFFFFFFFFF');
    // The same forged tag, through our API.
    const forged = { data: forge.util.encode64(raw.slice(0, -16) + forgedTag), iv: v.iv };
    throwsCode(assert, () => s.decryptPin(forged), 'DECRYPTION_FAILED');
    s.free();
  });
}

test('forge unwraps our V1 session ids (RSAES-PKCS1-v1_5)', () => {
  for (const keyBits of KEY_BITS) {
    const s = Session.create(publicPem, { version: 'v1', keyBits });
    assert.equal(forgePrivate.decrypt(forgeBytes(s.sessionId), 'RSAES-PKCS1-V1_5'), s.exportKey());
    s.free();
  }
});

test('AES-CBC (V1) both ways with forge', () => {
  for (const keyBits of KEY_BITS) {
    const s = Session.create(publicPem, { version: 'v1', keyBits, allowLegacyCbc: true });
    const key = forgeBytes(s.exportKey());
    // Ours -> forge.
    const v = s.encrypt('024');
    const d = forge.cipher.createDecipher('AES-CBC', key);
    d.start({ iv: forgeBytes(v.iv) });
    d.update(forge.util.createBuffer(forgeBytes(v.data)));
    assert.equal(d.finish(), true);
    assert.equal(d.output.getBytes(), '024');
    // Forge -> ours, with the V1 docs' 16-character text IV.
    const textIv = 'Xb6qbV2L6d1F92YU';
    const c = forge.cipher.createCipher('AES-CBC', key);
    c.start({ iv: textIv });
    c.update(forge.util.createBuffer('5413330089020011'));
    c.finish();
    assert.equal(s.decrypt({ data: forge.util.encode64(c.output.getBytes()), iv: textIv }), '5413330089020011');
    s.free();
  }
});
