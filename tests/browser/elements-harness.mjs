// Shared set-up of the @paysecure/elements browser suites: a real
// paysecure-server (demo tenant and cards) serving the widget frames from
// http://127.0.0.1:PORT, and a host-page server on http://localhost:HOSTPORT
// (another origin) whose pages carry the Content-Security-Policy the package
// README tells integrators to set. The server lets only that host origin
// frame the widgets (--frame-ancestors).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import os from 'node:os';
import path from 'node:path';
import { root } from './harness.mjs';

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css', '.json': 'application/json' };
const BIN = path.join(root, 'target', 'debug', 'paysecure-server');

/**
 * Starts the host server and the card service. `pages` maps a path to
 * { body, type } or to a directory (a path ending in '/'), and may be
 * filled in after start. `/api/card-session` (POST) mints a reveal key and a
 * PIN key for `stack.sessionCard` (what an integrator's backend does).
 */
export async function startStack() {
  if (!existsSync(BIN)) throw new Error('cargo build -p paysecure-server first');
  const pages = {};
  const stack = { pages, sessionCard: null, extraHeaders: {} };
  const host = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    try {
      if (url.pathname === '/api/card-session' && req.method === 'POST') {
        const token = stack.sessionCard.token;
        const body = { token, revealKey: await stack.mintKey(token, ['reveal']), pinKey: await stack.mintKey(token, ['pin:read', 'pin:write', 'pin:verify']) };
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        return res.end(JSON.stringify(body));
      }
      let page = pages[url.pathname];
      if (!page) {
        const dir = Object.keys(pages).filter((p) => typeof pages[p] === 'string' && url.pathname.startsWith(p)).sort((x, y) => y.length - x.length)[0];
        if (dir) {
          const file = path.resolve(pages[dir], url.pathname.slice(dir.length));
          if (file.startsWith(path.resolve(pages[dir]) + path.sep) && existsSync(file)) page = { body: readFileSync(file), type: TYPES[path.extname(file)] || 'application/octet-stream' };
        }
      }
      if (!page) {
        res.writeHead(404);
        return res.end();
      }
      const headers = {
        'content-type': page.type || TYPES['.html'],
        'cache-control': 'no-store',
        // The host page's policy, as the package README gives it: frame the
        // card service, nothing else from elsewhere.
        'content-security-policy': `default-src 'self'; script-src 'self'${page.scriptSrc ? ` ${page.scriptSrc}` : ''}; style-src 'self'; connect-src 'self'; frame-src ${stack.apiOrigin}`,
        ...(url.searchParams.get('clipboard') === 'deny' ? { 'permissions-policy': 'clipboard-write=()' } : {}),
      };
      res.writeHead(200, headers);
      res.end(page.body);
    } catch (e) {
      res.writeHead(500);
      res.end(String(e));
    }
  });
  await new Promise((ok) => host.listen(0, '127.0.0.1', ok));
  const hostPort = host.address().port;
  stack.hostOrigin = `http://localhost:${hostPort}`;
  /** The host server under another origin name: a third party's pages. */
  stack.otherOrigin = `http://127.0.0.1:${hostPort}`;

  const data = path.join(mkdtempSync(path.join(os.tmpdir(), 'paysecure-elements-')), 'data');
  const server = spawn(BIN, ['--data-dir', data, '--master-key-file', `${data}/master.key`, 'serve', '--demo', '--listen', '127.0.0.1:0',
    '--frame-ancestors', `'self' ${stack.hostOrigin}`], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] });
  const line = await new Promise((ok, fail) => {
    createInterface({ input: server.stdout }).once('line', ok);
    server.once('exit', (c) => fail(new Error(`server exited ${c}`)));
  });
  stack.apiOrigin = line.trim().split(' ').pop();
  const apiKey = readFileSync(path.join(data, 'demo-tenant.key'), 'utf8').trim();
  stack.cards = (await (await fetch(`${stack.apiOrigin}/v2/cards?customerId=demo-customer`, { headers: { authorization: `Bearer ${apiKey}` } })).json()).cards;
  if (!stack.cards || stack.cards.length !== 3) throw new Error(`demo cards: ${JSON.stringify(stack.cards)}`);
  stack.card = (brand) => stack.cards.find((c) => c.brand === brand);

  stack.mintKey = async (token, scopes, ttlSeconds = 300) => {
    const res = await fetch(`${stack.apiOrigin}/v2/ephemeral-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ token, scopes, ttlSeconds }),
    });
    if (res.status !== 201) throw new Error(`ephemeral key: ${res.status} ${await res.text()}`);
    return (await res.json()).key;
  };

  // The card's values as the vault holds them, read through the API with the nodejs build.
  const ps = createRequire(import.meta.url)(path.join(root, 'pkg', 'paysecure-wasm'));
  const pk = async () => (await (await fetch(`${stack.apiOrigin}/v2/public-key`)).json()).publicKey;
  stack.vault = async (token) => {
    const s = ps.Session.create(await pk());
    try {
      const r = await (await fetch(`${stack.apiOrigin}/v2/cards/${token}/reveal`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'session-id': s.sessionId } })).json();
      return { pan: s.decrypt(r.pan), cvv2: s.decrypt(r.cvv2) };
    } finally {
      s.free();
    }
  };
  stack.vaultPin = async (token) => {
    const s = ps.Session.create(await pk());
    try {
      const r = await (await fetch(`${stack.apiOrigin}/v2/cards/${token}/pin`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'session-id': s.sessionId } })).json();
      return s.decryptPin(r.pinBlock);
    } finally {
      s.free();
    }
  };

  stack.stop = async () => {
    server.kill('SIGTERM');
    await new Promise((ok) => host.close(ok));
  };
  return stack;
}

/**
 * Records, in the top-level page, every message its window receives; in the
 * widget frames, the channel id of the init message (so a test can forge a
 * message with the right channel from the wrong window).
 */
export function instrument() {
  if (window.top === window) {
    window.__received = [];
    window.addEventListener('message', (e) => window.__received.push({ origin: e.origin, data: JSON.stringify(e.data) }));
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  } else {
    window.addEventListener('message', (e) => {
      if (e.data && e.data.type === 'paysecure:init') window.__channel = e.data.channel;
    });
  }
}
