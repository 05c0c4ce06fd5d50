// MDES push provisioning (POST /v2/cards/{token}/digitization/mdes) against a
// real server: the card data opens with Mastercard's own library
// (`mastercard-client-encryption`, field-level encryption with MDES's field
// names, hex) and the matching private key, playing Mastercard; the TAV
// verifies with the tenant's TAV public key (node:crypto).
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { writeFileSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { startServer, issueCard, panOnlyToken, luhnPan, verifyTav, pemOf } from './wallet-helpers.mjs';

const require = createRequire(import.meta.url);
const mcapi = require('mastercard-client-encryption');

let srv, mc, tavPublicPem, fingerprint;
const secrets = new Set();

/** Mastercard's side: an RSA-2048 key pair and a self-signed certificate (OpenSSL). */
function mastercardKeys(dir, name) {
  const key = path.join(dir, `${name}.key.pem`);
  const cert = path.join(dir, `${name}.crt.pem`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-subj', `/CN=${name}`, '-days', '2'], { stdio: 'ignore' });
  const der = new crypto.X509Certificate(readFileSync(cert)).raw;
  return { key, cert, certFingerprint: crypto.createHash('sha256').update(der).digest('hex') };
}

/** Opens `cardInfo` with mastercard-client-encryption, as MDES would. */
function mcDecrypt(keys, answer) {
  const fle = new mcapi.FieldLevelEncryption({
    paths: [{ path: '/digitization/mdes', toEncrypt: [], toDecrypt: [{ element: 'cardInfo', obj: 'cardInfo' }] }],
    encryptionCertificate: keys.cert,
    privateKey: keys.key,
    oaepPaddingDigestAlgorithm: 'SHA-512',
    encryptedValueFieldName: 'encryptedData',
    encryptedKeyFieldName: 'encryptedKey',
    ivFieldName: 'iv',
    publicKeyFingerprintFieldName: 'publicKeyFingerprint',
    publicKeyFingerprintType: 'certificate',
    oaepHashingAlgorithmFieldName: 'oaepHashingAlgorithm',
    dataEncoding: 'hex',
  });
  return fle.decrypt({ request: { url: '/v2/cards/x/digitization/mdes' }, body: structuredClone(answer) });
}

const digitize = (token, opts = {}) => srv.api('POST', `/v2/cards/${token}/digitization/mdes`, opts);

before(async () => {
  srv = await startServer('wallet-mdes');
  secrets.add(srv.first.apiKey);
  mc = mastercardKeys(srv.dir, 'mdes-test');
  const out = srv.cli('tenant', 'wallet-mastercard-key', srv.first.id, mc.cert);
  fingerprint = out.trim().split('\n').pop();
  tavPublicPem = pemOf(srv.cli('tenant', 'wallet-tav-key', srv.first.id));
});

after(async () => {
  if (srv) {
    await srv.stop();
    const log = srv.log();
    assert.ok(log.includes('wallet digitization'), 'the audit events are logged');
    for (const s of secrets) assert.ok(!log.includes(s), `a secret (${s.length} chars) appears in the log`);
  }
});

test('the card data opens with mastercard-client-encryption and the TAV verifies with the TAV public key', async () => {
  assert.equal(fingerprint, mc.certFingerprint, 'the fingerprint is SHA-256 of the certificate (publicKeyFingerprintType certificate)');
  const card = await issueCard(srv.api, 'JOHN MDES', '512345');
  secrets.add(card.pan);
  const r = await digitize(card.token);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.token, card.token);
  const info = r.body.cardInfo;
  assert.equal(info.publicKeyFingerprint, mc.certFingerprint);
  assert.equal(info.oaepHashingAlgorithm, 'SHA512');
  assert.match(info.iv, /^[0-9a-f]{32}$/);
  assert.match(info.encryptedKey, /^[0-9a-f]{512}$/);
  assert.ok(!JSON.stringify(r.body).includes(card.pan));
  const opened = mcDecrypt(mc, r.body).cardInfo;
  assert.deepEqual(opened, {
    accountNumber: card.pan,
    expiryMonth: String(card.expiryMonth).padStart(2, '0'),
    expiryYear: String(card.expiryYear % 100).padStart(2, '0'),
    source: 'ACCOUNT_ON_FILE',
    cardholderName: 'JOHN MDES',
    dataValidUntilTimestamp: r.body.dataValidUntilTimestamp,
  });
  const v = verifyTav(r.body.tokenizationAuthenticationValue, tavPublicPem, { pan: card.pan, month: card.expiryMonth, year: card.expiryYear });
  assert.ok(v.ok, 'the TAV signature verifies');
  assert.equal(v.tav.signatureAlgorithm, 'ECDSA-SHA256');
  assert.equal(v.tav.dataValidUntilTimestamp, r.body.dataValidUntilTimestamp);
  assert.ok(v.validFor > 0 && v.validFor <= 15 * 60e3 + 5e3, `valid for ${v.validFor} ms`);
  // Bound to the card: another PAN or expiry does not verify.
  assert.equal(verifyTav(r.body.tokenizationAuthenticationValue, tavPublicPem, { pan: luhnPan('512345'), month: card.expiryMonth, year: card.expiryYear }).ok, false);
  assert.equal(verifyTav(r.body.tokenizationAuthenticationValue, tavPublicPem, { pan: card.pan, month: (card.expiryMonth % 12) + 1, year: card.expiryYear }).ok, false);
  // Another key pair cannot open it; a changed ciphertext does not open to the card.
  const other = mastercardKeys(srv.dir, 'mdes-other');
  assert.throws(() => mcDecrypt(other, r.body));
  const flipped = structuredClone(r.body);
  flipped.cardInfo.encryptedData = flipped.cardInfo.encryptedData.replace(/^./, (c) => (c === '0' ? '1' : '0'));
  let tampered;
  try {
    tampered = mcDecrypt(mc, flipped).cardInfo;
  } catch {
    tampered = null;
  }
  assert.notDeepEqual(tampered, opened);
  // Each answer is fresh.
  const again = await digitize(card.token);
  assert.notEqual(again.body.cardInfo.encryptedKey, info.encryptedKey);
  assert.equal(mcDecrypt(mc, again.body).cardInfo.accountNumber, card.pan);
});

test('a public key (SPKI) and a given fingerprint are accepted; RSA TAV keys sign RSA-SHA256', async () => {
  const t = srv.tenant('MDES Bank Two');
  secrets.add(t.apiKey);
  const as = (m, p, o = {}) => srv.api(m, p, { auth: t.apiKey, ...o });
  const card = await issueCard(as, 'ANN TWO', '222100');
  secrets.add(card.pan);
  let r = await digitize(card.token, { auth: t.apiKey });
  assert.equal(r.status, 409);
  assert.equal(r.body.error.code, 'WALLET_NOT_CONFIGURED');
  const keys = mastercardKeys(srv.dir, 'mdes-two');
  const spki = path.join(srv.dir, 'mdes-two.spki.pem');
  writeFileSync(spki, crypto.createPublicKey(readFileSync(keys.key)).export({ type: 'spki', format: 'pem' }));
  const spkiFingerprint = crypto.createHash('sha256').update(crypto.createPublicKey(readFileSync(keys.key)).export({ type: 'spki', format: 'der' })).digest('hex');
  assert.equal(srv.cli('tenant', 'wallet-mastercard-key', t.id, spki).trim().split('\n').pop(), spkiFingerprint);
  // Mastercard key but no TAV key: not configured yet.
  r = await digitize(card.token, { auth: t.apiKey });
  assert.equal(r.body.error.code, 'WALLET_NOT_CONFIGURED');
  const given = 'AB12'.repeat(16);
  assert.equal(srv.cli('tenant', 'wallet-mastercard-key', t.id, spki, '--fingerprint', given).trim().split('\n').pop(), given.toLowerCase());
  const tavPem = pemOf(srv.cli('tenant', 'wallet-tav-key', t.id, '--rsa'));
  r = await digitize(card.token, { auth: t.apiKey });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.cardInfo.publicKeyFingerprint, given.toLowerCase());
  assert.equal(mcDecrypt(keys, r.body).cardInfo.accountNumber, card.pan);
  const v = verifyTav(r.body.tokenizationAuthenticationValue, tavPem, { pan: card.pan, month: card.expiryMonth, year: card.expiryYear });
  assert.equal(v.tav.signatureAlgorithm, 'RSA-SHA256');
  assert.ok(v.ok);
  // The first tenant's TAV key does not verify this tenant's TAV.
  assert.equal(verifyTav(r.body.tokenizationAuthenticationValue, tavPublicPem, { pan: card.pan, month: card.expiryMonth, year: card.expiryYear }).ok, false);
  // Bad key files are refused by the CLI.
  const junk = path.join(srv.dir, 'junk.pem');
  writeFileSync(junk, '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n');
  assert.match(srv.cliFails('tenant', 'wallet-mastercard-key', t.id, junk), /RSA/);
  assert.match(srv.cliFails('tenant', 'wallet-mastercard-key', t.id, spki, '--fingerprint', 'xyz'), /fingerprint/);
});

test('credentials, scope and card state', async () => {
  const card = await issueCard(srv.api, 'SCOPE TEST', '512345');
  secrets.add(card.pan);
  const mint = async (scopes) => {
    const r = await srv.api('POST', '/v2/ephemeral-keys', { body: { token: card.token, scopes, ttlSeconds: 60 } });
    assert.equal(r.status, 201);
    secrets.add(r.body.key);
    return r.body.key;
  };
  const ok = await digitize(card.token, { auth: await mint(['digitize']) });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(mcDecrypt(mc, ok.body).cardInfo.accountNumber, card.pan);
  const denied = await digitize(card.token, { auth: await mint(['reveal', 'pan']) });
  assert.equal(denied.status, 403);
  assert.equal(denied.body.error.code, 'FORBIDDEN');
  const inactive = await digitize(await panOnlyToken(srv.api, luhnPan('512345')));
  assert.equal(inactive.status, 409);
  assert.equal(inactive.body.error.code, 'CARD_NOT_ACTIVE');
  const missing = await digitize('tok_ffffffffffffffffffffffff');
  assert.equal(missing.status, 404);
  const anonymous = await digitize(card.token, { auth: '' });
  assert.equal(anonymous.status, 401);
});
