// The web build of the package inside headless Chromium, checked against
// Chromium's own WebCrypto (BoringSSL): an independent implementation in the
// environment the package is made for.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serve, launch } from './harness.mjs';

let server, browser, page;

before(async () => {
  server = await serve();
  browser = await launch();
  page = await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e));
  await page.goto(`${server.url}/tests/browser/blank.html`);
  await page.evaluate(async () => {
    const mod = await import('/pkg/paysecure_wasm.js');
    await mod.default();
    window.ps = mod;
    window.vectors = await (await fetch('/tests/data/paysecure-v1-v2.json')).json();
    window.b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)));
    window.unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test('runs in a secure context with WebCrypto', async () => {
  assert.equal(await page.evaluate(() => window.isSecureContext && !!crypto.subtle), true);
  assert.match(await page.evaluate(() => navigator.userAgent), /Chrome\//);
});

test("Chromium's RSA-OAEP (SHA-1) unwraps our session ids", async () => {
  const results = await page.evaluate(async () => {
    const der = unb64(vectors.rsa.private_pkcs8_pem.replace(/-----[^-]+-----|\s/g, ''));
    const key = await crypto.subtle.importKey('pkcs8', der, { name: 'RSA-OAEP', hash: 'SHA-1' }, false, ['decrypt']);
    const out = [];
    for (const version of ['v2', 'v3']) {
      for (const keyBits of [128, 192, 256]) {
        const s = ps.Session.create(vectors.rsa.public_spki_pem, { version, keyBits });
        const plain = await crypto.subtle.decrypt({ name: 'RSA-OAEP' }, key, unb64(s.sessionId));
        out.push([new TextDecoder().decode(plain), s.exportKey()]);
        s.free();
      }
    }
    return out;
  });
  assert.equal(results.length, 6);
  for (const [got, want] of results) assert.equal(got, want);
});

test("Chromium's AES-GCM with 16-byte IVs, both directions (AES-128/256; Chromium has no AES-192)", async () => {
  const results = await page.evaluate(async () => {
    const out = [];
    for (const keyBits of [128, 256]) {
      const s = ps.Session.create(vectors.rsa.public_spki_pem, { keyBits });
      const key = await crypto.subtle.importKey('raw', unb64(s.exportKey()), 'AES-GCM', false, ['encrypt', 'decrypt']);
      const v = s.encryptPin('4321');
      const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: unb64(v.iv) }, key, unb64(v.data));
      out.push([new TextDecoder().decode(plain), '244321FFFFFFFFFF']);
      const iv = crypto.getRandomValues(new Uint8Array(16));
      const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, new TextEncoder().encode('5555555555554444'));
      out.push([s.decrypt({ data: b64(ct), iv: b64(iv) }), '5555555555554444']);
      s.free();
    }
    return out;
  });
  assert.equal(results.length, 4);
  for (const [got, want] of results) assert.equal(got, want);
});

test("Chromium's AES-CBC (V1), both directions", async () => {
  const results = await page.evaluate(async () => {
    const s = ps.Session.create(vectors.rsa.public_spki_pem, { version: 'v1', allowLegacyCbc: true });
    const key = await crypto.subtle.importKey('raw', unb64(s.exportKey()), 'AES-CBC', false, ['encrypt', 'decrypt']);
    const v = s.encrypt('123');
    const plain = await crypto.subtle.decrypt({ name: 'AES-CBC', iv: unb64(v.iv) }, key, unb64(v.data));
    const iv = crypto.getRandomValues(new Uint8Array(16));
    const ct = await crypto.subtle.encrypt({ name: 'AES-CBC', iv }, key, new TextEncoder().encode('456'));
    const back = s.decrypt({ data: b64(ct), iv: b64(iv) });
    s.free();
    return [new TextDecoder().decode(plain), back];
  });
  assert.deepEqual(results, ['123', '456']);
});

test('reference vectors decrypt in the browser build, AES-192 included', async () => {
  const results = await page.evaluate(() =>
    vectors.aes_cases.map((c) => {
      const v2 = ps.Session.fromKey(c.session_key_b64);
      const v1 = ps.Session.fromKey(c.session_key_b64, { version: 'v1', allowLegacyCbc: true });
      const r = [v2.decrypt({ data: c.aes_gcm_ct_tag_b64, iv: c.iv_b64 }), v1.decrypt({ data: c.aes_cbc_ct_b64, iv: c.iv_b64 }), c.plaintext];
      v2.free();
      v1.free();
      return r;
    }),
  );
  assert.equal(results.length, 8);
  for (const [gcm, cbc, want] of results) {
    assert.equal(gcm, want);
    assert.equal(cbc, want);
  }
});

test('in the browser too: V1 decryption is opt-in, use after free() is OBJECT_FREED, hostile arguments are PaySecureErrors', async () => {
  const r = await page.evaluate(() => {
    const code = (f) => { try { f(); return 'no error'; } catch (e) { return ps.isPaySecureError(e) ? e.code : `${e.name}: ${e.message}`; } };
    const key = vectors.aes_cases[0].session_key_b64;
    const v1 = ps.Session.fromKey(key, { version: 'v1' });
    const value = v1.encrypt('1');
    const s = ps.Session.fromKey(key);
    s.free();
    const trap = new Proxy({}, { get() { throw new Error('trap'); }, getPrototypeOf() { throw new Error('trap'); } });
    const k = ps.Session.fromKey(key);
    const out = [code(() => v1.decrypt(value)), code(() => s.exportKey()), code(() => k.encrypt(trap)),
      code(() => k.decrypt(trap)), code(() => ps.Session.create(trap)), code(() => k.encrypt('A'.repeat(40000)))];
    v1.free();
    k.free();
    return out;
  });
  assert.deepEqual(r, ['LEGACY_CBC_DISABLED', 'OBJECT_FREED', 'INVALID_INPUT', 'INVALID_INPUT', 'INVALID_INPUT', 'INPUT_TOO_LARGE']);
});

test('errors in the browser are PaySecureErrors with codes', async () => {
  const e = await page.evaluate(() => {
    try {
      ps.Session.fromKey('AAAA');
      return null;
    } catch (err) {
      return { isError: err instanceof Error, name: err.name, code: err.code, message: err.message };
    }
  });
  assert.deepEqual(e, {
    isError: true,
    name: 'PaySecureError',
    code: 'INVALID_KEY_SIZE',
    message: 'session key must be 128, 192 or 256 bits (16, 24 or 32 bytes)',
  });
});
