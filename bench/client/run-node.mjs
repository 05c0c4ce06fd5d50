// The client benchmark in Node: paysecure-wasm (pkg/paysecure-wasm), node-forge and
// Node's WebCrypto (globalThis.crypto.subtle), the same operations as the
// browser page (core.mjs), same output shape, JSON on stdout (progress on
// stderr).
//   node bench/client/run-node.mjs [--quick]
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
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
function measureInstantiate(n) {
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
    note: 'readFileSync + new WebAssembly.Module + new WebAssembly.Instance of a unique copy of pkg/paysecure-wasm/paysecure_wasm_bg.wasm',
  };
}

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
const env = {
  ps,
  forge,
  sjcl,
  subtle: globalThis.crypto.subtle,
  getRandomValues: (a) => globalThis.crypto.getRandomValues(a),
  b64encode: (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64'),
  b64decode: (text) => toU8(Buffer.from(text, 'base64')),
  publicPem: vectors.rsa.public_spki_pem,
  privatePem: vectors.rsa.private_pkcs8_pem,
  now: () => performance.now(),
};

const instantiate = measureInstantiate(preset.instantiations);
log(`instantiate: median ${instantiate.syncCompileInstantiateMs.median.toFixed(2)} ms`);
const built = await makeImpls(env);
const checks = await checkImpls(env, built);
checks.forEach(log);
const ops = await runOps(built, { ...preset, now: env.now, log });
built.dispose();

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
  },
  checks,
  instantiate,
  ops,
  elapsedMs: performance.now() - started,
};
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
