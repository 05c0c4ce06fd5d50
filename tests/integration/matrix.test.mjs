// The integration matrix (`make test-integration`, layer `integration`): the
// packed tarballs (target/npm/*.tgz, scripts/build.sh) installed with npm like
// any app installs them, then every fixture app of tests/integration/fixtures
// built with the real tool (Vite 7 and 8, dev and build; webpack 5 old and
// new; Rollup; esbuild; Next.js 16 with Turbopack and webpack; Node ESM and
// CommonJS; Deno; Bun; a module Worker; a strict-CSP page), loaded in
// Chromium (or run), each running a real session against a real
// paysecure-server: reveal the card, set the PIN, read it back. The answers
// are compared with the vault's values.
//
// A fixture is a directory with `fixture.json`: `modes`, each with `build`
// (shell, in a copy of the app under target/integration/apps/) and `dist`
// (served statically) and/or `serve` (a dev or app server on `{port}`), or
// `run` (a runtime printing the result as JSON; `{base}` is the front URL).
// Browser pages set `window.__fixtureResult`. The front server on one origin
// serves the app, `/__fixture/config.json` (this test's card and key) and
// relays `/v1/`, `/v2/`, `/v3/` to the paysecure-server.
//
// Writes target/integration/matrix.md and matrix.json: per environment, works
// with no configuration or not, and bundle sizes.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import {
  cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdtempSync,
} from 'node:fs';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from '../browser/harness.mjs';
import { install, work, modules } from './install.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const BIN = path.join(root, 'target', 'debug', 'paysecure-server');
const tarballs = {
  'paysecure-wasm': path.join(root, 'target', 'npm', 'paysecure-wasm.tgz'),
  '@paysecure/elements': path.join(root, 'target', 'npm', 'paysecure-elements.tgz'),
};
const ONLY = process.env.MATRIX_ONLY ? new RegExp(process.env.MATRIX_ONLY, 'i') : null;
const PINS = ['2749', '58317', '736194', '4862', '91537'];

const sh = (command, cwd, env = {}, timeout = 600_000) =>
  execFileSync('bash', ['-c', command], {
    cwd, timeout, encoding: 'utf8', maxBuffer: 64 << 20,
    env: { ...process.env, PATH: `${path.join(modules, '.bin')}:${process.env.PATH}`, MODULES: modules, NEXT_TELEMETRY_DISABLED: '1', ...env },
  });

const freePort = () => new Promise((resolve, reject) => {
  const s = net.createServer();
  s.once('error', reject);
  s.listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});

async function waitFor(url, ms, proc) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (proc && proc.exitCode !== null) throw new Error(`exited with ${proc.exitCode}`);
    try {
      const res = await fetch(url);
      if (res.status < 500) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer within ${ms} ms`);
}

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json', '.svg': 'image/svg+xml' };

/**
 * The one origin the pages see (http://localhost:FRONT): the app (a static
 * directory, or relayed to its own server), the fixture config, and the API
 * relayed to the paysecure-server. `csp`: the static pages' policy.
 */
function front(port, apiOrigin) {
  let current = { dist: null, upstream: null, csp: null, config: null };
  const relay = (req, res, target) => {
    const url = new URL(req.url, target);
    const up = http.request(url, { method: req.method, headers: { ...req.headers, host: url.host } }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  };
  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url, 'http://localhost');
    if (pathname === '/__fixture/config.json') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(current.config));
    } else if (/^\/v[123]\//.test(pathname)) {
      relay(req, res, apiOrigin);
    } else if (current.upstream) {
      relay(req, res, current.upstream);
    } else if (current.dist) {
      let file = path.join(current.dist, decodeURIComponent(pathname));
      if (!file.startsWith(current.dist)) return res.writeHead(403).end();
      if (existsSync(file) && statSync(file).isDirectory()) file = path.join(file, 'index.html');
      if (!existsSync(file)) return res.writeHead(404).end();
      const headers = { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' };
      if (current.csp) headers['content-security-policy'] = current.csp;
      res.writeHead(200, headers).end(readFileSync(file));
    } else {
      res.writeHead(404).end();
    }
  });
  return {
    listen: () => new Promise((ok) => server.listen(port, '127.0.0.1', ok)),
    set: (c) => { current = { dist: null, upstream: null, csp: null, config: null, ...c }; },
    close: () => new Promise((ok) => { server.closeAllConnections?.(); server.close(ok); }),
  };
}

/** Raw and gzip bytes of what a page loads from a build: its .js, .css and .wasm files. */
function bundleSize(dist) {
  let raw = 0, gz = 0, wasm = 0;
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(m?js|css|wasm)$/.test(e.name) && !/\.map$/.test(e.name)) {
        const b = readFileSync(p);
        raw += b.length;
        gz += gzipSync(b, { level: 9 }).length;
        if (e.name.endsWith('.wasm')) wasm += 1;
      }
    }
  };
  if (existsSync(dist)) walk(dist);
  return { raw, gzip: gz, wasmFiles: wasm };
}

let server, apiOrigin, apiKey, publicKey, browser, frontServer, frontPort, installed;
const ps = createRequire(import.meta.url)(path.join(root, 'pkg', 'paysecure-wasm'));
const rows = [];
const children = new Set();

/**
 * The API as the tenant's backend calls it, on a new connection each time
 * (builds take minutes: a kept-alive connection would be closed by the server
 * meanwhile and fail the next call).
 */
function api(method, p, body, { auth = apiKey, session } = {}) {
  const headers = { authorization: `Bearer ${auth}` };
  if (session) headers['session-id'] = session.sessionId;
  const payload = body ? JSON.stringify(body) : undefined;
  if (payload) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const req = http.request(`${apiOrigin}${p}`, { method, headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        if (res.statusCode >= 300) reject(new Error(`${method} ${p}: ${res.statusCode} ${text}`));
        else resolve(JSON.parse(text));
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** A fresh card, its PAN as the vault holds it, and an ephemeral key for the page. */
async function newCard(i) {
  const { token } = await api('POST', '/v2/cards', { accountId: `acc-matrix-${i}`, customerId: `cu-matrix-${i}` });
  const s = ps.Session.create(publicKey);
  const r = await api('POST', `/v2/cards/${token}/reveal`, null, { session: s });
  const pan = s.decrypt(r.pan);
  s.free();
  const { key } = await api('POST', '/v2/ephemeral-keys', { token, scopes: ['reveal', 'pin:read', 'pin:write', 'pin:verify'], ttlSeconds: 600 });
  return { token, pan, ephemeralKey: key, pin: PINS[i % PINS.length] };
}

before(async () => {
  assert.ok(existsSync(BIN), `${BIN} missing: cargo build -p paysecure-server`);
  assert.ok(existsSync(tarballs['paysecure-wasm']), 'target/npm/paysecure-wasm.tgz missing: scripts/build.sh');
  installed = install(tarballs);
  const data = path.join(mkdtempSync(path.join(os.tmpdir(), 'paysecure-matrix-')), 'data');
  const cli = ['--data-dir', data, '--master-key-file', `${data}/master.key`];
  apiKey = execFileSync(BIN, [...cli, 'tenant', 'create', 'Matrix Bank']).toString().trim().split('\n').pop();
  frontPort = await freePort();
  server = spawn(BIN, [...cli, 'serve', '--listen', '127.0.0.1:0', '--frame-ancestors', `http://localhost:${frontPort}`],
    { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] });
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: server.stdout }).once('line', resolve);
    server.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  apiOrigin = line.trim().split(' ').pop();
  publicKey = (await api('GET', '/v2/public-key')).publicKey;
  frontServer = front(frontPort, apiOrigin);
  await frontServer.listen();
  browser = await launch();
});

after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await browser?.close();
  await frontServer?.close();
  if (server) {
    const exited = new Promise((ok) => server.once('exit', ok));
    server.kill('SIGTERM');
    await exited;
  }
  if (rows.length) {
    const md = ['| environment | fixture | result | configuration | what the page loads (gzip) |', '| --- | --- | --- | --- | --- |'];
    for (const r of rows) {
      md.push(`| ${r.mode} | ${r.fixture} | ${r.ok ? 'works' : `FAILS: ${r.error}`} | ${r.config ?? 'none'} | ${r.size ? `${(r.size.gzip / 1024).toFixed(1)} KiB (${(r.size.raw / 1024).toFixed(1)} KiB raw)` : ''} |`);
    }
    writeFileSync(path.join(work, 'matrix.md'), md.join('\n') + '\n');
    writeFileSync(path.join(work, 'matrix.json'), JSON.stringify(rows, null, 2));
    console.log(md.join('\n'));
  }
});

/** Runs `command` to its end without blocking this process (the front server answers it meanwhile); resolves to its stdout. */
function runAsync(command, cwd, ms = 120_000) {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', command], {
      cwd, stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PATH: `${path.join(modules, '.bin')}:${process.env.PATH}`, MODULES: modules },
    });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err = (err + d).slice(-4000); });
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${command}: exit ${code}\n${err}`));
    });
  });
}

/** Starts `command` in the background; resolves once `url` answers. */
async function background(command, cwd, url) {
  const child = spawn('bash', ['-c', `exec ${command}`], {
    cwd, stdio: ['ignore', 'ignore', 'pipe'], detached: true,
    env: { ...process.env, PATH: `${path.join(modules, '.bin')}:${process.env.PATH}`, MODULES: modules, NEXT_TELEMETRY_DISABLED: '1' },
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  children.add(child);
  try {
    await waitFor(url, 120_000, child);
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`${command}: ${e.message}\n${stderr}`);
  }
  return () => {
    children.delete(child);
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
  };
}

/** Loads the front page in a fresh Chromium context; resolves to window.__fixtureResult and what went wrong. */
async function loadPage(url, { waitMs = 90_000 } = {}) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  try {
    await page.goto(url);
    await page.waitForFunction(() => window.__fixtureResult !== undefined, null, { timeout: waitMs });
    return { result: await page.evaluate(() => window.__fixtureResult), page, context, problems };
  } catch (e) {
    await context.close();
    throw new Error(`${e.message.split('\n')[0]}; ${problems.join('; ')}`);
  }
}

function checkFlow(r, card, { browserSide }) {
  assert.ok(r && !r.error, `the flow failed: ${JSON.stringify(r)}`);
  assert.equal(r.pan, card.pan, 'the page decrypted the vault PAN');
  assert.equal(r.pin, card.pin, 'the PIN set by the page reads back');
  assert.equal(r.entry, 'not initialized on import', 'nothing runs on import');
  if (browserSide) assert.equal(r.beforeInit, 'NOT_INITIALIZED', 'a call before init is a NOT_INITIALIZED PaySecureError');
}

const fixtures = readdirSync(path.join(here, 'fixtures')).filter((f) => existsSync(path.join(here, 'fixtures', f, 'fixture.json'))).sort();
let cardNo = 0;

for (const name of fixtures) {
  const spec = JSON.parse(readFileSync(path.join(here, 'fixtures', name, 'fixture.json'), 'utf8'));
  // The widget fixtures' short form: one build, the page reports { ok }.
  const modes = spec.modes ?? [{ name: `${name} (${spec.build})`, build: spec.build, dist: spec.dist, elements: true }];
  for (const mode of modes) {
    const title = `${mode.name}: ${spec.description ?? name}`;
    test(title, { skip: ONLY ? !ONLY.test(mode.name) && !ONLY.test(name) : false }, async () => {
      const row = { mode: mode.name, fixture: name, config: mode.config, ok: false };
      rows.push(row);
      try {
        if (spec.requires && !spec.requires.every((p) => installed[p])) {
          throw new Error(`needs the ${spec.requires.join(', ')} tarball(s): scripts/build.sh`);
        }
        const app = path.join(work, 'apps', name);
        rmSync(app, { recursive: true, force: true });
        cpSync(path.join(here, 'fixtures', name), app, { recursive: true });
        cpSync(path.join(here, 'shared', 'flow.js'), path.join(app, spec.flow ?? 'src/flow.js'));
        const card = await newCard(cardNo++);
        const config = { token: card.token, ephemeralKey: card.ephemeralKey, pin: card.pin, serverOrigin: apiOrigin };
        if (mode.build) sh(mode.build, app);
        const base = `http://localhost:${frontPort}`;
        if (mode.run) {
          frontServer.set({ config });
          const out = (await runAsync(mode.run.replaceAll('{base}', base), app)).trim().split('\n').pop();
          checkFlow(JSON.parse(out).main, card, { browserSide: false });
          row.ok = true;
          return;
        }
        let stop = () => {};
        if (mode.serve) {
          const port = await freePort();
          stop = await background(mode.serve.replaceAll('{port}', port), app, `http://127.0.0.1:${port}/`);
          frontServer.set({ config, upstream: `http://127.0.0.1:${port}` });
        } else {
          const dist = path.join(app, mode.dist);
          row.size = bundleSize(dist);
          // Static builds are served as a strict page would be.
          frontServer.set({ config, dist, csp: "script-src 'self' 'wasm-unsafe-eval'" });
        }
        try {
          const { result, context, page } = await loadPage(`${base}/`);
          try {
            if (mode.elements || spec.elements) {
              assert.ok(result.ok, `the widget page failed: ${JSON.stringify(result)}`);
              const frames = page.frames().filter((f) => f.url().startsWith(`${apiOrigin}/widget/`));
              assert.ok(frames.length >= 1, 'the widgets are framed from the card service origin');
              const html = await page.content();
              assert.ok(!html.includes(card.pan), 'the host page never holds the PAN');
            } else {
              checkFlow(result.main, card, { browserSide: true });
              if (spec.worker) checkFlow(result.worker, card, { browserSide: true });
              if (spec.serverRendered) {
                assert.equal(await page.textContent('#server'), spec.serverRendered, 'the server component used the package');
              }
            }
          } finally {
            await context.close();
          }
        } finally {
          stop();
        }
        row.ok = true;
      } catch (e) {
        row.error = e.message.split('\n')[0].slice(0, 200);
        throw e;
      }
    });
  }
}

test("a page whose CSP has no 'wasm-unsafe-eval': initAsync() rejects with WASM_BLOCKED_BY_CSP, catchable", { skip: ONLY ? !ONLY.test('csp') : false }, async () => {
  const row = { mode: "Chromium, CSP `script-src 'self'` (no 'wasm-unsafe-eval')", fixture: 'vanilla (its last Vite build)', ok: false };
  rows.push(row);
  const dist = path.join(work, 'apps', 'vanilla', 'dist');
  if (!existsSync(path.join(dist, 'index.html'))) {
    const app = path.join(work, 'apps', 'vanilla');
    rmSync(app, { recursive: true, force: true });
    cpSync(path.join(here, 'fixtures', 'vanilla'), app, { recursive: true });
    cpSync(path.join(here, 'shared', 'flow.js'), path.join(app, 'src', 'flow.js'));
    sh('vite build', app);
  }
  const card = await newCard(cardNo++);
  frontServer.set({ config: { token: card.token, ephemeralKey: card.ephemeralKey, pin: card.pin }, dist, csp: "script-src 'self'" });
  const { result, context } = await loadPage(`http://localhost:${frontPort}/`);
  await context.close();
  assert.equal(result.main.code, 'WASM_BLOCKED_BY_CSP', JSON.stringify(result.main));
  assert.match(result.main.error, /wasm-unsafe-eval/);
  row.ok = true;
  row.config = "the page's CSP needs 'wasm-unsafe-eval' (the error says so)";
});
