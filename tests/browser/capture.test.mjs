// Card capture in headless Chromium against a real paysecure-server: a
// merchant's checkout page encrypts the card with encryptCard (web build of
// the package) and hands on only the JWE. The checkout page and the
// merchant's backend are this file's own small server on http://localhost:M;
// the issuer API is the paysecure-server process on http://127.0.0.1:A: two
// origins, so the Client POST is a real cross-origin request (CORS preflight
// and all). Paths:
//   Client POST  the merchant's backend opens a session (signed Paythru
//                request), the browser posts the card to the issuer, the
//                backend calls tokeniseSessionKey and lookup;
//   Verifone     the browser posts the JWE to the merchant's backend, which
//                calls PUT /api/v2/card and GET /api/v2/card/{reuse_token};
//   stale        a card captured 16 minutes ago is refused on both.
// Every request the page sends, and every one the merchant's backend
// receives, is checked for the PAN; the server log for PANs, the CVV and the
// credentials. Screenshots of each state go to target/e2e-screenshots/.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, mkdirSync, openSync, readFileSync, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { createInterface } from 'node:readline';
import os from 'node:os';
import path from 'node:path';
import { launch, root } from './harness.mjs';

const BIN = path.join(root, 'target', 'debug', 'paysecure-server');
const shots = path.join(root, 'target', 'e2e-screenshots');
const dir = mkdtempSync(path.join(os.tmpdir(), 'paysecure-capture-'));
const data = path.join(dir, 'data');
const logFile = path.join(dir, 'server.log');
const YEAR = new Date().getFullYear() + 2;
const VISA = { number: '4444 3333 2222 1111', digits: '4444333322221111', masked: '444433******1111' };
const MC = { number: '5555 5555 5555 4444', digits: '5555555555554444' };
const CVV = '123';

let server, apiOrigin, merchant, merchantOrigin, browser;
let apiKey, tenantId, creds, cliStderr = '';
/** Bodies and URLs the merchant's backend received; JWEs it was handed. */
const received = { requests: [], cards: [] };

// ------------------------------------------------------------ merchant side

/** Lowercase hex SHA-512 of name=value+shaKey over the non-empty parameters but shaSignature, by name. */
function shaSignature(params, shaKey) {
  const names = Object.keys(params)
    .filter((k) => k !== 'shaSignature' && params[k] !== '')
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('sha512').update(names.map((n) => `${n}=${params[n]}${shaKey}`).join('')).digest('hex');
}

/** A signed Paythru request (form body), as the merchant's server makes it. */
async function paythru(p, params = {}) {
  const all = { ...params, apiKey: creds.apiKey, apiPassword: creds.apiPassword };
  all.shaSignature = shaSignature(all, creds.shaKey);
  const res = await fetch(`${apiOrigin}${p}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(all).toString(),
  });
  return { status: res.status, body: await res.json() };
}

/** The Verifone-style API with the tenant's API key. */
async function verifone(method, p, body) {
  const headers = { authorization: `Bearer ${apiKey}`, connection: 'close' };
  if (body) headers['content-type'] = 'application/json';
  const res = await fetch(`${apiOrigin}${p}`, { method, headers, body: body && JSON.stringify(body) });
  return { status: res.status, body: await res.json().catch(() => null) };
}

// The merchant's checkout page: no inline script or style, a CSP that lets it
// talk to its own origin and the issuer only.
const CHECKOUT_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Checkout</title>
<link rel="stylesheet" href="/checkout.css">
<script type="module" src="/checkout.js"></script>
</head>
<body>
<main>
<h1>Pay with a card</h1>
<form id="card" autocomplete="off">
  <label>Card number <input name="number" inputmode="numeric" autocomplete="cc-number"></label>
  <div class="row">
    <label>Month <input name="month" inputmode="numeric" size="2"></label>
    <label>Year <input name="year" inputmode="numeric" size="4"></label>
    <label>CVV <input name="cvv" inputmode="numeric" size="4"></label>
  </div>
  <label>Name on card <input name="name"></label>
  <button id="pay" type="submit">Save card</button>
</form>
<p id="result" role="status" data-state="idle"></p>
<p>Card: <span id="masked"></span></p>
</main>
</body>
</html>
`;

const CHECKOUT_CSS = `body { font: 16px system-ui, sans-serif; background: #f4f5f7; margin: 0; }
main { max-width: 420px; margin: 40px auto; background: #fff; padding: 24px; border-radius: 8px; }
label { display: block; margin: 8px 0; }
input { display: block; width: 100%; box-sizing: border-box; padding: 6px; font-size: 16px; }
.row { display: flex; gap: 8px; }
button { margin-top: 12px; padding: 8px 16px; font-size: 16px; }
#result[data-state="done"], #result[data-state="sent"] { color: #0a6b2d; }
#result[data-state="error"] { color: #b00020; }
`;

// ?session=KEY: Client POST to the issuer; else the JWE goes to the merchant's
// backend. ?api=ORIGIN the issuer; ?key=URL where the public key comes from;
// ?captureAgo=MS backdates the capture.
const CHECKOUT_JS = `import init, { encryptCard } from '/pkg/paysecure_wasm.js';

const q = new URLSearchParams(location.search);
const api = q.get('api');
const session = q.get('session');
const captureAgo = Number(q.get('captureAgo') || 0);
const form = document.getElementById('card');
const result = document.getElementById('result');
const show = (state, text) => { result.dataset.state = state; result.textContent = text; };

await init();
// The issuer's card-capture key, read cross-origin (GET /v2/capture-key allows any origin).
const { publicKey, keyId } = await (await fetch(api + '/v2/capture-key')).json();

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const f = form.elements;
  let encryptedCard;
  try {
    encryptedCard = encryptCard(
      { cardNumber: f.number.value, expiryMonth: f.month.value, expiryYear: f.year.value, cvv: f.cvv.value, cardholderName: f.name.value },
      publicKey, { keyAlias: keyId, captureTime: Date.now() - captureAgo });
  } catch (e) {
    show('error', e.code || e.message);
    return;
  }
  // The page keeps only the JWE.
  f.number.value = '';
  f.cvv.value = '';
  try {
    if (session) {
      const res = await fetch(api + '/v3/clientpost/card', {
        method: 'POST', credentials: 'omit',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sessionKey: session, encryptedCard }),
      });
      const body = await res.json();
      window.__capture = { status: res.status, body };
      if (!res.ok) return show('error', body.error.code);
      document.getElementById('masked').textContent = body.card.maskedPan;
      show('done', 'Saved ' + body.card.brand + ' ' + body.card.maskedPan + ', expires ' + String(body.card.expiryMonth).padStart(2, '0') + '/' + body.card.expiryYear);
    } else {
      const res = await fetch('/merchant/cards', {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ encryptedCard }),
      });
      show(res.ok ? 'sent' : 'error', res.ok ? 'Card sent to the shop' : 'The shop refused the card');
    }
  } catch (e) {
    show('error', String(e));
  }
});
document.body.dataset.ready = 'true';
`;

const TYPES = { '.js': 'text/javascript; charset=utf-8', '.wasm': 'application/wasm', '.json': 'application/json' };

/** The merchant's web server: checkout page, the web build at /pkg/, and its backend. */
function startMerchant() {
  const srv = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks).toString();
    received.requests.push({ method: req.method, url: req.url, body });
    const url = new URL(req.url, 'http://merchant');
    const headers = {
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'content-security-policy': `default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; connect-src 'self' ${apiOrigin}; frame-ancestors 'none'`,
    };
    const send = (status, type, text) => res.writeHead(status, { ...headers, 'content-type': type }).end(text);
    if (req.method === 'GET' && url.pathname === '/checkout.html') return send(200, 'text/html; charset=utf-8', CHECKOUT_HTML);
    if (req.method === 'GET' && url.pathname === '/checkout.js') return send(200, TYPES['.js'], CHECKOUT_JS);
    if (req.method === 'GET' && url.pathname === '/checkout.css') return send(200, 'text/css; charset=utf-8', CHECKOUT_CSS);
    if (req.method === 'GET' && url.pathname.startsWith('/pkg/')) {
      const name = path.basename(url.pathname);
      const type = TYPES[path.extname(name)];
      if (!type) return send(404, 'text/plain', 'not found');
      return readFile(path.join(root, 'pkg', 'paysecure-wasm', name)).then(
        (buf) => res.writeHead(200, { ...headers, 'content-type': type }).end(buf),
        () => send(404, 'text/plain', 'not found'),
      );
    }
    if (req.method === 'POST' && url.pathname === '/merchant/cards') {
      const { encryptedCard } = JSON.parse(body);
      received.cards.push(encryptedCard);
      return send(202, TYPES['.json'], JSON.stringify({ received: true }));
    }
    send(404, 'text/plain', 'not found');
  });
  return new Promise((ok, fail) => {
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => ok(srv));
  });
}

// ------------------------------------------------------------ browser side

/** A fresh context on the checkout page; records every request the page sends. */
async function checkout(query) {
  const context = await browser.newContext({ viewport: { width: 800, height: 700 } });
  const page = await context.newPage();
  const errors = [];
  const requests = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => requests.push({ method: r.method(), url: r.url(), body: r.postData() ?? '' }));
  await page.goto(`${merchantOrigin}/checkout.html?${new URLSearchParams({ api: apiOrigin, ...query })}`);
  await page.waitForSelector('body[data-ready="true"]');
  return { page, context, errors, requests };
}

async function typeCard(page, card, name) {
  await page.fill('input[name="number"]', card.number);
  await page.fill('input[name="month"]', '12');
  await page.fill('input[name="year"]', String(YEAR));
  await page.fill('input[name="cvv"]', CVV);
  await page.fill('input[name="name"]', name);
}

const shot = (page, name) => page.screenshot({ path: path.join(shots, `${name}.png`) });

/** The PAN (digits or grouped), and the CVV as JSON, are nowhere in `requests`. */
function assertNoCard(requests, pan) {
  const grouped = pan.replace(/(.{4})(?=.)/g, '$1 ');
  for (const r of requests) {
    for (const text of [r.url, decodeURIComponent(r.url), r.body]) {
      assert.ok(!text.includes(pan) && !text.includes(grouped), `the PAN is in ${r.method} ${r.url.split('?')[0]}`);
      assert.ok(!text.includes(`"cvv":"${CVV}"`), `the CVV is in ${r.method} ${r.url.split('?')[0]}`);
    }
  }
}

function cli(...args) {
  const r = spawnSync(BIN, ['--data-dir', data, '--master-key-file', `${data}/master.key`, ...args], { cwd: root, encoding: 'utf8' });
  cliStderr += r.stderr;
  assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim().split('\n');
}

before(async () => {
  assert.ok(existsSync(BIN), `${BIN} missing: cargo build -p paysecure-server`);
  assert.ok(existsSync(path.join(root, 'pkg', 'paysecure-wasm', 'paysecure_wasm.js')), 'pkg/paysecure-wasm missing: bash scripts/build.sh');
  mkdirSync(shots, { recursive: true });
  const made = cli('tenant', 'create', 'Capture Shop');
  tenantId = made[0].match(/tenant (ten_\S+) created/)[1];
  apiKey = made.at(-1);
  creds = Object.fromEntries(cli('tenant', 'paythru-credentials', tenantId).filter((l) => l.includes('=')).map((l) => l.split(/=(.*)/s, 2)));
  assert.deepEqual(Object.keys(creds).sort(), ['apiKey', 'apiPassword', 'shaKey']);
  server = spawn(BIN, ['--data-dir', data, '--master-key-file', `${data}/master.key`, '--log-format', 'json', 'serve', '--listen', '127.0.0.1:0'], {
    cwd: root,
    stdio: ['ignore', 'pipe', openSync(logFile, 'w')],
    env: { ...process.env, RUST_LOG: 'debug' },
  });
  const line = await new Promise((ok, fail) => {
    createInterface({ input: server.stdout }).once('line', ok);
    server.once('exit', (c) => fail(new Error(`server exited ${c}`)));
  });
  apiOrigin = line.trim().split(' ').pop();
  merchant = await startMerchant();
  merchantOrigin = `http://localhost:${merchant.address().port}`;
  assert.notEqual(new URL(merchantOrigin).origin, new URL(apiOrigin).origin);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await new Promise((ok) => (merchant ? merchant.close(ok) : ok()));
  if (server && server.exitCode === null) {
    const exited = new Promise((ok) => server.once('exit', ok));
    server.kill('SIGTERM');
    await exited;
  }
});

// ------------------------------------------------------------------- tests

test('Client POST: the browser posts the encrypted card cross-origin; the merchant tokenises the session', async () => {
  const ref = `cust-${randomUUID().slice(0, 8)}`;
  const opened = await paythru('/v3/clientpost/session/json', { merchantCustomerReference: ref });
  assert.equal(opened.status, 200, JSON.stringify(opened.body));
  const { sessionKey, expiresAt } = opened.body;
  assert.match(sessionKey, /^[A-Za-z0-9]{40}$/);
  assert.ok(Date.parse(expiresAt) > Date.now());

  const { page, context, errors, requests } = await checkout({ session: sessionKey });
  await typeCard(page, VISA, 'MR J HOLDER');
  await shot(page, 'capture-01-form');
  await page.click('#pay');
  await page.waitForSelector('#result[data-state="done"], #result[data-state="error"]');
  const capture = await page.evaluate(() => window.__capture);
  assert.equal(capture.status, 200, JSON.stringify(capture.body));
  assert.deepEqual(capture.body, {
    result: 'OK',
    card: { maskedPan: VISA.masked, expiryMonth: 12, expiryYear: YEAR, brand: 'VISA' },
  });
  assert.equal(await page.textContent('#masked'), VISA.masked);
  assert.equal(await page.inputValue('input[name="number"]'), '');
  assert.equal(await page.inputValue('input[name="cvv"]'), '');
  await shot(page, 'capture-02-saved');

  // What went over the wire: a preflight, then the JWE, to the issuer's origin.
  const toApi = requests.filter((r) => r.url.startsWith(apiOrigin));
  // The page talks to the issuer only for its capture key and to capture
  // (preflights are not page requests).
  assert.deepEqual(toApi.map((r) => `${r.method} ${r.url.slice(apiOrigin.length)}`),
    ['GET /v2/capture-key', 'POST /v3/clientpost/card'], 'the session key is not in any URL');
  const sent = JSON.parse(toApi[1].body);
  assert.deepEqual(Object.keys(sent), ['sessionKey', 'encryptedCard']);
  assert.equal(sent.sessionKey, sessionKey);
  assert.equal(sent.encryptedCard.split('.').length, 5);
  assert.ok(requests.some((r) => r.url.startsWith(`${merchantOrigin}/pkg/`)), 'the package came from the merchant origin');
  assertNoCard(requests, VISA.digits);
  assertNoCard(received.requests, VISA.digits);
  assert.deepEqual(errors, []);
  await context.close();

  // The merchant's backend tokenises the session...
  const t = await paythru('/v3/token/tokeniseSessionKey/json', { sessionKey });
  assert.equal(t.status, 200, JSON.stringify(t.body));
  const d = t.body.cardKeyDetails['0'];
  assert.deepEqual(Object.keys(t.body.cardKeyDetails), ['0']);
  assert.match(d.cardKey, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal(d.merchantCustomerReference, ref);
  assert.equal(d.enabled, '0', 'a new Paythru token is created disabled (a48510b)');
  assert.equal(d.card.cardNumber, VISA.masked);
  assert.equal(d.card.cardholderName, 'MR J HOLDER');
  assert.equal(d.card.cardExpiryMonth, '12');
  assert.equal(d.card.cardExpiryYear, String(YEAR));
  // ... once.
  const again = await paythru('/v3/token/tokeniseSessionKey/json', { sessionKey });
  assert.equal(again.status, 400);
  assert.equal(again.body.errorCode, '151');

  // Lookup by reference and by card key: the same masked card.
  for (const by of [{ merchantCustomerReference: ref }, { cardKey: d.cardKey }]) {
    const l = await paythru('/v3/token/lookup/json', by);
    assert.equal(l.status, 200, JSON.stringify(l.body));
    const got = l.body.cardKeyDetails['0'];
    assert.equal(got.cardKey, d.cardKey);
    assert.equal(got.cardUniqueIdentifier, d.cardUniqueIdentifier);
    assert.equal(got.merchantCustomerReference, ref);
    assert.equal(got.enabled, '0');
    assert.equal(got.card.cardNumber, VISA.masked);
    assert.equal(got.card.cardholderName, 'MR J HOLDER');
  }
});

test('Verifone: the page hands the JWE to the merchant, whose server makes a reuse token', async () => {
  const { page, context, errors, requests } = await checkout({});
  const count = received.cards.length;
  await typeCard(page, MC, 'MS A BUYER');
  await page.click('#pay');
  await page.waitForSelector('#result[data-state="sent"], #result[data-state="error"]');
  assert.equal(await page.textContent('#result'), 'Card sent to the shop');
  await shot(page, 'capture-03-sent');
  assert.equal(received.cards.length, count + 1);
  const encryptedCard = received.cards.at(-1);
  assert.deepEqual(requests.filter((r) => r.url.startsWith(apiOrigin)).map((r) => r.url.slice(apiOrigin.length)),
    ['/v2/capture-key'], 'the page called the issuer only for its capture key');
  assertNoCard(requests, MC.digits);
  assertNoCard(received.requests, MC.digits);
  assert.deepEqual(errors, []);
  await context.close();

  const keyId = (await (await fetch(`${apiOrigin}/v2/capture-key`)).json()).keyId;
  const scope = randomUUID();
  const put = await verifone('PUT', '/api/v2/card', { token_scope: scope, encrypted_card: encryptedCard, public_key_alias: keyId });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  const v = put.body;
  assert.equal(v.bin, '555555');
  assert.equal(v.last_four, '4444');
  assert.equal(v.brand, 'MASTERCARD');
  assert.equal(v.token_status, 'ACTIVE');
  assert.equal(v.expiry_month, 12);
  assert.equal(v.expiry_year, YEAR);
  assert.equal(v.card_holder_name, 'MS A BUYER');
  assert.equal(v.token_scope, scope);
  assert.ok(v.reuse_token.length >= 14 && v.analytics_token);
  assert.ok(!JSON.stringify(v).includes(MC.digits));
  const got = await verifone('GET', `/api/v2/card/${encodeURIComponent(v.reuse_token)}`);
  assert.equal(got.status, 200, JSON.stringify(got.body));
  assert.deepEqual(got.body, v);
});

test('a card captured 16 minutes ago is refused: CAPTURE_EXPIRED on PUT and on the Client POST', async () => {
  const captureAgo = String(16 * 60 * 1000);
  // Verifone: through the merchant's backend.
  let { page, context, errors, requests } = await checkout({ captureAgo });
  await typeCard(page, MC, 'MS A BUYER');
  await page.click('#pay');
  await page.waitForSelector('#result[data-state="sent"]');
  assertNoCard(requests, MC.digits);
  assert.deepEqual(errors, []);
  await context.close();
  const keyId = (await (await fetch(`${apiOrigin}/v2/capture-key`)).json()).keyId;
  const put = await verifone('PUT', '/api/v2/card', { token_scope: randomUUID(), encrypted_card: received.cards.at(-1), public_key_alias: keyId });
  assert.equal(put.status, 400, JSON.stringify(put.body));
  assert.equal(put.body.error.code, 'CAPTURE_EXPIRED');

  // Client POST: the page reads the refusal (CORS applies to errors too).
  const { sessionKey } = (await paythru('/v3/clientpost/session/json')).body;
  ({ page, context, errors, requests } = await checkout({ session: sessionKey, captureAgo }));
  await typeCard(page, VISA, 'MR J HOLDER');
  await page.click('#pay');
  await page.waitForSelector('#result[data-state="error"]');
  assert.equal(await page.textContent('#result'), 'CAPTURE_EXPIRED');
  assert.equal((await page.evaluate(() => window.__capture)).status, 400);
  assert.equal(await page.textContent('#masked'), '');
  await shot(page, 'capture-04-expired');
  assertNoCard(requests, VISA.digits);
  assert.deepEqual(errors, []);
  await context.close();
  // Nothing was captured for that session.
  const t = await paythru('/v3/token/tokeniseSessionKey/json', { sessionKey });
  assert.equal(t.status, 400);
  assert.equal(t.body.errorCode, '151');
});

test('the merchant page reads GET /v2/capture-key from the issuer origin itself (CORS)', async () => {
  const { page, context } = await checkout({});
  try {
    const got = await page.evaluate(async (api) => (await (await fetch(`${api}/v2/capture-key`)).json()).keyId, apiOrigin);
    assert.match(got, /^rsa-/);
  } finally {
    await context.close();
  }
});

test('the server log carries no PAN, CVV, shaKey, API password or API key', async () => {
  const log = readFileSync(logFile, 'utf8') + cliStderr;
  assert.match(log, /"path":"\/api\/v2\/card"/, 'the requests were logged');
  assert.match(log, /\/v3\/token\/tokeniseSessionKey\/json/);
  // The capture was cross-origin for real: Chromium sent the CORS preflight.
  assert.match(log, /"method":"OPTIONS","path":"\/v3\/clientpost\/card"/);
  for (const [what, secret] of [
    ['a Visa PAN', VISA.digits],
    ['a Visa PAN (grouped)', VISA.number],
    ['a Mastercard PAN', MC.digits],
    ['a Mastercard PAN (grouped)', MC.number],
    ['the CVV', `"cvv":"${CVV}"`],
    ['the CVV (escaped)', `\\"cvv\\":\\"${CVV}\\"`],
    ['the shaKey', creds.shaKey],
    ['the API password', creds.apiPassword],
    ['the tenant API key', apiKey],
  ]) {
    assert.ok(!log.includes(secret), `${what} is in the server log`);
  }
});
