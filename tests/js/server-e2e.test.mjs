// End to end over real HTTP against a real paysecure-server process, with
// three independent clients: this package (nodejs build), node-forge
// following the PaySecure document's JavaScript flow, and Java JCE (V1 and V2).
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, existsSync, mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import os from 'node:os';
import path from 'node:path';
import { ps, forge, root } from './helpers.mjs';

const BIN = path.join(root, 'target', 'debug', 'paysecure-server');
const dir = mkdtempSync(path.join(os.tmpdir(), 'paysecure-e2e-'));
const data = path.join(dir, 'data');
const logFile = path.join(dir, 'server.log');
let server, url, apiKey, publicKey, publicKeyV1, jwk;
const secrets = new Set();

// A new connection per call (connection: close): some tests pause longer than the server's
// keep-alive timeout, and a pooled connection closed meanwhile fails the next call.
async function api(method, p, { auth = apiKey, sessionId, body } = {}) {
  const headers = { authorization: `Bearer ${auth}`, connection: 'close' };
  if (sessionId) headers['session-id'] = sessionId;
  if (body) headers['content-type'] = 'application/json';
  const res = await fetch(`${url}${p}`, { method, headers, body: body && JSON.stringify(body) });
  const json = await res.json().catch(() => null);
  return { status: res.status, body: json };
}

async function issue() {
  const r = await api('POST', '/v2/cards', { body: { accountId: 'acc-e2e', customerId: 'cu-e2e' } });
  assert.equal(r.status, 201);
  return r.body.token;
}

before(async () => {
  assert.ok(existsSync(BIN), `${BIN} missing: cargo build -p paysecure-server`);
  const created = execFileSync(BIN, ['--data-dir', data, '--master-key-file', `${data}/master.key`, 'tenant', 'create', 'E2E Bank']).toString().trim().split('\n');
  apiKey = created.pop();
  secrets.add(apiKey);
  // V1 is off unless a tenant enables it (legacy clients: forge, Java below).
  const tenantId = created[0].split(' ')[1];
  execFileSync(BIN, ['--data-dir', data, '--master-key-file', `${data}/master.key`, 'tenant', 'allow-v1', tenantId, 'true']);
  server = spawn(BIN, ['--data-dir', data, '--master-key-file', `${data}/master.key`, '--log-format', 'json', 'serve', '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', openSync(logFile, 'w')],
    env: { ...process.env, RUST_LOG: 'debug' },
  });
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: server.stdout }).once('line', resolve);
    server.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  url = line.trim().split(' ').pop();
  const pk = (await api('GET', '/v2/public-key')).body;
  publicKey = pk.publicKey;
  jwk = pk.jwk;
  publicKeyV1 = (await api('GET', '/v1/public-key')).body.publicKey;
});

after(async () => {
  if (server) {
    const exited = new Promise((ok) => server.once('exit', ok));
    server.kill('SIGTERM');
    await exited;
  }
});

test('wasm package, V2: ephemeral key, reveal, set/get/verify PIN', async () => {
  const token = await issue();
  const eph = (await api('POST', '/v2/ephemeral-keys', { body: { token, scopes: ['reveal', 'pin:read', 'pin:write', 'pin:verify'], ttlSeconds: 120 } })).body.key;
  secrets.add(eph);
  // JWK input this time.
  let s = ps.Session.create(jwk);
  secrets.add(s.sessionId);
  const reveal = await api('POST', `/v2/cards/${token}/reveal`, { auth: eph, sessionId: s.sessionId });
  assert.equal(reveal.status, 200, JSON.stringify(reveal.body));
  const pan = s.decrypt(reveal.body.pan);
  const cvv2 = s.decrypt(reveal.body.cvv2);
  assert.ok(ps.luhnCheck(pan));
  assert.match(cvv2, /^\d{3}$/);
  secrets.add(pan);
  s.free();

  s = ps.Session.create(publicKey, { keyBits: 128 });
  const set = await api('PUT', `/v2/cards/${token}/pin`, { auth: eph, sessionId: s.sessionId, body: { pinBlock: s.encryptPin('731946') } });
  assert.equal(set.status, 200, JSON.stringify(set.body));
  s.free();
  s = ps.Session.create(publicKey);
  const got = await api('POST', `/v2/cards/${token}/pin`, { auth: eph, sessionId: s.sessionId });
  assert.equal(s.decryptPin(got.body.pinBlock), '731946');
  s.free();
  s = ps.Session.create(publicKey);
  const wrong = await api('POST', `/v2/cards/${token}/pin/verify`, { auth: eph, sessionId: s.sessionId, body: { pinBlock: s.encryptPin('000000') } });
  assert.deepEqual(wrong.body, { verified: false, triesRemaining: 2 });
  s.free();
  // The ephemeral key cannot read the CVV2 alone (no 'cvv2' scope).
  s = ps.Session.create(publicKey);
  const denied = await api('POST', `/v2/cards/${token}/cvv2`, { auth: eph, sessionId: s.sessionId });
  assert.equal(denied.status, 403);
  assert.equal(denied.body.error.code, 'FORBIDDEN');
  s.free();
});

test('wasm package, V1: PKCS#1 v1.5 session id, AES-CBC values', async () => {
  const token = await issue();
  let s = ps.Session.create(publicKeyV1, { version: 'v1', allowLegacyCbc: true });
  secrets.add(s.sessionId);
  const r = await api('POST', `/v1/cards/${token}/pan`, { sessionId: s.sessionId });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const pan = s.decrypt(r.body.pan);
  assert.ok(ps.luhnCheck(pan));
  secrets.add(pan);
  s.free();
  s = ps.Session.create(publicKeyV1, { version: 'v1' });
  const set = await api('PUT', `/v1/cards/${token}/pin`, { sessionId: s.sessionId, body: { pinBlock: s.encryptPin('5739') } });
  assert.equal(set.status, 200);
  s.free();
  s = ps.Session.create(publicKeyV1, { version: 'v1' });
  const v = await api('POST', '/v1/pin/verify', { sessionId: s.sessionId, body: { pan: s.encrypt(pan), pinBlock: s.encryptPin('5739') } });
  assert.deepEqual(v.body, { verified: true, triesRemaining: 3 });
  s.free();
  // A replayed session id is refused.
  s = ps.Session.create(publicKey);
  assert.equal((await api('POST', `/v2/cards/${token}/pan`, { sessionId: s.sessionId })).status, 200);
  const replay = await api('POST', `/v2/cards/${token}/pan`, { sessionId: s.sessionId });
  assert.equal(replay.status, 400);
  assert.equal(replay.body.error.code, 'INVALID_SESSION_ID');
  s.free();
});

test("node-forge, the PaySecure document's JavaScript flow (V2 OAEP + GCM, and V1 PKCS#1 + CBC)", async () => {
  const token = await issue();
  const forgePublic = forge.pki.publicKeyFromPem(publicKey);
  const forgePublicV1 = forge.pki.publicKeyFromPem(publicKeyV1);
  const sha1 = () => forge.md.sha1.create();
  const newSession = (v1) => {
    const keyBytes = forge.random.getBytesSync(32);
    const keyB64 = forge.util.encode64(keyBytes); // seed: base64 of the hex-decoded key
    const wrapped = v1
      ? forgePublicV1.encrypt(keyB64, 'RSAES-PKCS1-V1_5')
      : forgePublic.encrypt(keyB64, 'RSA-OAEP', { md: sha1(), mgf1: { md: sha1() } });
    return { keyBytes, sessionId: forge.util.encode64(wrapped) };
  };
  const gcmOpen = (keyBytes, value) => {
    const raw = forge.util.decode64(value.data);
    const d = forge.cipher.createDecipher('AES-GCM', keyBytes);
    d.start({ iv: forge.util.decode64(value.iv), tag: forge.util.createBuffer(raw.slice(-16)) }); // the real tag
    d.update(forge.util.createBuffer(raw.slice(0, -16)));
    assert.equal(d.finish(), true, 'GCM tag verifies');
    return d.output.getBytes();
  };
  const gcmSeal = (keyBytes, text) => {
    const iv = forge.random.getBytesSync(16);
    const c = forge.cipher.createCipher('AES-GCM', keyBytes);
    c.start({ iv });
    c.update(forge.util.createBuffer(text));
    c.finish();
    return { data: forge.util.encode64(c.output.getBytes() + c.mode.tag.getBytes()), iv: forge.util.encode64(iv) };
  };
  let f = newSession(false);
  const r = await api('POST', `/v2/cards/${token}/pan`, { sessionId: f.sessionId });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const pan = gcmOpen(f.keyBytes, r.body.pan);
  assert.ok(ps.luhnCheck(pan));
  secrets.add(pan);
  f = newSession(false);
  const set = await api('PUT', `/v2/cards/${token}/pin`, { sessionId: f.sessionId, body: { pinBlock: gcmSeal(f.keyBytes, '241432FFFFFFFFFF') } });
  assert.equal(set.status, 200, JSON.stringify(set.body));
  f = newSession(false);
  const pin = await api('POST', `/v2/cards/${token}/pin`, { sessionId: f.sessionId });
  assert.equal(gcmOpen(f.keyBytes, pin.body.pinBlock), '241432FFFFFFFFFF');

  // V1 with forge: PKCS#1 v1.5 and AES-CBC.
  f = newSession(true);
  const r1 = await api('POST', `/v1/cards/${token}/cvv2`, { sessionId: f.sessionId });
  assert.equal(r1.status, 200, JSON.stringify(r1.body));
  const d = forge.cipher.createDecipher('AES-CBC', f.keyBytes);
  d.start({ iv: forge.util.decode64(r1.body.cvv2.iv) });
  d.update(forge.util.createBuffer(forge.util.decode64(r1.body.cvv2.data)));
  assert.equal(d.finish(), true);
  assert.match(d.output.getBytes(), /^\d{3}$/);
});

test('Java JCE client (V2 and V1) agrees with the wasm package', async () => {
  const token = await issue();
  const s = ps.Session.create(publicKey);
  const ref = await api('POST', `/v2/cards/${token}/reveal`, { sessionId: s.sessionId });
  const pan = s.decrypt(ref.body.pan);
  const cvv2 = s.decrypt(ref.body.cvv2);
  secrets.add(pan);
  s.free();
  const out = path.join(root, 'tests', 'java', 'out');
  mkdirSync(out, { recursive: true });
  execFileSync('javac', ['-d', out, path.join(root, 'tests', 'java', 'PaySecureClient.java')]);
  for (const [version, newPin] of [['V2', '4327'], ['V1', '98764']]) {
    const lines = execFileSync('java', ['-cp', out, 'PaySecureClient', url, apiKey, token, version, newPin]).toString().trim().split('\n');
    const got = Object.fromEntries(lines.map((l) => l.split('=')));
    assert.deepEqual(got, { pan, cvv2, pin: newPin, verified: 'true' }, version);
  }
});

test('docs/api.md documents every route in /openapi.json', async () => {
  const doc = readFileSync(path.join(root, 'docs', 'api.md'), 'utf8');
  const spec = await (await fetch(`${url}/openapi.json`, { headers: { connection: 'close' } })).json();
  const paths = Object.keys(spec.paths);
  assert.ok(paths.length >= 17);
  for (const p of paths) {
    const tail = p.replace(/^\/v(\{version\}|\d)/, '');
    assert.ok(doc.includes(tail), `${p} is not in docs/api.md`);
  }
});

test('wasm package: encryptCard for GET /v2/capture-key vaults a card; for the session key, refused like an unknown key', async () => {
  const ck = (await api('GET', '/v2/capture-key')).body;
  assert.equal(ck.algorithm, 'RSA-OAEP-256');
  assert.equal(ck.jwk.alg, 'RSA-OAEP-256');
  const session = (await api('GET', '/v2/public-key')).body;
  assert.notEqual(ck.keyId, session.keyId, 'captures have a key pair of their own');
  const card = { cardNumber: '5555555555554444', expiryMonth: 12, expiryYear: new Date().getUTCFullYear() + 2, cvv: '737' };
  secrets.add(card.cardNumber);
  const put = (key, alias) => api('PUT', '/api/v2/card', {
    body: { token_scope: crypto.randomUUID(), encrypted_card: ps.encryptCard(card, key, { keyAlias: alias }), public_key_alias: alias },
  });
  const forSession = await put(session.publicKey, session.keyId);
  const forUnknown = await put(ck.publicKey, 'rsa-0000000000000000');
  assert.equal(forSession.status, 400);
  assert.equal(forSession.body.error?.code ?? forSession.body.code, 'UNKNOWN_KEY_ALIAS', JSON.stringify(forSession.body));
  const strip = (b) => JSON.stringify(b, (k, v) => (k === 'traceId' ? undefined : v));
  assert.equal(strip(forSession.body), strip(forUnknown.body), 'no oracle on the session key');
  const ok = await put(ck.jwk, ck.keyId);
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
});

test('the server log carries no PAN, PIN block, API key or ephemeral key', async () => {
  const log = readFileSync(logFile, 'utf8');
  assert.match(log, /"path":"\/v2\/cards"/);
  assert.ok(secrets.size >= 5);
  // Whole tokens only: a short PIN can occur by chance inside a UUID or a
  // number; a leaked one stands alone.
  const escape = (x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  // Short PINs as JSON strings: as bare digits they can occur by chance.
  for (const secret of [...secrets, '241432FFFFFFFFFF', '"731946"', '"98764"']) {
    const token = new RegExp(`(?<![A-Za-z0-9])${escape(secret)}(?![A-Za-z0-9])`);
    assert.ok(!token.test(log), `a secret (${secret.length} chars) is in the server log`);
  }
});
