// Writes docs/api.md from a real run: starts paysecure-server, calls every
// endpoint with the paysecure-wasm package as the client, and records each
// exchange (long base64 values shortened, credentials truncated).
//   node scripts/gen-api-doc.mjs   (after scripts/build.sh and cargo build -p paysecure-server)
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ps = createRequire(import.meta.url)(path.join(root, 'pkg', 'paysecure-wasm'));
const BIN = path.join(root, 'target', 'debug', 'paysecure-server');
const data = path.join(mkdtempSync(path.join(os.tmpdir(), 'paysecure-doc-')), 'data');

const created = execFileSync(BIN, ['--data-dir', data, '--master-key-file', `${data}/master.key`, 'tenant', 'create', 'Docs Bank']).toString().trim().split('\n');
const apiKey = created.pop();
const tenantId = created[0].split(' ')[1];
// The sandbox BIN table (test card ranges), as `serve --demo` loads it: the
// Paythru and Verifone answers show the BIN-derived fields.
execFileSync(BIN, ['--data-dir', data, '--master-key-file', `${data}/master.key`, 'bins', 'load', 'sandbox']);
// V1 is off unless the tenant enables it; this run shows it.
execFileSync(BIN, ['--data-dir', data, '--master-key-file', `${data}/master.key`, 'tenant', 'allow-v1', tenantId, 'true']);
const pt = Object.fromEntries(execFileSync(BIN, ['--data-dir', data, '--master-key-file', `${data}/master.key`, 'tenant', 'paythru-credentials', tenantId]).toString()
  .trim().split('\n').filter((l) => l.includes('=')).map((l) => l.split('=')));
const server = spawn(BIN, ['--data-dir', data, '--master-key-file', `${data}/master.key`, 'serve', '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'ignore'] });
const url = (await new Promise((ok) => createInterface({ input: server.stdout }).once('line', ok))).trim().split(' ').pop();

const shorten = (v) => {
  if (typeof v === 'string') {
    if (/^(psk|pse)_/.test(v)) return `${v.slice(0, 8)}…`;
    if (v.startsWith('-----BEGIN')) return `${v.split('\n').slice(0, 2).join('\n')}\n…\n-----END PUBLIC KEY-----\n`;
    if (v.length > 40 && /^[A-Za-z0-9+/=_.-]+$/.test(v)) return `${v.slice(0, 24)}…`;
  }
  return v;
};
const pretty = (o) => JSON.stringify(o, (k, v) => shorten(v), 2);

const sections = [];
async function exchange(title, { method, path: p, auth, session, body, form, note, errors }) {
  const headers = {};
  if (auth) headers.authorization = `Bearer ${auth}`;
  if (session) headers['session-id'] = session.sessionId;
  if (body) headers['content-type'] = 'application/json';
  if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
  const res = await fetch(`${url}${p}`, { method, headers, body: form ?? (body && JSON.stringify(body)) });
  const text = await res.text();
  let shown;
  try {
    shown = pretty(JSON.parse(text));
    if (shown.split('\n').length > 40) shown = `${shown.split('\n').slice(0, 12).join('\n')}\n…`;
  } catch {
    shown = text.startsWith('<?xml')
      ? text.replace(/></g, '>\n<')
      : text.split('\n').slice(0, 6).join('\n') + (text.split('\n').length > 6 ? '\n…' : '');
  }
  const req = [`${method} ${p}`];
  if (auth) req.push(`Authorization: Bearer ${shorten(auth)}`);
  if (session) req.push(`Session-Id: ${shorten(session.sessionId)}   (${session.sessionId.length} characters)`);
  if (body) req.push('Content-Type: application/json', '', pretty(body));
  if (form) req.push('Content-Type: application/x-www-form-urlencoded', '', form.replace(/(apiPassword=[A-Za-z0-9]{4})[A-Za-z0-9]+/, '$1…').replace(/(shaSignature=[0-9a-f]{16})[0-9a-f]+/, '$1…').replace(/&/g, '&\n'));
  const lang = text.startsWith('<?xml') ? 'xml' : 'json';
  sections.push({ title, note, errors, request: req.join('\n'), status: res.status, response: shown, lang });
  return { status: res.status, json: (() => { try { return JSON.parse(text); } catch { return null; } })() };
}

const pk = (await exchange('Public key', {
  method: 'GET', path: '/v2/public-key',
  note: 'No authentication. The key every session id is made for; `keyId` may be sent back as `Key-Id`. Served as SPKI PEM and as a JWK; both work with `Session.create`.',
})).json;
const pkV1 = (await exchange('V1 public key', {
  method: 'GET', path: '/v1/public-key',
  note: 'No authentication. The key V1 session ids (RSAES-PKCS1-v1_5) are made for: a key pair of its own, never the V2/V3 key (a PKCS#1 v1.5 oracle must not sit on the key that opens OAEP session ids). It exists once a tenant enabled V1 (`tenant allow-v1 TENANT true`); before that, 404 `V1_NOT_ENABLED`.',
  errors: '404 V1_NOT_ENABLED',
})).json;
const ck = (await exchange('Card-capture key', {
  method: 'GET', path: '/v2/capture-key',
  note: 'No authentication, any origin (read by merchants\' checkout pages). The key `encryptCard` wraps card captures for (JWE `RSA-OAEP-256`): the Verifone `encrypted_card` and the Paythru Client POST capture; `keyId` is the JWE `kid` and the `public_key_alias`. A key pair of its own, never the session key of `/v2/public-key` (one RSA key, one padding and hash): a JWE whose `kid` names a session key is refused like an unknown key. Rotated with `keys rotate --capture`.',
})).json;
const S = (version = 'v2') => ps.Session.create(version === 'v1' ? pkV1.publicKey : pk.publicKey, { version, allowLegacyCbc: version === 'v1' });

const issued = (await exchange('Issue a card (sandbox issuing)', {
  method: 'POST', path: '/v2/cards', auth: apiKey,
  body: { accountId: 'acc-1001', customerId: 'cu-77', customerRef: 'ref-abc', bin: '400000', cardholderName: 'ADA LOVELACE' },
  note: 'Tenant API key only. Generates a Luhn-valid PAN in the BIN (default 400000), an expiry three years out; the CVV2 is computed on demand with the Visa CVV algorithm under the tenant\'s CVK pair. Returns masked data only (201).',
  errors: '400 `INVALID_BIN`, `INVALID_REQUEST`; 401; 403 (ephemeral key)',
})).json;
const token = issued.token;

await exchange('Detailed card list', {
  method: 'GET', path: '/v2/cards?accountId=acc-1001&limit=2', auth: apiKey,
  note: 'Tenant API key only. Filters `accountId`, `customerId`, `customerRef`, `token`, in any combination (AND). Masked data only. Paged, oldest first (creation time, then token): `limit` 1 to 500 cards per page (default 100); while `hasMore` is true, ask again with the same filters and `cursor` set to `next` (opaque). No card is listed twice and none that exists throughout the walk is skipped; cards created during it may or may not appear.',
  errors: '400 `INVALID_PAGE_SIZE` (limit outside 1..500), `INVALID_CURSOR`, `INVALID_REQUEST`; 401; 403',
});

const eph = (await exchange('Ephemeral key', {
  method: 'POST', path: '/v2/ephemeral-keys', auth: apiKey,
  body: { token, scopes: ['reveal', 'pin:read', 'pin:write', 'pin:verify'], ttlSeconds: 300 },
  note: 'Tenant API key only. A credential for one card and the listed scopes, at most 15 minutes, for the tenant\'s backend to hand to the cardholder\'s browser. Scopes: `pan`, `cvv2`, `pin:read`, `pin:write`, `pin:verify`, `cvv2:verify`, `reveal`, `digitize`.',
  errors: '400 `INVALID_SCOPE`, `INVALID_REQUEST` (ttlSeconds outside 1..900); 404 `CARD_NOT_FOUND`; 401; 403',
})).json.key;

let s = S();
await exchange('Reveal (PAN + CVV2 + expiry, one round trip)', {
  method: 'POST', path: `/v2/cards/${token}/reveal`, auth: eph, session: s,
  note: 'For card-reveal widgets. Scope `reveal`. `pan` and `cvv2` are `{ data, iv }` under the session key: `session.decrypt(res.pan)`.',
  errors: '400 `INVALID_SESSION_ID`; 401; 403; 404 `CARD_NOT_FOUND`; 409 `NO_EXPIRY` (PAN-only token)',
});
s.free();

s = S();
await exchange('Get PAN', {
  method: 'POST', path: `/v2/cards/${token}/pan`, auth: apiKey, session: s,
  note: 'Also `/v1/cards/{token}/pan` (PKCS#1 v1.5 session id, AES-CBC value). Scope `pan`.',
  errors: '400 `INVALID_SESSION_ID`; 401; 403; 404 `CARD_NOT_FOUND`',
});
s.free();

s = S('v1');
await exchange('Get CVV2 (V1 shown)', {
  method: 'POST', path: `/v1/cards/${token}/cvv2`, auth: apiKey, session: s,
  note: 'Also `/v2/...`. Scope `cvv2`. Computed with the Visa CVV algorithm (PAN, expiry YYMM, service code 000) under the tenant\'s CVK pair.',
  errors: '400 `INVALID_SESSION_ID`; 401; 403; 404; 409 `NO_EXPIRY`',
});
s.free();
const cvvSession = S('v1');
const cvvRes = await (await fetch(`${url}/v1/cards/${token}/cvv2`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'session-id': cvvSession.sessionId } })).json();
const cvv2 = cvvSession.decrypt(cvvRes.cvv2);
cvvSession.free();

s = S();
await exchange('Set PIN', {
  method: 'PUT', path: `/v2/cards/${token}/pin`, auth: eph, session: s, body: { pinBlock: s.encryptPin('1432') },
  note: 'Also `/v1/...`. Scope `pin:write`. `pinBlock` is an ISO 9564 format-2 block (`241432FFFFFFFFFF`) encrypted under the session key: `session.encryptPin(\'1432\')`. Refused while the PIN is blocked.',
  errors: '400 `INVALID_PIN_BLOCK`, `UNDECRYPTABLE_VALUE`, `INVALID_SESSION_ID`; 401; 403; 404; 423 `PIN_BLOCKED`',
});
s.free();

s = S();
await exchange('Get PIN', {
  method: 'POST', path: `/v2/cards/${token}/pin`, auth: eph, session: s,
  note: 'Also `/v1/...`. Scope `pin:read`. `session.decryptPin(res.pinBlock)` gives the digits.',
  errors: '400 `INVALID_SESSION_ID`; 401; 403; 404; 409 `PIN_NOT_SET`; 423 `PIN_BLOCKED`',
});
s.free();

s = S();
await exchange('Verify PIN', {
  method: 'POST', path: `/v2/cards/${token}/pin/verify`, auth: eph, session: s, body: { pinBlock: s.encryptPin('9999') },
  note: 'Also `/v1/...`. Scope `pin:verify`. Three consecutive wrong PINs block the PIN: then every PIN call answers 423 `PIN_BLOCKED`, the right PIN included, until unblocked. A right PIN resets the count. The count is updated atomically in SQL.',
  errors: '400 `INVALID_PIN_BLOCK`, `UNDECRYPTABLE_VALUE`, `INVALID_SESSION_ID`; 401; 403; 404; 409 `PIN_NOT_SET`; 423 `PIN_BLOCKED`',
});
s.free();

const panS = S();
const pan = panS.decrypt((await (await fetch(`${url}/v2/cards/${token}/pan`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'session-id': panS.sessionId } })).json()).pan);
panS.free();

s = S();
await exchange('Verify PIN for a provided PAN', {
  method: 'POST', path: '/v2/pin/verify', auth: apiKey, session: s, body: { pan: s.encrypt(pan), pinBlock: s.encryptPin('1432') },
  note: 'Also `/v1/pin/verify`. Tenant API key only. Same counting and blocking as above.',
  errors: '400 `INVALID_PAN`, `INVALID_PIN_BLOCK`, `UNDECRYPTABLE_VALUE`, `INVALID_SESSION_ID`; 401; 403; 404; 409; 423',
});
s.free();

await exchange('Unblock PIN', {
  method: 'POST', path: `/v2/cards/${token}/pin/unblock`, auth: apiKey,
  note: 'Tenant API key only (an ephemeral key gets 403). Clears the block and the count; returns the masked card.',
  errors: '401; 403; 404',
});

s = S();
await exchange('Verify CVV2', {
  method: 'POST', path: `/v2/cards/${token}/cvv2/verify`, auth: apiKey, session: s, body: { cvv2: s.encrypt(cvv2) },
  note: 'Scope `cvv2:verify`. Verified by recomputation, compared in constant time.\n\nFive consecutive wrong CVV2s block the card\'s CVV2 verification (both routes, every credential): then it answers 423 `CVV2_BLOCKED`, the right CVV2 included, until the tenant calls `POST /v2/cards/{token}/cvv2/unblock` (tenant API key only; answers the card like the PIN unblock). A right CVV2 resets the count; a wrong one answers only `"verified": false`. The count is one atomic SQL `UPDATE … RETURNING`, shared by all nodes.',
  errors: '400 `INVALID_CVV2`, `UNDECRYPTABLE_VALUE`, `INVALID_SESSION_ID`; 401; 403; 404; 409 `NO_EXPIRY`; 423 `CVV2_BLOCKED`; 429 `RATE_LIMITED`',
});
s.free();

s = S();
await exchange('Verify CVV2 for a provided PAN', {
  method: 'POST', path: '/v2/cvv2/verify', auth: apiKey, session: s, body: { pan: s.encrypt(pan), cvv2: s.encrypt('000') },
  note: 'Tenant API key only.',
  errors: '400 `INVALID_PAN`, `INVALID_CVV2`, `UNDECRYPTABLE_VALUE`, `INVALID_SESSION_ID`; 401; 403; 404; 409; 423 `CVV2_BLOCKED`; 429 `RATE_LIMITED`',
});
s.free();

await exchange('Unblock CVV2 verification', {
  method: 'POST', path: `/v2/cards/${token}/cvv2/unblock`, auth: apiKey,
  note: 'Tenant API key only (an ephemeral key gets 403). Clears the CVV2 verification block and the count; returns the masked card.',
  errors: '401; 403; 404',
});

s = S();
await exchange('PAN to token', {
  method: 'POST', path: '/v2/tokens', auth: apiKey, session: s, body: { pan: s.encrypt('5555555555554444') },
  note: 'Also `/v1/tokens` and `/v3/tokens`. Tenant API key only. The same PAN in the same tenant always gives the same token; a PAN not yet in the vault is vaulted as a PAN-only token (status `TOKENIZED`). Tokens are random, not derived from the PAN; the look-up uses a keyed HMAC.',
  errors: '400 `INVALID_PAN` (not 12-19 digits, or fails Luhn), `UNDECRYPTABLE_VALUE`, `INVALID_SESSION_ID`; 401; 403',
});
s.free();

s = S('v3');
await exchange('PAN to token, V3 (with masked details)', {
  method: 'POST', path: '/v3/tokens', auth: apiKey, session: s, body: { pan: s.encrypt('5555555555554444') },
  note: 'V3 uses the V2 scheme and adds the card\'s masked details.',
});
s.free();

// ---- Paythru Card Tokenisation API v3 (the Paythru v3 document)
const sign = (params) => {
  const h = createHash('sha512');
  for (const [k, v] of [...params].filter(([k, v]) => k !== 'shaSignature' && v !== '').sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    h.update(`${k}=${v}${pt.shaKey}`);
  }
  return h.digest('hex');
};
const ptForm = (params) => {
  const all = [['apiKey', pt.apiKey], ['apiPassword', pt.apiPassword], ...params];
  return new URLSearchParams([...all, ['shaSignature', sign(all)]]).toString();
};
const expYear = String(new Date().getUTCFullYear() + 3);
const createdCard = (await exchange('Paythru: create a card token', {
  method: 'POST', path: '/v3/token/create/json',
  form: ptForm([['merchantCustomerReference', 'cust-42'], ['cardDescription', 'My shopping card'], ['cardholderName', 'MR JOHN SMITH'],
    ['cardNumber', '4444333322221111'], ['cardExpiryMonth', '12'], ['cardExpiryYear', expYear.slice(2)], ['customerTitle', 'Mr'],
    ['customerFirstName', 'John'], ['customerSurname', 'Smith'], ['customerEmail', 'johnsmith@example.com'],
    ['cardholderAddressLine1', 'Flat 12B'], ['cardholderAddressTown', 'Amersham'], ['cardholderAddressPostcode', 'HP6 6GL'], ['cardholderAddressCountry', 'UK']]),
  note: 'The Paythru v3 document §3.6. Form body; every request carries `apiKey`, `apiPassword` (from `paysecure-server tenant paythru-credentials TENANT`) and `shaSignature`: SHA-512 (hex) of `name=value` + shaKey for every non-empty parameter but the signature, sorted by name in byte order (§2.5; the document\'s update example verifies only that way). The last URL segment picks `xml` (default) or `json`. The expiry is `cardExpiry` (MMYY, as the document\'s example) or `cardExpiryMonth` + `cardExpiryYear`. A new token is disabled (`enabled` "0", as the document\'s examples show) until `enable`; `cardUniqueIdentifier` is the same for every token of the same card of the merchant. Replay profile (optional; docs/protocol.md): `requestTime` (Unix seconds, within 300 s of the server clock) and `requestNonce` (16 to 64 of `A-Z a-z 0-9 - _`, accepted once per apiKey), two more parameters signed like the others; required once `paysecure-server tenant paythru-require-nonce APIKEY|TENANT true` is set, and verified whenever sent.',
  errors: '108 invalid card number (digits, 13-19, Luhn); 109 invalid or past expiry; 152 with `cardKey`; 107 unknown, repeated or over-long parameter; and the authentication errors below',
})).json;
const cardKey = createdCard.cardKeyDetails['0'].cardKey;
await exchange('Paythru: lookup (XML)', {
  method: 'POST', path: '/v3/token/lookup/xml', form: ptForm([['cardKey', cardKey], ['merchantCustomerReference', '']]),
  note: 'The Paythru v3 document §3.1. By `cardKey`, by `merchantCustomerReference` (every card of the customer), or both (both must match). XML answers have the `paythruResponse` root; JSON answers key `cardKeyDetails` by "0", "1", ...; unresolved values are `null` in JSON and empty elements in XML.',
  errors: '146 malformed or missing card key; 147 not found; 148 no card for the reference, or the reference does not match',
});
await exchange('Paythru: update', {
  method: 'POST', path: '/v3/token/updateCardKeyDetails/json',
  form: ptForm([['cardKey', cardKey], ['cardholderAddressLine1', '10 Downing Street'], ['cardholderAddressLine2', ''], ['cardholderAddressTown', 'London'], ['cardholderAddressPostcode', 'SW1A 2AA']]),
  note: 'The Paythru v3 document §3.5. A parameter sent empty clears the stored value; one not sent is kept. Also accepts the table\'s spellings `cardholderAdressTown` and `cardHolderAddressCounty`, and `cardExpiryMonth` + `cardExpiryYear`.',
  errors: '144 nothing to update; 150 with `cardNumber`; 109 bad expiry',
});
for (const m of ['disable', 'enable']) {
  await exchange(`Paythru: ${m}`, {
    method: 'POST', path: `/v3/token/${m}/xml`, form: ptForm([['cardKey', cardKey]]),
    note: `The Paythru v3 document §3.${m === 'enable' ? 2 : 3}. Idempotent: a token already in that state answers OK and nothing is written. A new token is disabled (\`enabled\` "0", as the document's examples) until enabled; a disabled token can still be looked up and updated.`,
  });
}
const sessionOpen = (await exchange('Paythru Client POST: open a capture session', {
  method: 'POST', path: '/v3/clientpost/session/json', form: ptForm([['merchantCustomerReference', 'cust-42']]),
  note: 'Signed like every Paythru call. The merchant hands `sessionKey` to the cardholder\'s browser, which captures the card with paysecure-wasm `encryptCard` and posts it below; the merchant never sees the PAN. 15 minutes, single use.',
})).json;
const card = ps.encryptCard({ cardNumber: '5555 5555 5555 4444', expiryMonth: 12, expiryYear: Number(expYear), cvv: '123', cardholderName: 'MR J HOLDER' }, ck.publicKey, { keyAlias: ck.keyId });
await exchange('Paythru Client POST: the browser sends the captured card', {
  method: 'POST', path: '/v3/clientpost/card', body: { sessionKey: sessionOpen.sessionKey, encryptedCard: card },
  note: 'From the cardholder\'s browser (CORS `*`, no credentials: the session key, sent in the body and never in a URL, is the capability; one card per session; unknown or used keys count as failed authentications). `encryptedCard` is a compact JWE (RSA-OAEP-256 + A256GCM, `kid` = the key id) of the card JSON with `captureTime`; refused 15 minutes after capture. The CVV is checked and never stored.',
  errors: '400 `INVALID_SESSION_KEY`, `INVALID_ENCRYPTED_CARD`, `UNKNOWN_KEY_ALIAS`, `CAPTURE_EXPIRED`, `INVALID_CAPTURE_TIME`, `INVALID_CARD_NUMBER`, `INVALID_CARD_EXPIRY`, `INVALID_CARD`; 429 `RATE_LIMITED`',
});
await exchange('Paythru: tokeniseSessionKey', {
  method: 'POST', path: '/v3/token/tokeniseSessionKey/json', form: ptForm([['sessionKey', sessionOpen.sessionKey]]),
  note: 'The Paythru v3 document §3.7. Makes the token from the card captured in the session (the reference defaults to the session\'s).',
  errors: '151 (ours) unknown, expired, used, or nothing captured yet; 152 with `cardKey`',
});
await exchange('Paythru: delete', {
  method: 'POST', path: '/v3/token/delete/json', form: ptForm([['cardKey', cardKey], ['merchantCustomerReference', 'cust-42']]),
  note: 'The Paythru v3 document §3.4. Irreversible; the token then answers 147, and so does a repeated delete (the document\'s code for a card key that is not there).',
});
await exchange('Paythru: an error (XML)', {
  method: 'POST', path: '/v3/token/lookup/xml', form: 'apiKey=nobody&apiPassword=wrong&cardKey=x&shaSignature=00',
  note: 'Errors carry `errorCode` (the Paythru v3 document §5.1), an 8-digit `traceCode` (logged with the request) and `errorMessage`, with 401 for 102 (credentials), 123 (signature), and the replay profile\'s 124 (request time missing, malformed or more than 300 s off) and 126 (request nonce missing, malformed or already used: these two do not count towards the block), 403 for 105 (revoked credentials), 106 (method not allowed for these credentials), 121/122 (address blocked: more than 5 failed authentications in a day (the 6th) block it for a minute, 10 for five minutes; credential and signature failures both count), 405 with 103 for another HTTP method than POST, 413 with 107 for a body over 64 KiB, and 400 otherwise (101 empty body or a Content-Type other than application/x-www-form-urlencoded, 103 unknown method, version or path, 104 unknown encoding, 107 malformed, 108, 109, 125 reference over 45 characters, 144, 146, 147, 148, 150, 151, 152).',
});

// ---- Verifone-style token management (the Verifone Token Management document)
const scope = '0e48425a-f1bc-431a-b7d8-f866de8ba276';
const vfCard = ps.encryptCard({ cardNumber: '4111 1111 1111 1111', expiryMonth: 12, expiryYear: Number(expYear), cardholderName: 'MR J HOLDER' }, ck.publicKey, { keyAlias: ck.keyId });
const vfToken = (await exchange('Verifone: create or update a token', {
  method: 'PUT', path: '/api/v2/card', auth: apiKey,
  body: { token_scope: scope, encrypted_card: vfCard, public_key_alias: ck.keyId, token_expiry_date: `${Number(expYear) + 1}-12-31` },
  note: 'The Verifone Token Management document. Tenant API key. `encrypted_card` comes from paysecure-wasm `encryptCard` in the cardholder\'s browser; `public_key_alias` must name the capture key it was made for (`GET /v2/capture-key`: the current or the previous one; a retired one, or any other key, is refused). The card\'s token in that `token_scope` is updated if it exists, otherwise a new one is made. `analytics_token` is an HMAC of the card under a server key, stable per card and scope, never reversible. `currency`, `issuer_country` (alpha-3), `issuer_name`, `type` and `variant` come from the operator\'s BIN table (here the sandbox one) and are absent for a BIN it does not know. The card JSON may give the expiry as strings or numbers; it is accepted once per tenant within its 15 minutes. Optional: `card_brand` (e.g. `CB` for a co-badged card; a standard name must be the card\'s brand), `token_type` (`REUSE`), `reuse_token_type` (`INTERNAL`), `token_expiry_date`.',
  errors: '400 `INVALID_TOKEN_SCOPE`, `INVALID_ENCRYPTED_CARD` (any failure to decrypt), `UNKNOWN_KEY_ALIAS`, `KEY_ALIAS_MISMATCH`, `CARD_ALREADY_USED`, `MISSING_CAPTURE_TIME`, `MISSING_CARD_NUMBER`, `UNKNOWN_CARD_TAG`, `INVALID_CAPTURE_TIME`, `INVALID_CARD`, `CARD_BRAND_MISMATCH`, `CAPTURE_EXPIRED`, `INVALID_CARD_NUMBER`, `INVALID_CARD_EXPIRY`, `INVALID_CARD_HOLDER_NAME` (over 30), `INVALID_CARD_BRAND`, `UNSUPPORTED_TOKEN_TYPE`, `UNSUPPORTED_REUSE_TOKEN_TYPE`, `INVALID_TOKEN_EXPIRY_DATE`, `INVALID_REQUEST`; 401; 403; 409 `TOKEN_SUSPENDED`, `TOKEN_EXPIRED`',
})).json;
const vid = vfToken.reuse_token;
await exchange('Verifone: token details', { method: 'GET', path: `/api/v2/card/${vid}`, auth: apiKey, note: '`token_status` is `ACTIVE`, `SUSPENDED` or `EXPIRED` (past `token_expiry_date`).', errors: '400 `INVALID_TOKEN_ID` (not 14-255 characters); 401; 403; 404 `TOKEN_NOT_FOUND`' });
await exchange('Verifone: partial update', {
  method: 'PATCH', path: `/api/v2/card/${vid}`, auth: apiKey, body: { card_holder_email: 'j.holder@example.com', expiry_month: 1, expiry_year: Number(expYear) + 1 },
  note: 'Only the fields sent change. A new `encrypted_card` relinks the token to its PAN (409 `CARD_ALREADY_TOKENISED` if that card has another token in the scope). `cvv` is checked and never stored. A suspended token refuses updates; an expired one accepts only a new `token_expiry_date`.',
  errors: '400 `EMPTY_UPDATE`, `INVALID_CVV`, `INVALID_CARD_HOLDER_NAME`, `INVALID_CARD_HOLDER_EMAIL`, `INVALID_CARD_EXPIRY`, `INVALID_SCHEME_TOKEN_ACTION`; 404; 409 `TOKEN_SUSPENDED`, `TOKEN_EXPIRED`, `CARD_ALREADY_TOKENISED`',
});
await exchange('Verifone: suspend', { method: 'PATCH', path: `/api/v2/card/${vid}/suspend`, auth: apiKey, note: 'Reversible; idempotent. 204.' });
await exchange('Verifone: activate', { method: 'PATCH', path: `/api/v2/card/${vid}/activate`, auth: apiKey, note: '204; 409 `TOKEN_EXPIRED` for an expired token.' });
await exchange('Verifone: delete', { method: 'DELETE', path: `/api/v2/card/${vid}`, auth: apiKey, note: 'Irreversible. 204; then 404 `TOKEN_NOT_FOUND`.' });

// ---- Get CVV2 envelope (the PIN Management Get CVV2 document)
const exCard = (await (await fetch(`${url}/v2/cards`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ exid: '99984100148297467162' }) })).json());
const yymm = `${String(exCard.expiryYear % 100).padStart(2, '0')}${String(exCard.expiryMonth).padStart(2, '0')}`;
const niRequest = (id, type, expiry) => ({ NISrvRequest: { request_get_cvv2: {
  header: { msg_id: '223001', msg_type: 'TRANSACTION', msg_function: 'REQ_GET_CVV2', src_application: 'IVR', target_application: 'WAY4', timestamp: '2020-07-20T10:49:02.366+04:00', tracking_id: '223001', bank_id: 'NIC' },
  body: { card_identifier_id: id, card_identifier_type: type, expiry_date: expiry } } } });
s = S();
await exchange('Get CVV2 envelope (the PIN Management Get CVV2 document)', {
  method: 'POST', path: '/pin-management/v2/cvv2', auth: apiKey, session: s, body: niRequest('99984100148297467162', 'EXID', yymm),
  note: 'For IVR and self-service channels. `card_identifier_type` is `CONTRACT_NUMBER` (the card number itself, found through the keyed PAN index and never logged, or the card token) or `EXID` (the external id given when the card was issued: `POST /v2/cards` with `exid`); `expiry_date` (`YYMM`) must match the card. The header is echoed (`msg_function` `REP_GET_CVV2`, plus `instance_id`), `card_identifier_id` is masked, and with a `Session-Id` (recommended) the CVV2 is `{ data, iv }` under the session key; without one it is sent in clear only if the bank allows it (`paysecure-server tenant allow-plain-cvv2 TENANT true`). Field lengths as the document: `msg_id` 12, `msg_type` 12, `msg_function` 50, `src_application` 10, `target_application` 10, `timestamp` 30, `tracking_id` 30, `bank_id` 4, `card_identifier_id` 32. `msg_type` and `msg_function` may be left out; when present they must be `TRANSACTION` and `REQ_GET_CVV2`.',
  errors: 'always the envelope, with `exception_details.status` `F`: 400 `error_code` 100 invalid request (malformed JSON too), 101 card not found, 102 expiry mismatch, 103 invalid Session-Id, 105 no expiry; 401 `401`; 403 `104` (clear CVV2 not allowed) or `403` (an ephemeral key without scope `cvv2` or for another card); 405 `405` (not POST); 413 `413` (body over 16 KiB); 415 `415` (not `application/json`); 429 `429`; 500 `999`; 502 `502` (unusable answer from the card data store); 503 `503` (card data store unavailable); 504 `504` (past the 10 s deadline); 596 `596` (another service under `/pin-management/`)',
});
s.free();

// ---- Account payment-information API (the Account APIs document)
const dataKeyOut = execFileSync(BIN, ['--data-dir', data, '--master-key-file', `${data}/master.key`, 'tenant', 'data-key', tenantId]).toString().trim().split('\n').pop();
const acctUser = '2a50a2e4-a93a-4823-9674-c63aba792325';
async function account(title, { method, path: tmpl, ids = {}, body, note, errors }) {
  const sess = S();
  let p = tmpl;
  for (const [slot, v] of Object.entries(ids)) p = p.replace(slot, sess.encryptBody(v));
  const headers = { authorization: `PLTOKEN ${apiKey}`, 'session-id': sess.sessionId };
  let form;
  if (body) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    form = new URLSearchParams({ data: sess.encryptBody(JSON.stringify(body)) }).toString();
  }
  const res = await fetch(`${url}${p}`, { method, headers, body: form });
  const text = await res.text();
  const answer = res.ok ? JSON.parse(sess.decryptBody(text)) : JSON.parse(text);
  sess.free();
  const req = [`${method} ${tmpl.replace(/\{(\w+)\}/g, (_, n) => `{${n}: encrypted, ${(ids[`{${n}}`] || '').length * 2 + 84} hex digits}`)}`,
    `Authorization: PLTOKEN ${shorten(apiKey)}`, `Session-Id: ${shorten('x'.repeat(41))}`];
  for (const [slot, v] of Object.entries(ids)) req.push(`   ${slot} = encryptBody(${JSON.stringify(v)})`);
  if (body) req.push('Content-Type: application/x-www-form-urlencoded', '', `data=${form.slice(5, 57)}…   (encryptBody of:)`, pretty(body));
  let shown = pretty(answer);
  if (res.ok) shown = `${text.slice(0, 52)}…   (${text.length} hex digits; decryptBody gives:)\n${shown}`;
  sections.push({ title, note, errors, request: req.join('\n'), status: res.status, response: shown, lang: 'text' });
  return answer;
}
const createBody = {
  orderId: '251153cb-de49-4afb-9fb5-acb33e332b26', udid: '2083718938012321038243',
  billingInfo: { firstName: 'John', lastName: 'Doe', dateOfBirth: '19870704', phoneNumber: '1234567890', emailAddress: 'abc@xyz.com',
    addressInfo: { street: '18th Floore Prtlan House', street2: 'Bressenden Place', city: 'Victoria', state: 'London', postalCode: 'SW1E 5RS', countryCode: 'GB' } },
  paymentInfo: { paymentType: 'CreditCard', isDefault: true,
    card: { cardNum: '4111111111111111', cardExpYear: '2099', cardExpMonth: '08', cardHolder: 'John Doe', cardNickName: 'Card1', cardCvvToken: '1000000000000016' } },
  accessCountryCode: 'GB', ipAddress: '127.0.0.1',
};
// The CVV token service: a one-time token for a CVV (the API), or for a
// card's own CVV2 (the sandbox CLI, the CVV read on standard input, never shown).
const cvvTokenFor = (pan, yymm) => execFileSync(BIN, ['--data-dir', data, '--master-key-file', `${data}/master.key`, 'tenant', 'cvv-token', tenantId, '--expiry', yymm],
  { input: `${pan}\n`, stdio: ['pipe', 'pipe', 'ignore'] }).toString().trim();
await exchange('CVV token service (cardCVVToken)', {
  method: 'POST', path: '/v2/cvv-tokens', auth: apiKey, body: { cvv: '123' },
  note: 'Tenant API key. The Account APIs document calls `cardCVVToken` a "SAKA token for decryption of the Card Verification Value": this mints one. It resolves once, for this tenant only, within 10 minutes; the CVV is held sealed until then and never stored with a card. The sandbox CLI `paysecure-server tenant cvv-token TENANT --expiry YYMM` reads a card number on standard input and mints a token for that card\'s own CVV2 (under the tenant\'s CVK), which it never shows; without `--expiry` it reads the CVV.',
  errors: '400 INVALID_CVV (not 3 or 4 digits), INVALID_REQUEST; 401; 403 (an ephemeral key); 429',
});
createBody.paymentInfo.card.cardCvvToken = cvvTokenFor('4111111111111111', '9908');
const acctCommon = 'Every path id, the `data=` field and every answer is `encryptBody`/`decryptBody` text: hex of a 26-byte nonce (UTC `yyyyMMddHHmmss` + 12 hex digits), the AES-GCM ciphertext and tag, under the session key of `Session-Id`, or, without one, the tenant\'s data key (`paysecure-server tenant data-key TENANT`). Values older or newer than 5 minutes, or sent twice, are refused.';
const acctCreated = await account('Account: CreatePaymentInfo', {
  method: 'POST', path: '/account/{uuid}/paymentinfo', ids: { '{uuid}': acctUser }, body: createBody,
  note: `The Account APIs document. \`Authorization: PLTOKEN\` with the tenant API key. ${acctCommon} Checks the document\'s sizes and Mandatory fields, the card (Luhn, not expired), then resolves the CVV token (from the CVV token service) and checks its CVV against the card\'s CVV2; the user\'s first card is the default.`,
  errors: '500 933 (card refused, as the document answers it: number `[23] …`, expired, CVV not the card\'s, already registered, orderId reused); 404 906 (the CVV token is unknown, used, expired or another tenant\'s); 400 914 (a field: the detail names it), 911 (does not decrypt), 912 (stale), 913 (replayed); 401 910',
});
const pid = acctCreated.data.paymentInfoId;
await account('Account: GetPaymentinfoByPaymentInfoID', { method: 'GET', path: '/account/{uuid}/paymentinfo/{paymentInfoId}', ids: { '{uuid}': acctUser, '{paymentInfoId}': pid },
  note: 'The card number is masked: the full PAN never leaves the vault through this API. `status` is `ACTIVE`, `INACTIVE` (expired) or `FRAUD`.', errors: '404 903' });
const upd = JSON.parse(JSON.stringify(createBody));
delete upd.paymentInfo.card.cardNum; upd.orderId = '4e260748-60d6-4985-80da-bfdf481bffdf'; upd.paymentInfo.card.cardExpYear = '2098';
upd.paymentInfo.card.cardCvvToken = cvvTokenFor('4111111111111111', '9808');
await account('Account: UpdatePaymentInfo', { method: 'PUT', path: '/account/{uuid}/paymentinfo/{paymentInfoId}', ids: { '{uuid}': acctUser, '{paymentInfoId}': pid }, body: upd,
  note: 'Everything but the card number, which cannot change. The card must exist (903) before the body is looked at; a fresh CVV token for the card\'s CVV with the new expiry.', errors: '500 975 (expired card, a FRAUD card, a CVV not the card\'s: counted as on re-verify); 404 903, 906; 400 914' });
await account('Account: GetPaymentInfo (list)', { method: 'GET', path: '/account/{uuid}/paymentinfo', ids: { '{uuid}': acctUser }, errors: '404 903 "This account\'s payment information does not exist" (no cards)' });
await account('Account: GetCardExpiries', { method: 'GET', path: '/account/{uuid}/paymentinfo/expiries', ids: { '{uuid}': acctUser },
  note: 'Cards that have expired or expire this month or next; `expired` tells which (`true`: past its expiry month, `false`: about to expire).', errors: '404 903 "This account payment information does not exist."' });
await account('Account: ReVerifyPaymentInfo', { method: 'POST', path: '/account/{uuid}/paymentinfo/{paymentInfoId}/verification', ids: { '{uuid}': acctUser, '{paymentInfoId}': pid },
  body: { orderId: 'f98a9325-89fb-4aa0-8ac9-30869b5f1a79', udid: '2083718938012321038243', paymentInfo: { paymentType: 'CreditCard', card: { cardCvvToken: cvvTokenFor('4111111111111111', '9808') } }, accessCountryCode: 'KR', ipAddress: '127.0.0.1' },
  note: 'Any fresh CVV token (here not the one given at create or update) whose CVV is the card\'s: `ACTIVE`. A token that is unknown, used, expired or another tenant\'s: 906 with `detail` null, as the document. A CVV that is not the card\'s: 906 with a detail; three in a row (re-verify or update) mark the card `FRAUD` (counted atomically in SQL across nodes), which then answers `FRAUD` to any CVV until the tenant resets it (`POST /account/{uuid}/paymentinfo/{paymentInfoId}/reset`, audited). A `cardCvvToken` of 3 or 4 digits only looks like a real CVV and is refused (914) on create, update and re-verify, before anything is derived from it.', errors: '404 906, 903' });
await account('Account: reset a FRAUD card (ours)', { method: 'POST', path: '/account/{uuid}/paymentinfo/{paymentInfoId}/reset', ids: { '{uuid}': acctUser, '{paymentInfoId}': pid },
  note: 'Not in the Account APIs document: the tenant\'s way back after CVV mismatches. A `FRAUD` card is `ACTIVE` again with no mismatch counted (an audit event `paysecure::audit`); any other card is left as it is.', errors: '404 903' });
await account('Account: DeletePaymentInfo', { method: 'DELETE', path: '/account/{uuid}/paymentinfo/{paymentInfoId}', ids: { '{uuid}': acctUser, '{paymentInfoId}': pid }, errors: '404 903' });
await account('Account: CancelPaymentInfoByOrderId', { method: 'DELETE', path: '/account/{uuid}/orders/{orderId}', ids: { '{uuid}': acctUser, '{orderId}': createBody.orderId },
  note: 'Deletes the card the order created (here already deleted above, hence 903, answered 400 as the document\'s "400 Not Found").', errors: '400 903 "This account payment information does not exist"' });
void dataKeyOut;

// Wallet provisioning (issue #17): a test Apple PKI and Mastercard key made
// with the OpenSSL CLI, configured through the CLI like a real tenant.
{
  const dir = mkdtempSync(path.join(os.tmpdir(), 'paysecure-doc-wallet-'));
  const f = (n) => path.join(dir, n);
  const ossl = (...a) => execFileSync('openssl', a, { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] });
  const cliRun = (...a) => execFileSync(BIN, ['--data-dir', data, '--master-key-file', `${data}/master.key`, ...a]).toString();
  for (const n of ['root', 'sub', 'leaf']) ossl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f(`${n}.key`));
  ossl('req', '-x509', '-new', '-key', f('root.key'), '-subj', '/CN=Docs Apple Root CA', '-days', '2',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign', '-out', f('root.pem'));
  writeFileSync(f('sub.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n');
  writeFileSync(f('leaf.ext'), 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,keyAgreement\n1.2.840.113635.100.6.39=ASN1:NULL\n');
  for (const [n, ca, caKey] of [['sub', 'root.pem', 'root.key'], ['leaf', 'sub.pem', 'sub.key']]) {
    ossl('req', '-new', '-key', f(`${n}.key`), '-subj', `/CN=Docs ${n}`, '-out', f(`${n}.csr`));
    ossl('x509', '-req', '-in', f(`${n}.csr`), '-CA', f(ca), '-CAkey', f(caKey), '-CAcreateserial', '-days', '2', '-extfile', f(`${n}.ext`), '-out', f(`${n}.pem`));
  }
  ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('mc.key'), '-out', f('mc.pem'), '-subj', '/CN=Docs Mastercard', '-days', '2');
  cliRun('tenant', 'wallet-apple-roots', tenantId, f('root.pem'));
  cliRun('tenant', 'wallet-tav-key', tenantId);
  cliRun('tenant', 'wallet-mastercard-key', tenantId, f('mc.pem'));
  const der = (n) => ossl('x509', '-in', f(`${n}.pem`), '-outform', 'DER').toString('base64');
  const walletKey = (await exchange('Ephemeral key for wallet provisioning', {
    method: 'POST', path: '/v2/ephemeral-keys', auth: apiKey,
    body: { token, scopes: ['digitize'], ttlSeconds: 120 },
    note: 'The scope `digitize` allows the two digitization routes below on this card, and nothing else.',
  })).json.key;
  const common = 'Tenant API key or an ephemeral key with the scope `digitize`; no `Session-Id` (the card is encrypted to the wallet provider\'s key). Checked in this order before any certificate or key work: credential and scope, the card (404), the card is active (409 `CARD_NOT_ACTIVE` for a PAN-only token or an expired card), the tenant\'s settings (409 `WALLET_NOT_CONFIGURED`), the request. Per-card rate limited; audited. Settings: `paysecure-server tenant wallet-apple-roots | wallet-apple-party-v | wallet-mastercard-key | wallet-tav-key TENANT …` (docs/protocol.md, "Wallet provisioning").';
  await exchange('Generate Apple Digitization Data (Apple Pay in-app provisioning)', {
    method: 'POST', path: `/v2/cards/${token}/digitization/apple`, auth: walletKey,
    body: { certificates: [der('leaf'), der('sub')], nonce: 'q83vEg==', nonceSignature: Buffer.from('device nonce signature, as PassKit hands it over').toString('base64') },
    note: `${common}\n\nThe body is what \`PKAddPaymentPassViewControllerDelegate\` hands the app, each \`Data\` in base64: \`certificates\` (leaf, sub-CA, optionally the root), \`nonce\`, \`nonceSignature\`. The chain must verify up to a configured Apple root (ECDSA, validity, CA flags, the leaf's marker extension 1.2.840.113635.100.6.39). The answer is the \`PKAddPaymentPassRequest\` for \`ECC_V2\`: \`encryptedPassData\` is AES-256-GCM (zero IV) of \`{"primaryAccountNumber","expiration":"MM/YY","name","nonce" (hex),"nonceSignature" (hex)}\` under the key derived (NIST SP 800-56A single-step KDF, SHA-256, OtherInfo \`0x0D "id-aes256-GCM" "Apple"\` + PartyVInfo) from ECDH between \`ephemeralPublicKey\` (uncompressed P-256 point) and the leaf's key; \`activationData\` is the TAV (below).`,
    errors: '400 `INVALID_REQUEST`, `INVALID_CERTIFICATE_CHAIN`, `UNTRUSTED_CERTIFICATE_CHAIN`, `CERTIFICATE_EXPIRED`, `INVALID_NONCE`, `INVALID_NONCE_SIGNATURE`; 401; 403; 404 `CARD_NOT_FOUND`; 409 `CARD_NOT_ACTIVE`, `WALLET_NOT_CONFIGURED`; 429',
  });
  await exchange('Generate MDES Digitization Data (TAV and encrypted card data)', {
    method: 'POST', path: `/v2/cards/${token}/digitization/mdes`, auth: walletKey,
    note: `${common}\n\n\`cardInfo\` is Mastercard field-level encryption with MDES's names, hex: AES-128-CBC/PKCS#7 of \`{"accountNumber","expiryMonth","expiryYear","source":"ACCOUNT_ON_FILE","cardholderName","dataValidUntilTimestamp"}\`, the AES key under RSA-OAEP SHA-512 with Mastercard's key (\`publicKeyFingerprint\`: SHA-256 of its certificate or public key, or as configured); \`mastercard-client-encryption\` opens it. The TAV is base64 of \`{"version":"3","signatureAlgorithm","includedFieldsInOrder":"accountNumber|expiryMonth|expiryYear|dataValidUntilTimestamp","dataValidUntilTimestamp","signature"}\`, the signature (ECDSA P-256 or RSA, SHA-256) over those values joined by \`|\` with the tenant's TAV key, whose public key \`tenant wallet-tav-key\` prints. Valid 15 minutes.`,
    errors: '401; 403; 404 `CARD_NOT_FOUND`; 409 `CARD_NOT_ACTIVE`, `WALLET_NOT_CONFIGURED`; 429',
  });
}

await exchange('A bad session id (every kind looks the same)', {
  method: 'POST', path: `/v2/cards/${token}/pan`, auth: apiKey, session: { sessionId: 'AAAA' },
  note: 'Non-canonical base64 (whitespace, missing padding), wrong size, bad padding, a wrong key inside, an unknown `Key-Id`, two `Session-Id` headers and a used session key (however re-encoded or re-wrapped) all give exactly this status, code and body: there is no padding oracle. V1 ids that are well-formed but do not decrypt do not fail at all (implicit rejection).',
});

await exchange('Unauthenticated', { method: 'GET', path: '/v2/cards', auth: 'psk_wrong', note: 'Five failed authentications from one client address in a day block it for a minute, ten for five minutes: then requests from it *without a valid credential* get 429 `RATE_LIMITED` with `Retry-After` (a valid credential always passes). The address is the TCP peer, or the client a trusted proxy names in `X-Forwarded-For` (see docs/deployment.md); IPv6 counts per /64. Separately, each credential and each card has a request rate (per node; defaults 500/s burst 1,000 and 20/s burst 60): past it, 429 `RATE_LIMITED` with `Retry-After`.' });
await exchange('Health', { method: 'GET', path: '/healthz', note: 'Liveness.' });
await exchange('Readiness', { method: 'GET', path: '/readyz', note: 'Database reachable and an active RSA key loaded; 503 `NOT_READY` otherwise.' });
await exchange('Metrics', { method: 'GET', path: '/metrics', note: 'Prometheus text format: `paysecure_http_requests_total` and `paysecure_http_request_duration_seconds` by method, route template and status.' });
await exchange('OpenAPI', { method: 'GET', path: '/openapi.json', note: 'OpenAPI 3.1, generated from the handlers\' annotations.' });

server.kill('SIGTERM');

const doc = [
  '# PaySecure API (paysecure-server)',
  '',
  '<!-- Generated by scripts/gen-api-doc.mjs from a real run; edit the script, not this file. -->',
  '',
  'The issuer side of PaySecure V1/V2/V3. Protocol details: [protocol.md](protocol.md).',
  '',
  '## Conventions',
  '',
  '* **Credentials**: `Authorization: Bearer <credential>`: the tenant\'s API key (`psk_…`, from',
  '  `paysecure-server tenant create NAME`, stored only as a hash) or an ephemeral key (`pse_…`, one card,',
  '  listed scopes, at most 15 minutes).',
  '* **Sessions**: cardholder-data calls carry `Session-Id: <session id>` (and optionally `Key-Id`).',
  '  `/v2/…` and `/v3/…` use RSA-OAEP (SHA-1) + AES-GCM, `/v1/…` RSAES-PKCS1-v1_5 + AES-CBC. A session id',
  '  is single use by the session key it unwraps to (`serve --allow-session-id-reuse` turns that off), must be',
  '  canonical padded base64, and is opened only after the credential, scope and card are checked. V1 is',
  '  off unless the tenant enables it (`tenant allow-v1`), uses its own key (`/v1/public-key`), never takes',
  '  ephemeral keys, and uses implicit rejection: a V1 id that does not decrypt opens a session under a',
  '  synthetic key instead of failing.',
  '* **Encrypted values** are `{ "data": base64, "iv": base64 }` under the session key, fresh IV per value,',
  '  in both directions.',
  '* **Errors** are one envelope, `{ "error": { "code", "message", "traceId" } }`, with `traceId` equal to',
  '  the `x-request-id` response header. Statuses: 400, 401, 403, 404, 405, 409, 413, 423, 429, 500, 503.',
  '  5xx details are logged, never returned.',
  '* Bodies are JSON, at most 64 KiB; requests time out after 15 s. The Paythru API (the Paythru v3 document) keeps its own',
  '  wire format: form bodies, XML or JSON answers, `errorCode` / `traceCode` / `errorMessage` errors.',
  '',
  '## Endpoints',
  '',
  '| endpoint | credential | session |',
  '| --- | --- | --- |',
  '| `GET /v2/public-key` | none | no |',
  '| `GET /v2/capture-key` | none | no |',
  '| `POST /v2/cards` (issue), `GET /v2/cards` (list) | tenant | no |',
  '| `POST /v2/ephemeral-keys` | tenant | no |',
  '| `POST /v2/cards/{token}/reveal` | tenant or `reveal` | yes |',
  '| `POST /v{1,2}/cards/{token}/pan` | tenant or `pan` | yes |',
  '| `POST /v{1,2}/cards/{token}/cvv2` | tenant or `cvv2` | yes |',
  '| `POST /v{1,2}/cards/{token}/pin` (get), `PUT …/pin` (set) | tenant or `pin:read` / `pin:write` | yes |',
  '| `POST /v{1,2}/cards/{token}/pin/verify` | tenant or `pin:verify` | yes |',
  '| `POST /v{1,2}/pin/verify` | tenant | yes |',
  '| `POST /v2/cards/{token}/pin/unblock` | tenant | no |',
  '| `POST /v2/cards/{token}/cvv2/verify` | tenant or `cvv2:verify` | yes |',
  '| `POST /v2/cards/{token}/cvv2/unblock` | tenant | no |',
  '| `POST /v2/cvv2/verify` | tenant | yes |',
  '| `POST /v{1,2,3}/tokens` | tenant | yes |',
  '| `POST /v2/cards/{token}/digitization/apple`, `POST /v2/cards/{token}/digitization/mdes` | tenant or `digitize` | no |',
  '| `POST /v3/token/{method}`, `POST /v3/token/{method}/{encoding}` (`xml`, `json`): Paythru v3 (the Paythru v3 document) | Paythru apiKey + apiPassword + shaSignature | no |',
  '| `POST /v3/clientpost/session`, `POST /v3/clientpost/session/{encoding}` | Paythru credentials | no |',
  '| `POST /v3/clientpost/card` (browser, CORS) | the session key, in the body | no |',
  '| `PUT /api/v2/card`, `GET` / `PATCH` / `DELETE /api/v2/card/{id}`, `PATCH /api/v2/card/{id}/suspend`, `PATCH /api/v2/card/{id}/activate`: Verifone-style (the Verifone Token Management document) | tenant | no |',
  '| `POST /pin-management/v2/cvv2`: Get CVV2 envelope (the PIN Management Get CVV2 document) | tenant or `cvv2` | recommended |',
  '| `DELETE /account/{uuid}/orders/{orderId}`, `POST` / `GET /account/{uuid}/paymentinfo`, `GET /account/{uuid}/paymentinfo/expiries`, `GET` / `PUT` / `DELETE /account/{uuid}/paymentinfo/{paymentInfoId}`, `POST /account/{uuid}/paymentinfo/{paymentInfoId}/verification`, `POST /account/{uuid}/paymentinfo/{paymentInfoId}/reset`: account API (the Account APIs document) | `PLTOKEN` tenant key | yes, or the tenant data key |',
  '| `POST /v2/cvv-tokens`: the CVV token service (`cardCVVToken`) | tenant | no |',
  '| `GET /healthz`, `/readyz`, `/metrics`, `/openapi.json` | none | no |',
  '',
  ...sections.flatMap((x) => [
    `### ${x.title}`,
    '',
    x.note,
    '',
    '```http',
    x.request,
    '```',
    '',
    `Response \`${x.status}\`:`,
    '',
    `\`\`\`${x.lang}`,
    x.response,
    '```',
    '',
    ...(x.errors ? [`Errors: ${x.errors}.`, ''] : []),
  ]),
].join('\n');
writeFileSync(path.join(root, 'docs', 'api.md'), doc);
console.log(`docs/api.md: ${sections.length} exchanges`);
