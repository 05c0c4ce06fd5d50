// Runs the client benchmark page (bench/client/index.html) in headless
// Chromium (/usr/bin/chromium, or $CHROMIUM_BIN) through playwright-core and
// prints its results as JSON on stdout (progress on stderr).
//   node bench/client/run-browser.mjs [--quick]
// Needs pkg/paysecure-wasm (bash scripts/build.sh) and node_modules (npm ci).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { serve } from '../../scripts/static-server.mjs';
import { PRESETS, withNonceSection } from './core.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const quick = process.argv.includes('--quick');
const preset = PRESETS[quick ? 'quick' : 'full'];
const err = (msg) => process.stderr.write(`[run-browser] ${msg}\n`);

// Same flags as tests/browser/harness.mjs.
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

const wasmPath = path.join(root, 'pkg', 'paysecure-wasm', 'paysecure_wasm_bg.wasm');
const forgePath = path.join(root, 'node_modules', 'node-forge', 'dist', 'forge.min.js');
for (const [file, fix] of [[wasmPath, 'bash scripts/build.sh'], [forgePath, 'npm ci']]) {
  if (!existsSync(file)) {
    err(`${path.relative(root, file)} is missing: run ${fix} first`);
    process.exit(2);
  }
}

// Unique copies of the .wasm (same code, an extra custom section) so that
// every instantiation in the page compiles anew: V8 keeps compiled modules in
// a per-process cache keyed by the module bytes.
const freshDir = await mkdtemp(path.join(os.tmpdir(), 'paysecure-bench-'));
const freshCount = 3 * preset.instantiations;
// Every module of the package (the full one, and the reveal entry's when it is
// built), each with its own unique copies: fresh-<module>-<i>.wasm.
const modules = readdirSync(path.dirname(wasmPath)).filter((f) => f.endsWith('_bg.wasm')).sort();
const nonce = `${process.pid}-${Date.now()}`;
for (const m of modules) {
  const wasm = new Uint8Array(await readFile(path.join(path.dirname(wasmPath), m)));
  for (let i = 0; i < freshCount; i++) {
    await writeFile(path.join(freshDir, `fresh-${m}-${i}.wasm`), withNonceSection(wasm, `${nonce}-${m}-${i}`));
  }
}
// The noble + micro-rsa peer as one ES module for the page (the packages'
// modules import each other by bare specifier).
await build({
  entryPoints: [path.join(root, 'bench', 'client', 'noble.mjs')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  outfile: path.join(freshDir, 'noble.js'),
  logLevel: 'warning',
});

// The page's relative URLs are the repository's paths; only what it needs is mounted.
const server = await serve({
  '/bench/': path.join(root, 'bench'),
  '/pkg/': path.join(root, 'pkg'),
  '/node_modules/node-forge/': path.join(root, 'node_modules', 'node-forge'),
  '/node_modules/sjcl/': path.join(root, 'node_modules', 'sjcl'),
  '/tests/data/': path.join(root, 'tests', 'data'),
  '/__fresh/': freshDir,
});

let browser;
let code = 0;
try {
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium', args: CHROMIUM_ARGS });
  const page = await browser.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    else if (m.text().startsWith('[bench] ')) err(m.text().slice(8));
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  const url = `${server.url}/bench/client/index.html?${quick ? 'quick&' : ''}fresh=${freshCount}&modules=${modules.join(',')}`;
  err(`chromium ${browser.version()}: ${url}`);
  await page.goto(url);
  await page.waitForFunction(() => window.__results || window.__error, null, { timeout: quick ? 180_000 : 1_800_000, polling: 250 });
  const { results, error } = await page.evaluate(() => ({ results: window.__results, error: window.__error }));
  if (error) throw new Error(`page failed: ${error}`);
  results.env.browserVersion = browser.version();
  results.env.forgeVersion = JSON.parse(readFileSync(path.join(root, 'node_modules', 'node-forge', 'package.json'), 'utf8')).version;
  const sjclPkg = path.join(root, 'node_modules', 'sjcl', 'package.json');
  results.env.sjclVersion = existsSync(sjclPkg) ? JSON.parse(readFileSync(sjclPkg, 'utf8')).version : null;
  results.env.consoleErrors = problems;
  results.env.nobleVersions = Object.fromEntries(['@noble/ciphers', '@noble/hashes', 'micro-rsa-dsa-dh']
    .map((n) => [n, JSON.parse(readFileSync(path.join(root, 'node_modules', ...n.split('/'), 'package.json'), 'utf8')).version]));
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
} catch (e) {
  err(e.stack || String(e));
  code = 1;
} finally {
  await browser?.close();
  await server.close();
  await rm(freshDir, { recursive: true, force: true });
}
process.exit(code);
