// Apple Pay in-app provisioning (POST /v2/cards/{token}/digitization/apple)
// against a real server, with this test acting as Apple, independently of
// the server's code: @peculiar/x509 on WebCrypto makes a test root CA, a
// sub-CA and a P-256 leaf carrying Apple's issuer-encryption marker
// extension; node:crypto does ECDH with the leaf's private key, the NIST SP
// 800-56A single-step KDF (SHA-256, OtherInfo 0x0D "id-aes256-GCM" "Apple"
// PartyVInfo) and AES-256-GCM with a zero IV to open encryptedPassData.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto, { webcrypto } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import 'reflect-metadata'; // @peculiar/x509 (tsyringe) needs it loaded first
import * as x509 from '@peculiar/x509';
import { startServer, issueCard, panOnlyToken, luhnPan, verifyTav, pemOf } from './wallet-helpers.mjs';

x509.cryptoProvider.set(webcrypto);

const MARKER_OID = '1.2.840.113635.100.6.39';
const ECDSA = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const DAY = 86400e3;
let srv, tavPublicPem;
const secrets = new Set();

let serial = 1;
const nextSerial = () => (serial++).toString(16).padStart(4, '0');

async function ecdsaKeys() {
  return webcrypto.subtle.generateKey(ECDSA, true, ['sign', 'verify']);
}

/** A CA certificate (self-signed when `issuer` is absent). */
async function makeCa(name, issuer, { ca = true, notBefore, notAfter } = {}) {
  const keys = await ecdsaKeys();
  const extensions = [
    new x509.BasicConstraintsExtension(ca, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
  ];
  const common = {
    serialNumber: nextSerial(),
    notBefore: notBefore ?? new Date(Date.now() - DAY),
    notAfter: notAfter ?? new Date(Date.now() + 365 * DAY),
    signingAlgorithm: ECDSA,
    extensions,
  };
  const cert = issuer
    ? await x509.X509CertificateGenerator.create({
        ...common,
        subject: `CN=${name}`,
        issuer: issuer.cert.subject,
        publicKey: keys.publicKey,
        signingKey: issuer.keys.privateKey,
      })
    : await x509.X509CertificateGenerator.createSelfSigned({ ...common, name: `CN=${name}`, keys });
  return { cert, keys, der: Buffer.from(cert.rawData) };
}

/** The leaf: a node:crypto P-256 key pair (for ECDH) certified by `issuer`. */
async function makeLeaf(issuer, { marker = true, notBefore, notAfter, ca = false } = {}) {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const webKey = await webcrypto.subtle.importKey('spki', spki, { name: 'ECDH', namedCurve: 'P-256' }, true, []);
  const extensions = [
    new x509.BasicConstraintsExtension(ca, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyAgreement | x509.KeyUsageFlags.keyEncipherment, true),
  ];
  if (marker) extensions.push(new x509.Extension(MARKER_OID, false, new Uint8Array([0x05, 0x00])));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: nextSerial(),
    subject: 'CN=Test Apple Pay Issuer Encryption',
    issuer: issuer.cert.subject,
    notBefore: notBefore ?? new Date(Date.now() - DAY),
    notAfter: notAfter ?? new Date(Date.now() + 30 * DAY),
    signingAlgorithm: ECDSA,
    publicKey: webKey,
    signingKey: issuer.keys.privateKey,
    extensions,
  });
  return { cert, privateKey, der: Buffer.from(cert.rawData) };
}

/** What Apple does with the answer: ECDH, KDF, AES-256-GCM open. */
function openPassData(leafPrivateKey, answer, partyV) {
  const eph = Buffer.from(answer.ephemeralPublicKey, 'base64');
  assert.equal(eph.length, 65);
  assert.equal(eph[0], 0x04);
  const ephKey = crypto.createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: eph.subarray(1, 33).toString('base64url'), y: eph.subarray(33).toString('base64url') },
    format: 'jwk',
  });
  const z = crypto.diffieHellman({ privateKey: leafPrivateKey, publicKey: ephKey });
  const otherInfo = Buffer.concat([Buffer.from([0x0d]), Buffer.from('id-aes256-GCM'), Buffer.from('Apple'), partyV ?? eph]);
  const key = crypto.createHash('sha256').update(Buffer.from([0, 0, 0, 1])).update(z).update(otherInfo).digest();
  const data = Buffer.from(answer.encryptedPassData, 'base64');
  const d = crypto.createDecipheriv('aes-256-gcm', key, Buffer.alloc(12));
  d.setAuthTag(data.subarray(data.length - 16));
  return JSON.parse(Buffer.concat([d.update(data.subarray(0, data.length - 16)), d.final()]).toString('utf8'));
}

let pki;
const nonce = crypto.randomBytes(4);
const nonceSignature = crypto.randomBytes(72);
const body = (chain, extra = {}) => ({
  certificates: chain.map((c) => c.der.toString('base64')),
  nonce: nonce.toString('base64'),
  nonceSignature: nonceSignature.toString('base64'),
  ...extra,
});
const digitize = (token, b, opts = {}) => srv.api('POST', `/v2/cards/${token}/digitization/apple`, { body: b, ...opts });

before(async () => {
  srv = await startServer('wallet-apple');
  secrets.add(srv.first.apiKey);
  const root = await makeCa('Test Apple Root CA - G3');
  const sub = await makeCa('Test Apple Worldwide Developer Relations CA - G2', root);
  const leaf = await makeLeaf(sub);
  pki = { root, sub, leaf };
  const rootFile = path.join(srv.dir, 'root.pem');
  writeFileSync(rootFile, root.cert.toString('pem'));
  const out = srv.cli('tenant', 'wallet-apple-roots', srv.first.id, rootFile);
  assert.match(out, /1 Apple root\(s\) set/);
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

test('Apple opens encryptedPassData with the leaf key: PAN, expiry, name, nonce and signature; activationData is a TAV', async () => {
  const card = await issueCard(srv.api, 'JANE Q WALLET');
  secrets.add(card.pan);
  const r = await digitize(card.token, body([pki.leaf, pki.sub]));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.token, card.token);
  const pass = openPassData(pki.leaf.privateKey, r.body);
  assert.deepEqual(Object.keys(pass).sort(), ['expiration', 'name', 'nonce', 'nonceSignature', 'primaryAccountNumber']);
  assert.equal(pass.primaryAccountNumber, card.pan);
  assert.equal(pass.expiration, `${String(card.expiryMonth).padStart(2, '0')}/${String(card.expiryYear % 100).padStart(2, '0')}`);
  assert.equal(pass.name, 'JANE Q WALLET');
  assert.equal(pass.nonce, nonce.toString('hex'));
  assert.equal(pass.nonceSignature, nonceSignature.toString('hex'));
  // Nothing of the card in the answer but the ciphertext.
  assert.ok(!JSON.stringify(r.body).includes(card.pan));
  // activationData: the TAV, verified with the TAV public key.
  const v = verifyTav(r.body.activationData, tavPublicPem, { pan: card.pan, month: card.expiryMonth, year: card.expiryYear });
  assert.ok(v.ok, 'the TAV signature verifies');
  assert.ok(v.validFor > 0 && v.validFor <= 15 * 60e3 + 5e3, `valid for ${v.validFor} ms`);
  const other = verifyTav(r.body.activationData, tavPublicPem, { pan: luhnPan('400000'), month: card.expiryMonth, year: card.expiryYear });
  assert.equal(other.ok, false, 'the TAV is bound to the PAN');
  // A second request: a fresh ephemeral key, a different ciphertext.
  const again = await digitize(card.token, body([pki.leaf, pki.sub]));
  assert.notEqual(again.body.ephemeralPublicKey, r.body.ephemeralPublicKey);
  assert.equal(openPassData(pki.leaf.privateKey, again.body).primaryAccountNumber, card.pan);
  // Another leaf key cannot open it.
  const stranger = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  assert.throws(() => openPassData(stranger, r.body));
});

test('the chain may carry the configured root as its third certificate, not another one', async () => {
  const card = await issueCard(srv.api);
  secrets.add(card.pan);
  const r = await digitize(card.token, body([pki.leaf, pki.sub, pki.root]));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(openPassData(pki.leaf.privateKey, r.body).primaryAccountNumber, card.pan);
  const stranger = await makeCa('Test Apple Root CA - G3');
  const bad = await digitize(card.token, body([pki.leaf, pki.sub, stranger]));
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'UNTRUSTED_CERTIFICATE_CHAIN');
});

test('a chain to another root is refused: UNTRUSTED_CERTIFICATE_CHAIN', async () => {
  const card = await issueCard(srv.api);
  // Same names as the configured PKI, other keys.
  const root = await makeCa('Test Apple Root CA - G3');
  const sub = await makeCa('Test Apple Worldwide Developer Relations CA - G2', root);
  const leaf = await makeLeaf(sub);
  const r = await digitize(card.token, body([leaf, sub]));
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, 'UNTRUSTED_CERTIFICATE_CHAIN');
  // Leaf and sub-CA of different chains.
  const mixed = await digitize(card.token, body([leaf, pki.sub]));
  assert.equal(mixed.body.error.code, 'UNTRUSTED_CERTIFICATE_CHAIN');
  // The order matters: sub-CA first is no chain.
  const swapped = await digitize(card.token, body([pki.sub, pki.leaf]));
  assert.equal(swapped.status, 400);
  assert.equal(swapped.body.error.code, 'UNTRUSTED_CERTIFICATE_CHAIN');
});

test('an expired (or not yet valid) leaf or sub-CA is refused: CERTIFICATE_EXPIRED', async () => {
  const card = await issueCard(srv.api);
  const expired = await makeLeaf(pki.sub, { notBefore: new Date(Date.now() - 400 * DAY), notAfter: new Date(Date.now() - DAY) });
  let r = await digitize(card.token, body([expired, pki.sub]));
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, 'CERTIFICATE_EXPIRED');
  const future = await makeLeaf(pki.sub, { notBefore: new Date(Date.now() + DAY), notAfter: new Date(Date.now() + 30 * DAY) });
  r = await digitize(card.token, body([future, pki.sub]));
  assert.equal(r.body.error.code, 'CERTIFICATE_EXPIRED');
  const oldSub = await makeCa('Test Old Sub CA', pki.root, { notBefore: new Date(Date.now() - 400 * DAY), notAfter: new Date(Date.now() - DAY) });
  const leaf = await makeLeaf(oldSub);
  r = await digitize(card.token, body([leaf, oldSub]));
  assert.equal(r.body.error.code, 'CERTIFICATE_EXPIRED');
});

test('a tampered certificate is refused', async () => {
  const card = await issueCard(srv.api);
  // One byte of the leaf's subject name (inside the signed part) changed:
  // still a certificate, no longer the one the sub-CA signed.
  const der = Buffer.from(pki.leaf.der);
  const at = der.indexOf(Buffer.from('Test Apple Pay'));
  assert.ok(at > 0);
  der[at] ^= 0x20;
  let r = await digitize(card.token, body([{ der }, pki.sub]));
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, 'UNTRUSTED_CERTIFICATE_CHAIN');
  // The signature itself changed.
  const sig = Buffer.from(pki.leaf.der);
  sig[sig.length - 5] ^= 0x01;
  r = await digitize(card.token, body([{ der: sig }, pki.sub]));
  assert.equal(r.status, 400);
  assert.ok(['UNTRUSTED_CERTIFICATE_CHAIN', 'INVALID_CERTIFICATE_CHAIN'].includes(r.body.error.code), r.body.error.code);
  // Truncated, not DER, or a trailing byte.
  for (const bad of [pki.leaf.der.subarray(0, 100), Buffer.from('not a certificate'), Buffer.concat([pki.leaf.der, Buffer.from([0])])]) {
    r = await digitize(card.token, body([{ der: bad }, pki.sub]));
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'INVALID_CERTIFICATE_CHAIN');
  }
});

test('the Apple Pay issuer encryption policy: marker extension, CA flags', async () => {
  const card = await issueCard(srv.api);
  const noMarker = await makeLeaf(pki.sub, { marker: false });
  let r = await digitize(card.token, body([noMarker, pki.sub]));
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, 'INVALID_CERTIFICATE_CHAIN');
  const caLeaf = await makeLeaf(pki.sub, { ca: true });
  r = await digitize(card.token, body([caLeaf, pki.sub]));
  assert.equal(r.body.error.code, 'INVALID_CERTIFICATE_CHAIN');
  // A sub-CA without the CA flag cannot issue the leaf.
  const notCa = await makeCa('Test Not A CA', pki.root, { ca: false });
  const leaf = await makeLeaf(notCa);
  r = await digitize(card.token, body([leaf, notCa]));
  assert.equal(r.body.error.code, 'INVALID_CERTIFICATE_CHAIN');
  // One certificate, or four, is no chain.
  r = await digitize(card.token, body([pki.leaf]));
  assert.equal(r.body.error.code, 'INVALID_CERTIFICATE_CHAIN');
  r = await digitize(card.token, body([pki.leaf, pki.sub, pki.root, pki.root]));
  assert.equal(r.body.error.code, 'INVALID_CERTIFICATE_CHAIN');
});

test('nonce and nonce signature in the wrong format, and missing fields, are refused with their codes', async () => {
  const card = await issueCard(srv.api);
  const chain = [pki.leaf, pki.sub];
  const cases = [
    [{ nonceSignature: 'zz!!' }, 'INVALID_NONCE_SIGNATURE'],
    [{ nonceSignature: nonceSignature.toString('hex') + 'x' }, 'INVALID_NONCE_SIGNATURE'],
    [{ nonceSignature: '' }, 'INVALID_NONCE_SIGNATURE'],
    [{ nonceSignature: nonceSignature.toString('base64url').replace(/=+$/, '') + '-_' }, 'INVALID_NONCE_SIGNATURE'],
    [{ nonceSignature: crypto.randomBytes(1025).toString('base64') }, 'INVALID_NONCE_SIGNATURE'],
    [{ nonce: '' }, 'INVALID_NONCE'],
    [{ nonce: 'AAAA AAAA' }, 'INVALID_NONCE'],
    [{ nonce: crypto.randomBytes(65).toString('base64') }, 'INVALID_NONCE'],
    [{ certificates: ['%%%', pki.sub.der.toString('base64')] }, 'INVALID_CERTIFICATE_CHAIN'],
  ];
  for (const [extra, code] of cases) {
    const r = await digitize(card.token, body(chain, extra));
    assert.equal(r.status, 400, JSON.stringify(extra));
    assert.equal(r.body.error.code, code, JSON.stringify(extra));
  }
  for (const field of ['certificates', 'nonce', 'nonceSignature']) {
    const b = body(chain);
    delete b[field];
    const r = await digitize(card.token, b);
    assert.equal(r.status, 400, field);
    assert.equal(r.body.error.code, 'INVALID_REQUEST', field);
  }
  const extraField = await digitize(card.token, body(chain, { pan: '4111111111111111' }));
  assert.equal(extraField.body.error.code, 'INVALID_REQUEST');
  const notJson = await srv.api('POST', `/v2/cards/${card.token}/digitization/apple`, { raw: '{"certificates":' });
  assert.equal(notJson.body.error.code, 'INVALID_REQUEST');
});

test('credentials: an ephemeral key needs the digitize scope and its own card; the tenant key works', async () => {
  const card = await issueCard(srv.api);
  secrets.add(card.pan);
  const other = await issueCard(srv.api);
  const mint = async (scopes, token = card.token) => {
    const r = await srv.api('POST', '/v2/ephemeral-keys', { body: { token, scopes, ttlSeconds: 120 } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    secrets.add(r.body.key);
    return r.body.key;
  };
  const digitizeKey = await mint(['digitize']);
  const ok = await digitize(card.token, body([pki.leaf, pki.sub]), { auth: digitizeKey });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(openPassData(pki.leaf.privateKey, ok.body).primaryAccountNumber, card.pan);
  for (const scopes of [['reveal'], ['pan', 'cvv2', 'pin:read', 'pin:write', 'pin:verify', 'cvv2:verify']]) {
    const r = await digitize(card.token, body([pki.leaf, pki.sub]), { auth: await mint(scopes) });
    assert.equal(r.status, 403, scopes.join());
    assert.equal(r.body.error.code, 'FORBIDDEN');
  }
  const foreign = await digitize(other.token, body([pki.leaf, pki.sub]), { auth: digitizeKey });
  assert.equal(foreign.status, 403);
  // The digitize scope opens no other card-data route.
  const pan = await srv.api('POST', `/v2/cards/${card.token}/reveal`, { auth: digitizeKey, sessionId: 'A'.repeat(344) });
  assert.equal(pan.status, 403);
  const unknownScope = await srv.api('POST', '/v2/ephemeral-keys', { body: { token: card.token, scopes: ['digitise'], ttlSeconds: 60 } });
  assert.equal(unknownScope.status, 400);
  assert.equal(unknownScope.body.error.code, 'INVALID_SCOPE');
  const none = await digitize(card.token, body([pki.leaf, pki.sub]), { auth: 'psk_nothing' });
  assert.equal(none.status, 401);
});

test('a card that is not active (a PAN-only token) is refused: CARD_NOT_ACTIVE; an unknown card: CARD_NOT_FOUND', async () => {
  const token = await panOnlyToken(srv.api, luhnPan('510510'));
  const r = await digitize(token, body([pki.leaf, pki.sub]));
  assert.equal(r.status, 409);
  assert.equal(r.body.error.code, 'CARD_NOT_ACTIVE');
  const missing = await digitize('tok_000000000000000000000000', body([pki.leaf, pki.sub]));
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.code, 'CARD_NOT_FOUND');
});

test('a tenant without Apple configuration gets WALLET_NOT_CONFIGURED; with a PartyVInfo identifier the KDF uses its SHA-256', async () => {
  const t = srv.tenant('Second Wallet Bank');
  secrets.add(t.apiKey);
  const card = await issueCard((m, p, o = {}) => srv.api(m, p, { auth: t.apiKey, ...o }));
  secrets.add(card.pan);
  const as = { auth: t.apiKey };
  let r = await digitize(card.token, body([pki.leaf, pki.sub]), as);
  assert.equal(r.status, 409);
  assert.equal(r.body.error.code, 'WALLET_NOT_CONFIGURED');
  const rootFile = path.join(srv.dir, 'root-der.cer');
  writeFileSync(rootFile, pki.root.der);
  srv.cli('tenant', 'wallet-apple-roots', t.id, rootFile);
  // Roots but no TAV key (activationData): still not configured.
  r = await digitize(card.token, body([pki.leaf, pki.sub]), as);
  assert.equal(r.body.error.code, 'WALLET_NOT_CONFIGURED');
  const tavPem = pemOf(srv.cli('tenant', 'wallet-tav-key', t.id, '--rsa'));
  srv.cli('tenant', 'wallet-apple-party-v', t.id, '--id', 'TEAMID1234');
  r = await digitize(card.token, body([pki.leaf, pki.sub]), as);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const partyV = crypto.createHash('sha256').update('TEAMID1234').digest();
  const pass = openPassData(pki.leaf.privateKey, r.body, partyV);
  assert.equal(pass.primaryAccountNumber, card.pan);
  assert.throws(() => openPassData(pki.leaf.privateKey, r.body), 'not with the ephemeral key as PartyVInfo');
  const v = verifyTav(r.body.activationData, tavPem, { pan: card.pan, month: card.expiryMonth, year: card.expiryYear });
  assert.equal(v.tav.signatureAlgorithm, 'RSA-SHA256');
  assert.ok(v.ok);
  // Back to the default.
  srv.cli('tenant', 'wallet-apple-party-v', t.id);
  r = await digitize(card.token, body([pki.leaf, pki.sub]), as);
  assert.equal(openPassData(pki.leaf.privateKey, r.body).primaryAccountNumber, card.pan);
  // The first tenant's card is not this tenant's.
  const foreign = await digitize(card.token, body([pki.leaf, pki.sub]));
  assert.equal(foreign.status, 404);
});

test('the CLI refuses a root that is not a CA certificate, and an unknown tenant', async () => {
  const leafFile = path.join(srv.dir, 'leaf.pem');
  writeFileSync(leafFile, pki.leaf.cert.toString('pem'));
  assert.match(srv.cliFails('tenant', 'wallet-apple-roots', srv.first.id, leafFile), /root/);
  const rootFile = path.join(srv.dir, 'root.pem');
  assert.match(srv.cliFails('tenant', 'wallet-apple-roots', 'ten_0000000000000000', rootFile), /no such tenant/);
});
