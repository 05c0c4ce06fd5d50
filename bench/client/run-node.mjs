// The client benchmark in Node: paysecure-wasm (pkg/paysecure-wasm), node-forge,
// Node's WebCrypto (globalThis.crypto.subtle) and noble + micro-rsa (noble.mjs), the same operations as the
// browser page (core.mjs), same output shape, JSON on stdout (progress on
// stderr).
//   node bench/client/run-node.mjs [--quick]
import { createRequire } from 'node:module';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import * as noble from './noble.mjs';
import { PRESETS, makeImpls, checkImpls, runOps, stubImports, summarize, withNonceSection } from './core.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const quick = process.argv.includes('--quick');
const preset = PRESETS[quick ? 'quick' : 'full'];
const log = (msg) => process.stderr.write(`[run-node] ${msg}\n`);

const pkgDir = path.join(root, 'pkg', 'paysecure-wasm');
const wasmPath = path.join(pkgDir, 'paysecure_wasm_bg.wasm');
if (!existsSync(wasmPath)) {
  log(`${path.relative(root, wasmPath)} is missing: run bash scripts/build.sh first`);
  process.exit(2);
}

/**
 * Read + compile + instantiate, synchronously as the pkg/paysecure-wasm glue does
 * (readFileSync, new WebAssembly.Module, new WebAssembly.Instance), each
 * time from unique bytes (an appended custom section) so that V8's
 * per-process module cache cannot serve it. Stub imports: nothing is called
 * at instantiation.
 */
function measureInstantiate(wasmPath, n) {
  const imports = stubImports(new WebAssembly.Module(readFileSync(wasmPath)));
  const samples = [];
  for (let i = 0; i < n; i++) {
    const nonce = `${process.pid}-${Date.now()}-${i}`;
    const t0 = performance.now();
    const bytes = withNonceSection(readFileSync(wasmPath), nonce);
    const module = new WebAssembly.Module(bytes);
    const instance = new WebAssembly.Instance(module, imports);
    samples.push(performance.now() - t0);
    if (!instance.exports.memory) throw new Error('no memory export');
  }
  return {
    syncCompileInstantiateMs: summarize(samples),
    uniqueBytes: true,
    note: `readFileSync + new WebAssembly.Module + new WebAssembly.Instance of a unique copy of ${path.relative(root, wasmPath)}`,
  };
}
// Every module of the package (the full one, and the reveal entry's when built).
const modules = readdirSync(pkgDir).filter((f) => f.endsWith('_bg.wasm')).sort();

const started = performance.now();
log(`preset: ${quick ? 'quick' : 'full'} ${JSON.stringify(preset)}`);
const vectors = JSON.parse(readFileSync(path.join(root, 'tests', 'data', 'paysecure-v1-v2.json'), 'utf8'));
const ps = require(pkgDir);
const forge = require('node-forge');
let sjcl = null;
try {
  sjcl = require('sjcl');
} catch {
  log('sjcl is not installed: node-forge session keys come from forge.random');
}
const toU8 = (buf) => new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
// The reveal entry point's Node build, when built.
const revealPath = path.join(pkgDir, 'paysecure_wasm_reveal.node.cjs');
const psReveal = modules.includes('paysecure_wasm_reveal_bg.wasm') && existsSync(revealPath) ? require(revealPath) : null;
const env = {
  ps,
  psReveal,
  forge,
  sjcl,
  noble,
  subtle: globalThis.crypto.subtle,
  getRandomValues: (a) => globalThis.crypto.getRandomValues(a),
  b64encode: (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64'),
  b64decode: (text) => toU8(Buffer.from(text, 'base64')),
  publicPem: vectors.rsa.public_spki_pem,
  privatePem: vectors.rsa.private_pkcs8_pem,
  now: () => performance.now(),
};

const perModule = Object.fromEntries(modules.map((m) => [m, measureInstantiate(path.join(pkgDir, m), preset.instantiations)]));
for (const [m, r] of Object.entries(perModule)) log(`instantiate ${m}: median ${r.syncCompileInstantiateMs.median.toFixed(2)} ms`);
const instantiate = { ...perModule['paysecure_wasm_bg.wasm'], modules: perModule };
const built = await makeImpls(env);
const checks = await checkImpls(env, built);
checks.forEach(log);
const ops = await runOps(built, { ...preset, now: env.now, log });
built.dispose();

function nobleVersions() {
  const v = (name) => JSON.parse(readFileSync(path.join(root, 'node_modules', ...name.split('/'), 'package.json'), 'utf8')).version;
  return Object.fromEntries(['@noble/ciphers', '@noble/hashes', 'micro-rsa-dsa-dh'].map((n) => [n, v(n)]));
}

const results = {
  kind: 'node',
  preset: { name: quick ? 'quick' : 'full', ...preset },
  env: {
    node: process.version,
    v8: process.versions.v8,
    openssl: process.versions.openssl,
    base64: 'Buffer',
    forgeVersion: require('node-forge/package.json').version,
    sjclVersion: sjcl ? require('sjcl/package.json').version : null,
    forgeKeySource: built.forgeKeySource,
    nobleVersions: nobleVersions(),
  },
  checks,
  instantiate,
  ops,
  elapsedMs: performance.now() - started,
};
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
