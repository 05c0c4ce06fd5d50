// Shared set-up for the node --test suites: the built nodejs package, the
// reference vectors, and small conversions.
import { createRequire } from 'node:module';
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '..', '..');
const require = createRequire(import.meta.url);

const pkgDir = path.join(root, 'pkg', 'paysecure-wasm');
if (!existsSync(path.join(pkgDir, 'paysecure_wasm.js'))) {
  throw new Error(`${pkgDir} is missing: run scripts/build.sh first`);
}
/** The package under test, exactly as scripts/build.sh built it for Node. */
export const ps = require(pkgDir);
/** Its `paysecure-wasm/reveal` entry point (for Node, CommonJS): no V1, no encryptCard, no encrypted bodies. */
export const reveal = require(path.join(pkgDir, 'paysecure_wasm_reveal.node.cjs'));
/**
 * The entry points, for the tests that hold for both: `entry` is the import
 * path, `ps` its exports, `file` what `require` loads it from, `versions` the
 * protocol versions it has, `full` whether it has V1, `encryptCard` and the
 * encrypted bodies (`Session.encryptBody` / `decryptBody`), `wasm` the path of
 * its WebAssembly module.
 */
export const ENTRIES = [
  { entry: 'paysecure-wasm', ps, file: pkgDir, versions: ['v1', 'v2', 'v3'], full: true,
    wasm: path.join(pkgDir, 'paysecure_wasm_bg.wasm') },
  { entry: 'paysecure-wasm/reveal', ps: reveal, file: path.join(pkgDir, 'paysecure_wasm_reveal.node.cjs'), versions: ['v2', 'v3'], full: false,
    wasm: path.join(pkgDir, 'paysecure_wasm_reveal_bg.wasm') },
];
/** What only the full entry point has. */
export const FULL_ONLY = { functions: ['encryptCard'], sessionMethods: ['encryptBody', 'decryptBody'] };
export const forge = require('node-forge');

export const vectors = JSON.parse(readFileSync(path.join(root, 'tests', 'data', 'paysecure-v1-v2.json'), 'utf8'));
export const publicPem = vectors.rsa.public_spki_pem;
export const privatePem = vectors.rsa.private_pkcs8_pem;
export const privateDerB64 = privatePem.replace(/-----[^-]+-----|\s/g, '');

export const b64 = (bytes) => Buffer.from(bytes).toString('base64');
export const unb64 = (s) => Buffer.from(s, 'base64');
export const hexToB64 = (h) => Buffer.from(h, 'hex').toString('base64');

/** Asserts `fn` throws a PaySecureError with `code`. */
export function throwsCode(assert, fn, code) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof Error, 'an Error instance');
    assert.equal(e.name, 'PaySecureError');
    assert.equal(e.code, code);
    assert.equal(typeof e.message, 'string');
    return true;
  });
}

export const VERSIONS = ['v1', 'v2', 'v3'];
export const KEY_BITS = [128, 192, 256];
