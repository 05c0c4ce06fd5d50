// The account payment-information API in headless Chromium against
// a real paysecure-server. A merchant's account page (this file's own small
// server on http://localhost:M) loads the web build, reads the issuer's
// public key cross-origin from http://127.0.0.1:A (GET /v2/public-key allows
// any origin) and, per call, makes a fresh PaySecure session
// (Session.create), encrypts the path ids and the data= form field with
// session.encryptBody and decrypts the answer with session.decryptBody.
//
// The /account/... routes send no CORS headers, so a page on another origin
// cannot call them itself (checked below). The page therefore calls its own
// origin, and the merchant's server relays /account/* to the issuer verbatim
// (method, Authorization, Session-Id, Content-Type, body): it passes on
// opaque hex it cannot read, and that is asserted. Paths:
//   lifecycle  create, get (every field), update, list, re-verify with a
//              fresh token (not the create's or the update's) and a used one,
//              expiries, delete, get -> 903;
//   refusals   a flipped hex digit in an id or in data= (911), the same
//              request sent twice (its Session-Id is single use: 911), a
//              wrong PLTOKEN (910), cancel by order id;
// Every request the page sends and every one the relay handles is checked for
// the PAN and the cardholder's e-mail; the server log for those, the API key
// and the session ids. Screenshots go to target/e2e-screenshots/.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, mkdirSync, openSync, readFileSync, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { createInterface } from 'node:readline';
import os from 'node:os';
import path from 'node:path';
import { launch, root } from './harness.mjs';

const BIN = path.join(root, 'target', 'debug', 'paysecure-server');
const shots = path.join(root, 'target', 'e2e-screenshots');
const dir = mkdtempSync(path.join(os.tmpdir(), 'paysecure-account-'));
const data = path.join(dir, 'data');
const logFile = path.join(dir, 'server.log');

const PAN = '4111111111111111';
const MASKED = '411111******1111';
const EMAIL = 'abc@xyz.com';
/** Every CVV token minted (one use each): none may reach the log. */
const minted = [];
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const US_DATE_RE = /^(\d{2})\/(\d{2})\/(\d{4}) (\d{2}):(\d{2}):(\d{2})$/;
const HEX_RE = /^[0-9a-f]+$/;

let server, apiOrigin, merchant, merchantOrigin, browser;
let apiKey, tenantId, cliStderr = '';
/** What the merchant's relay passed on: request and answer, as it saw them. */
const relayed = [];
/** Every request the merchant's server received (page, assets, relay). */
const received = [];

// ------------------------------------------------------------ the seed's bodies

/** The account API document's CreatePaymentInfo example (server/tests/it/accounts.rs seed_create). */
function seedCreate(orderId, token, year = '2099') {
  return {
    orderId,
    udid: '2083718938012321038243',
    billingInfo: {
      firstName: 'John',
      lastName: 'Doe',
      dateOfBirth: '19870704',
      phoneNumber: '1234567890',
      emailAddress: EMAIL,
      addressInfo: {
        street: '18th Floore Prtlan House',
        street2: 'Bressenden Place',
        city: 'Victoria',
        state: 'London',
        postalCode: 'SW1E 5RS',
        countryCode: 'GB',
      },
    },
    paymentInfo: {
      paymentType: 'CreditCard',
      isDefault: true,
      card: {
        cardNum: PAN,
        cardExpYear: year,
        cardExpMonth: '08',
        cardHolder: 'John Doe',
        cardNickName: 'Card1',
        cardCvvToken: token,
      },
    },
    accessCountryCode: 'GB',
    ipAddress: '127.0.0.1',
  };
}

/** Seed 003's ReVerifyPaymentInfo example. */
function seedReverify(token) {
  return {
    orderId: 'f98a9325-89fb-4aa0-8ac9-30869b5f1a79',
    udid: '2083718938012321038243',
    paymentInfo: { paymentType: 'CreditCard', card: { cardCvvToken: token } },
    accessCountryCode: 'KR',
    ipAddress: '127.0.0.1',
  };
}

/** `MM/dd/yyyy HH:mm:ss` (UTC) within two minutes of now. */
function assertRecent(text, what) {
  const m = US_DATE_RE.exec(text);
  assert.ok(m, `${what} ${JSON.stringify(text)} is not MM/dd/yyyy HH:mm:ss`);
  const [, mo, d, y, h, mi, s] = m.map(Number);
  const t = Date.UTC(y, mo - 1, d, h, mi, s);
  assert.ok(Math.abs(Date.now() - t) < 120_000, `${what} ${text} is not now (UTC)`);
}

// ------------------------------------------------------------ merchant side

const ACCOUNT_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>My cards</title>
<link rel="stylesheet" href="/account.css">
<script type="module" src="/account.js"></script>
</head>
<body>
<main>
<h1>My saved cards</h1>
<p id="card">No card loaded</p>
<table>
<thead><tr><th>#</th><th>Call</th><th>Status</th><th>Result</th></tr></thead>
<tbody id="log"></tbody>
</table>
</main>
</body>
</html>
`;

const ACCOUNT_CSS = `body { font: 14px system-ui, sans-serif; background: #f4f5f7; margin: 0; }
main { max-width: 760px; margin: 24px auto; background: #fff; padding: 20px 24px; border-radius: 8px; }
#card { font: 16px ui-monospace, monospace; padding: 8px; background: #eef2f7; border-radius: 4px; }
table { width: 100%; border-collapse: collapse; margin-top: 12px; }
th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #e3e5e8; }
td:nth-child(2) { font-family: ui-monospace, monospace; }
tr[data-ok="true"] td:nth-child(3) { color: #0a6b2d; }
tr[data-ok="false"] td:nth-child(3) { color: #b00020; }
`;

// #api=ORIGIN the issuer (for its public key); #key=TOKEN the tenant's API key
// (a test page: in the fragment, so it is never sent to any server).
// window.accountCall(method, template, ids, data, opts): template has {u},
// {p}, {o} slots for ids encrypted here; data is encrypted into data=.
// opts.times sends the very same request that many times (answers as a
// list); opts.tamper flips a hex digit of an encrypted id slot or of 'data';
// opts.token overrides the PLTOKEN; opts.direct calls the issuer origin
// itself instead of the merchant's relay.
const ACCOUNT_JS = `import init, { Session } from '/pkg/paysecure_wasm.js';

const q = new URLSearchParams(location.hash.slice(1));
const api = q.get('api');
const token = q.get('key');
const log = document.getElementById('log');

await init();
const { publicKey } = await (await fetch(api + '/v2/public-key')).json();

/** Changes the hex digit in the middle (in the ciphertext): still hex, no longer authentic. */
const flip = (hex) => {
  const i = hex.length >> 1;
  return hex.slice(0, i) + (hex[i] === '0' ? '1' : '0') + hex.slice(i + 1);
};

function row(method, template, status, json) {
  const tr = document.createElement('tr');
  tr.dataset.ok = String(status === 200);
  const result = status === 200 ? Object.keys(json.data).join(', ') : json.error.code + ' ' + json.error.message;
  for (const text of [String(log.children.length + 1), method + ' ' + template, String(status), result]) {
    const td = document.createElement('td');
    td.textContent = text;
    tr.append(td);
  }
  log.append(tr);
  const card = status === 200 && json.data.paymentInfo && json.data.paymentInfo.card;
  if (card) {
    document.getElementById('card').textContent =
      card.cardBrand + ' ' + card.cardNum + '  ' + card.cardExpMonth + '/' + card.cardExpYear + '  ' + card.cardHolder + ' (' + card.cardNickName + ') ' + json.data.status;
  }
}

window.accountCall = async (method, template, ids = {}, data = null, opts = {}) => {
  const s = Session.create(publicKey);
  try {
    let p = template;
    for (const [slot, id] of Object.entries(ids)) {
      const hex = s.encryptBody(id);
      p = p.replace('{' + slot + '}', opts.tamper === slot ? flip(hex) : hex);
    }
    const headers = { 'Authorization': 'PLTOKEN ' + (opts.token ?? token), 'Session-Id': s.sessionId };
    let body;
    if (data !== null) {
      const hex = s.encryptBody(JSON.stringify(data));
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams({ data: opts.tamper === 'data' ? flip(hex) : hex }).toString();
    }
    const url = (opts.direct ? api : '') + p;
    const answers = [];
    for (let i = 0; i < (opts.times ?? 1); i++) {
      let res;
      try {
        res = await fetch(url, { method, headers, body, credentials: 'omit' });
      } catch (e) {
        answers.push({ status: 0, error: String(e) });
        continue;
      }
      const text = await res.text();
      const json = res.status === 200 ? JSON.parse(s.decryptBody(text)) : JSON.parse(text);
      answers.push({ status: res.status, contentType: res.headers.get('content-type'), hex: res.status === 200 && /^[0-9a-f]+$/.test(text), json });
      row(method, template, res.status, json);
    }
    return opts.times ? answers : answers[0];
  } finally {
    s.free();
  }
};
document.body.dataset.ready = 'true';
`;

const TYPES = { '.js': 'text/javascript; charset=utf-8', '.wasm': 'application/wasm', '.json': 'application/json' };
const RELAYED_HEADERS = ['authorization', 'session-id', 'content-type'];

/** The merchant's web server: the account page, the web build at /pkg/, and the /account/* relay. */
function startMerchant() {
  const srv = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks).toString();
    received.push({ method: req.method, url: req.url, body });
    const url = new URL(req.url, 'http://merchant');
    const headers = {
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'content-security-policy': `default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; connect-src 'self' ${apiOrigin}; frame-ancestors 'none'`,
    };
    const send = (status, type, text) => res.writeHead(status, { ...headers, 'content-type': type }).end(text);
    if (req.method === 'GET' && url.pathname === '/account.html') return send(200, 'text/html; charset=utf-8', ACCOUNT_HTML);
    if (req.method === 'GET' && url.pathname === '/account.js') return send(200, TYPES['.js'], ACCOUNT_JS);
    if (req.method === 'GET' && url.pathname === '/account.css') return send(200, 'text/css; charset=utf-8', ACCOUNT_CSS);
    if (req.method === 'GET' && url.pathname.startsWith('/pkg/')) {
      const name = path.basename(url.pathname);
      const type = TYPES[path.extname(name)];
      if (!type) return send(404, 'text/plain', 'not found');
      return readFile(path.join(root, 'pkg', 'paysecure-wasm', name)).then(
        (buf) => res.writeHead(200, { ...headers, 'content-type': type }).end(buf),
        () => send(404, 'text/plain', 'not found'),
      );
    }
    if (url.pathname.startsWith('/account/')) {
      // The relay: the request as it came (it cannot read the ids or data=),
      // the answer as it went.
      const fwd = {};
      for (const h of RELAYED_HEADERS) if (req.headers[h] !== undefined) fwd[h] = req.headers[h];
      const seen = { method: req.method, url: req.url, headers: fwd, body };
      relayed.push(seen);
      try {
        const up = await fetch(`${apiOrigin}${req.url}`, {
          method: req.method,
          headers: fwd,
          body: ['GET', 'HEAD'].includes(req.method) ? undefined : body,
        });
        seen.status = up.status;
        seen.contentType = up.headers.get('content-type');
        seen.answer = await up.text();
        return res.writeHead(up.status, { ...headers, 'content-type': seen.contentType }).end(seen.answer);
      } catch (e) {
        seen.status = 502;
        return send(502, 'text/plain', String(e));
      }
    }
    send(404, 'text/plain', 'not found');
  });
  return new Promise((ok, fail) => {
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => ok(srv));
  });
}

// ------------------------------------------------------------ browser side

/** A fresh context on the account page; records every request the page sends. */
async function accountPage() {
  const context = await browser.newContext({ viewport: { width: 820, height: 760 } });
  const page = await context.newPage();
  const errors = [];
  const requests = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => requests.push({ method: r.method(), url: r.url(), body: r.postData() ?? '' }));
  await page.goto(`${merchantOrigin}/account.html#${new URLSearchParams({ api: apiOrigin, key: apiKey })}`);
  await page.waitForSelector('body[data-ready="true"]');
  const call = (method, template, ids, body = null, opts = {}) =>
    page.evaluate(([m, t, i, b, o]) => window.accountCall(m, t, i, b, o), [method, template, ids, body, opts]);
  return { page, context, errors, requests, call };
}

const shot = (page, name) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });

/** Neither the PAN nor the cardholder's e-mail is anywhere in `items` (URL, decoded URL, body, answer). */
function assertNoSecrets(items, where) {
  const atEmail = encodeURIComponent(EMAIL);
  for (const r of items) {
    const texts = [r.url, decodeURIComponent(r.url), r.body ?? '', r.answer ?? '', JSON.stringify(r.headers ?? {})];
    for (const text of texts) {
      assert.ok(!text.includes(PAN), `the PAN is in ${where}: ${r.method} ${r.url.split('?')[0].slice(0, 60)}`);
      assert.ok(!text.includes(EMAIL) && !text.includes(atEmail), `the e-mail is in ${where}: ${r.method} ${r.url.slice(0, 60)}`);
    }
  }
}

/** Every /account/ request: path ids and data= are hex; every 200 answer is hex text. */
function assertOpaque(items, where) {
  const words = new Set(['account', 'paymentinfo', 'orders', 'verification', 'expiries']);
  for (const r of items) {
    const u = new URL(r.url, 'http://x');
    if (!u.pathname.startsWith('/account/')) continue;
    assert.equal(u.search, '', `${where}: no query string`);
    for (const seg of u.pathname.split('/').filter(Boolean)) {
      assert.ok(words.has(seg) || HEX_RE.test(seg), `${where}: path segment ${seg.slice(0, 20)}... is not hex`);
    }
    if (r.body) assert.match(r.body, /^data=[0-9a-f]+$/, `${where}: the body is not data=<hex>`);
    if (r.status === 200) {
      assert.match(r.answer, HEX_RE, `${where}: a 200 answer is not hex`);
      assert.equal(r.contentType, 'text/plain; charset=utf-8');
    }
  }
}

/** A CVV token for the card's own CVV (expiry YYMM), from the sandbox CLI
 * (`tenant cvv-token`): the card number on standard input, the CVV never shown. */
function cvvToken(yymm) {
  const r = spawnSync(BIN, ['--data-dir', data, '--master-key-file', `${data}/master.key`, 'tenant', 'cvv-token', tenantId, '--expiry', yymm],
    { cwd: root, encoding: 'utf8', input: `${PAN}\n` });
  cliStderr += r.stderr;
  assert.equal(r.status, 0, r.stderr);
  const token = r.stdout.trim();
  assert.match(token, /^\d{20}$/);
  minted.push(token);
  return token;
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
  const made = cli('tenant', 'create', 'Account Shop');
  assert.match(made[0], /tenant (ten_\S+) created/);
  tenantId = /tenant (ten_\S+) created/.exec(made[0])[1];
  apiKey = made.at(-1);
  assert.match(apiKey, /^psk_/);
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

test('/account/ sends no CORS headers: a page on another origin cannot call it, so the merchant relays it', async () => {
  // The preflight Chromium would send: no Access-Control-Allow-Origin.
  const pre = await fetch(`${apiOrigin}/account/00/paymentinfo`, {
    method: 'OPTIONS',
    headers: {
      origin: merchantOrigin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization,content-type,session-id',
    },
  });
  assert.equal(pre.headers.get('access-control-allow-origin'), null);
  // The public key, by contrast, is readable from anywhere.
  const pk = await fetch(`${apiOrigin}/v2/public-key`, { headers: { origin: merchantOrigin } });
  assert.equal(pk.headers.get('access-control-allow-origin'), '*');

  const { context, errors, call } = await accountPage();
  try {
    const direct = await call('GET', '/account/{u}/paymentinfo', { u: randomUUID() }, null, { direct: true });
    assert.equal(direct.status, 0, 'a cross-origin call to /account/ must fail in the browser');
    assert.match(direct.error, /TypeError/);
    // Through the merchant's relay the same call reaches the server (no cards yet: 903).
    const relayedCall = await call('GET', '/account/{u}/paymentinfo', { u: randomUUID() });
    assert.equal(relayedCall.status, 404);
    assert.equal(relayedCall.json.error.code, 903);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('lifecycle in the browser: create, get, update, list, re-verify, expiries, delete', async () => {
  const { page, context, errors, requests, call } = await accountPage();
  const user = randomUUID();
  const order = randomUUID();
  const created = seedCreate(order, cvvToken('9908'));
  const before = relayed.length;

  // CreatePaymentInfo.
  const c = await call('POST', '/account/{u}/paymentinfo', { u: user }, created);
  assert.equal(c.status, 200, JSON.stringify(c.json));
  assert.equal(c.contentType, 'text/plain; charset=utf-8');
  assert.ok(c.hex, 'the answer is hex');
  assert.deepEqual(Object.keys(c.json.data).sort(), ['paymentInfoId', 'registeredDate', 'uuid']);
  assert.equal(c.json.data.uuid, user);
  const id = c.json.data.paymentInfoId;
  assert.match(id, UUID_RE);
  assertRecent(c.json.data.registeredDate, 'registeredDate');

  // GetPaymentinfoByPaymentInfoID: every field; the card masked.
  const g = await call('GET', '/account/{u}/paymentinfo/{p}', { u: user, p: id });
  assert.equal(g.status, 200, JSON.stringify(g.json));
  assert.deepEqual(g.json, {
    data: {
      uuid: user,
      paymentInfoId: id,
      status: 'ACTIVE',
      billingInfo: created.billingInfo,
      paymentInfo: {
        paymentType: 'CreditCard',
        isDefault: true,
        card: {
          cardNum: MASKED,
          cardExpYear: '2099',
          cardExpMonth: '08',
          cardHolder: 'John Doe',
          cardNickName: 'Card1',
          cardBrand: 'VISA',
          cardLastNum: '1111',
        },
      },
    },
  });
  assert.equal(await page.textContent('#card'), `VISA ${MASKED}  08/2099  John Doe (Card1) ACTIVE`);
  await shot(page, 'account-01-created');

  // UpdatePaymentInfo: no cardNum; a new expiry, nickname, city, CVV token;
  // `isDefault: false` cannot leave the user without a default card.
  const updateToken = cvvToken('9909');
  const changed = seedCreate('4e260748-60d6-4985-80da-bfdf481bffdf', updateToken);
  delete changed.paymentInfo.card.cardNum;
  changed.paymentInfo.isDefault = false;
  Object.assign(changed.paymentInfo.card, { cardExpMonth: '09', cardNickName: 'Travel' });
  changed.billingInfo.addressInfo.city = 'Westminster';
  const u = await call('PUT', '/account/{u}/paymentinfo/{p}', { u: user, p: id }, changed);
  assert.equal(u.status, 200, JSON.stringify(u.json));
  assert.deepEqual(Object.keys(u.json.data).sort(), ['paymentInfoId', 'status', 'updatedDate', 'uuid']);
  assert.equal(u.json.data.uuid, user);
  assert.equal(u.json.data.paymentInfoId, id);
  assert.equal(u.json.data.status, 'ACTIVE');
  assertRecent(u.json.data.updatedDate, 'updatedDate');
  const g2 = await call('GET', '/account/{u}/paymentinfo/{p}', { u: user, p: id });
  assert.equal(g2.status, 200, JSON.stringify(g2.json));
  assert.deepEqual(g2.json.data.billingInfo, changed.billingInfo);
  assert.equal(g2.json.data.paymentInfo.isDefault, true);
  assert.deepEqual(g2.json.data.paymentInfo.card, {
    cardNum: MASKED, cardExpYear: '2099', cardExpMonth: '09', cardHolder: 'John Doe',
    cardNickName: 'Travel', cardBrand: 'VISA', cardLastNum: '1111',
  });

  // GetPaymentInfo (the list).
  const l = await call('GET', '/account/{u}/paymentinfo', { u: user });
  assert.equal(l.status, 200, JSON.stringify(l.json));
  assert.deepEqual(l.json, {
    data: {
      uuid: user,
      totalCount: 1,
      paymentInfos: [{ paymentInfoId: id, status: 'ACTIVE', paymentInfo: { paymentType: 'CreditCard', isDefault: true } }],
    },
  });

  // ReVerifyPaymentInfo: a fresh token (neither the create's nor the
  // update's) for the card's CVV is ACTIVE, as in the seed; a used one is 906.
  const ok = await call('POST', '/account/{u}/paymentinfo/{p}/verification', { u: user, p: id }, seedReverify(cvvToken('9909')));
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  assert.deepEqual(ok.json, { data: { uuid: user, paymentInfoId: id, status: 'ACTIVE' } });
  const wrong = await call('POST', '/account/{u}/paymentinfo/{p}/verification', { u: user, p: id }, seedReverify(updateToken));
  assert.equal(wrong.status, 404);
  assert.equal(wrong.contentType, 'application/json');
  assert.deepEqual(wrong.json, { error: { code: 906, message: 'cvv information does not exist.', detail: null } });
  // One wrong token does not block the card.
  const g3 = await call('GET', '/account/{u}/paymentinfo/{p}', { u: user, p: id });
  assert.equal(g3.json.data.status, 'ACTIVE');

  // GetCardExpiries: a 2099 card is not expiring.
  const e = await call('GET', '/account/{u}/paymentinfo/expiries', { u: user });
  assert.equal(e.status, 200, JSON.stringify(e.json));
  assert.deepEqual(e.json, { data: { uuid: user, totalCount: 0, paymentInfos: [] } });

  // DeletePaymentInfo; then it is gone (903), and so is the list.
  const d = await call('DELETE', '/account/{u}/paymentinfo/{p}', { u: user, p: id });
  assert.equal(d.status, 200, JSON.stringify(d.json));
  assert.deepEqual(d.json, { data: { uuid: user } });
  const gone = await call('GET', '/account/{u}/paymentinfo/{p}', { u: user, p: id });
  assert.equal(gone.status, 404);
  assert.equal(gone.json.error.code, 903);
  assert.equal(gone.json.error.message, "This account's payment information does not exist.");
  const none = await call('GET', '/account/{u}/paymentinfo', { u: user });
  assert.equal(none.status, 404);
  assert.equal(none.json.error.code, 903);
  const again = await call('DELETE', '/account/{u}/paymentinfo/{p}', { u: user, p: id });
  assert.equal(again.status, 404);
  assert.equal(again.json.error.code, 903);

  assert.equal(await page.locator('#log tr').count(), 13);
  await shot(page, 'account-02-lifecycle');

  // What went over the wire: the page spoke to the issuer only for its key,
  // and to /account/ through its own origin with opaque hex only.
  const toApi = requests.filter((r) => r.url.startsWith(apiOrigin));
  assert.deepEqual(toApi.map((r) => `${r.method} ${r.url.slice(apiOrigin.length)}`), ['GET /v2/public-key']);
  const mine = relayed.slice(before);
  assert.equal(mine.length, 13);
  assert.deepEqual(mine.map((r) => r.method),
    ['POST', 'GET', 'PUT', 'GET', 'GET', 'POST', 'POST', 'GET', 'GET', 'DELETE', 'GET', 'GET', 'DELETE']);
  // A fresh session for every call.
  assert.equal(new Set(mine.map((r) => r.headers['session-id'])).size, mine.length);
  for (const r of mine) assert.equal(r.headers.authorization, `PLTOKEN ${apiKey}`);
  // Two calls with the same ids still differ on the wire.
  assert.notEqual(mine[1].url, mine[3].url);
  assertOpaque(mine, 'the relay');
  assertNoSecrets(mine, 'the relay');
  assertNoSecrets(requests, 'the page requests');
  assertNoSecrets(received, 'the merchant server');
  assert.deepEqual(errors, []);
  await context.close();
});

test('refusals in the browser: tampered ids and data (911), a replayed request (911), a wrong PLTOKEN (910), cancel by order id', async () => {
  const { page, context, errors, requests, call } = await accountPage();
  const user = randomUUID();
  const order = randomUUID();
  const before = relayed.length;

  // A tampered data= field: nothing is created (and the token is not used).
  const created = seedCreate(order, cvvToken('9908'));
  const t0 = await call('POST', '/account/{u}/paymentinfo', { u: user }, created, { tamper: 'data' });
  assert.equal(t0.status, 400);
  assert.deepEqual(t0.json, { error: { code: 911, message: 'The encrypted data could not be decrypted.', detail: null } });

  const c = await call('POST', '/account/{u}/paymentinfo', { u: user }, created);
  assert.equal(c.status, 200, JSON.stringify(c.json));
  const id = c.json.data.paymentInfoId;

  // A flipped hex digit in either path id.
  for (const slot of ['u', 'p']) {
    const t = await call('GET', '/account/{u}/paymentinfo/{p}', { u: user, p: id }, null, { tamper: slot });
    assert.equal(t.status, 400, `tampered ${slot}: ${JSON.stringify(t.json)}`);
    assert.equal(t.json.error.code, 911);
  }

  // The very same request twice: the Session-Id was used once already.
  const [first, second] = await call('GET', '/account/{u}/paymentinfo/{p}', { u: user, p: id }, null, { times: 2 });
  assert.equal(first.status, 200, JSON.stringify(first.json));
  assert.equal(first.json.data.paymentInfoId, id);
  assert.equal(second.status, 400);
  assert.equal(second.json.error.code, 911);
  const pair = relayed.slice(-2);
  assert.equal(pair[0].url, pair[1].url);
  assert.equal(pair[0].headers['session-id'], pair[1].headers['session-id']);

  // A wrong API key.
  const bad = await call('GET', '/account/{u}/paymentinfo', { u: user }, null, { token: 'psk_not-a-real-key' });
  assert.equal(bad.status, 401);
  assert.equal(bad.json.error.code, 910);

  // The card is untouched by all that.
  const l = await call('GET', '/account/{u}/paymentinfo', { u: user });
  assert.equal(l.status, 200, JSON.stringify(l.json));
  assert.equal(l.json.data.totalCount, 1);
  assert.equal(l.json.data.paymentInfos[0].status, 'ACTIVE');
  assert.equal(l.json.data.paymentInfos[0].paymentInfo.isDefault, true);

  // CancelPaymentInfoByOrderId: deletes the card that order created, once.
  const x = await call('DELETE', '/account/{u}/orders/{o}', { u: user, o: order });
  assert.equal(x.status, 200, JSON.stringify(x.json));
  assert.deepEqual(x.json, { data: { orderId: order } });
  const x2 = await call('DELETE', '/account/{u}/orders/{o}', { u: user, o: order });
  assert.equal(x2.status, 400, 'the seed\'s "400 Not Found"');
  assert.deepEqual(x2.json, { error: { code: 903, message: 'This account payment information does not exist', detail: null } });
  const empty = await call('GET', '/account/{u}/paymentinfo/{p}', { u: user, p: id });
  assert.equal(empty.status, 404);
  assert.equal(empty.json.error.code, 903);

  await shot(page, 'account-03-refusals');
  const mine = relayed.slice(before);
  assertOpaque(mine, 'the relay');
  assertNoSecrets(mine, 'the relay');
  assertNoSecrets(requests, 'the page requests');
  assert.deepEqual(requests.filter((r) => r.url.startsWith(apiOrigin)).map((r) => r.url.slice(apiOrigin.length)), ['/v2/public-key']);
  assert.deepEqual(errors, []);
  await context.close();
});

test('the server log carries no PAN, e-mail, API key or session id', async () => {
  const log = readFileSync(logFile, 'utf8') + cliStderr;
  assert.match(log, /"path":"\/account\/[0-9a-f]+\/paymentinfo"/, 'the account requests were logged');
  assert.ok(relayed.length > 20);
  assert.ok(minted.length >= 4, 'CVV tokens were minted');
  for (const [what, secret] of [
    ['the PAN', PAN],
    ['the e-mail', EMAIL],
    ['the tenant API key', apiKey],
    ...minted.map((t) => ['a CVV token', t]),
  ]) {
    assert.ok(!log.includes(secret), `${what} is in the server log`);
  }
  for (const r of relayed) {
    const sid = r.headers['session-id'];
    assert.ok(sid && !log.includes(sid), 'a Session-Id is in the server log');
  }
});
