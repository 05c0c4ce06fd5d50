// The npm package `paysecure-wasm` as scripts/build.sh builds and packs it:
// its files and metadata, `npm publish --dry-run`, every entry point from the
// packed tarball installed as a user installs it (Node ESM and CommonJS,
// TypeScript --strict), and the loading errors (NOT_INITIALIZED,
// WASM_LOAD_FAILED, INVALID_INPUT). Bundlers, browsers and the CSP refusal:
// tests/integration (make test-integration).
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { root, publicPem } from './helpers.mjs';
import { listings } from '../../scripts/ct-check.mjs';

const dir = path.join(root, 'pkg', 'paysecure-wasm');
const tgz = path.join(root, 'target', 'npm', 'paysecure-wasm.tgz');
const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
const npm = (args, cwd) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

test('one package, with the metadata a registry user expects', () => {
  assert.equal(pkg.name, 'paysecure-wasm');
  assert.match(pkg.version, /^\d+\.\d+\.\d+/);
  assert.equal(pkg.license, 'MIT OR Apache-2.0');
  assert.equal(pkg.type, 'module');
  assert.deepEqual(pkg.sideEffects, ['./paysecure_wasm.node.mjs', './paysecure_wasm.node.cjs',
    './paysecure_wasm_reveal.node.mjs', './paysecure_wasm_reveal.node.cjs']);
  assert.match(pkg.repository.url, /^git\+https:\/\/github\.com\/.+\.git$/);
  assert.equal(pkg.engines.node, '>=20');
  for (const field of ['description', 'homepage']) assert.equal(typeof pkg[field], 'string', field);
  // Two entry points, each with its inline variant and its module.
  assert.deepEqual(Object.keys(pkg.exports), ['.', './inline', './paysecure_wasm_bg.wasm',
    './reveal', './reveal/inline', './paysecure_wasm_reveal_bg.wasm', './package.json']);
  for (const [sub, stem] of [['.', 'paysecure_wasm'], ['./reveal', 'paysecure_wasm_reveal']]) {
    // Node first (browsers' bundlers skip it), then workers, browsers, the rest.
    const main = pkg.exports[sub];
    assert.deepEqual(Object.keys(main), ['types', 'node', 'worker', 'browser', 'default']);
    assert.deepEqual(main.types, { import: `./${stem}.d.ts`, require: `./${stem}.d.cts` });
    assert.deepEqual(main.node, { import: `./${stem}.node.mjs`, require: `./${stem}.node.cjs` });
    for (const c of ['worker', 'browser', 'default']) assert.equal(main[c], `./${stem}.js`);
    assert.deepEqual(pkg.exports[sub === '.' ? './inline' : `${sub}/inline`], { types: `./${stem}.d.ts`, default: `./${stem}.inline.js` });
  }
  const values = (v) => (typeof v === 'string' ? [v] : Object.values(v).flatMap(values));
  const targets = values(pkg.exports);
  for (const f of [...targets, pkg.main, pkg.module, pkg.types].map((f) => f.replace(/^\.\//, ''))) {
    assert.ok(existsSync(path.join(dir, f)), `${f} is referenced but missing`);
  }
});

test('npm pack ships exactly the package files; npm publish --dry-run passes', () => {
  const [packed] = JSON.parse(npm(['pack', '--dry-run', '--json'], dir));
  const files = packed.files.map((f) => f.path).sort();
  assert.deepEqual(files, [
    'LICENSE-APACHE', 'LICENSE-MIT', 'README.md', 'package.json',
    'paysecure_wasm.d.cts', 'paysecure_wasm.d.ts', 'paysecure_wasm.inline.js', 'paysecure_wasm.js',
    'paysecure_wasm.node.cjs', 'paysecure_wasm.node.mjs', 'paysecure_wasm_bg.wasm', 'paysecure_wasm_core.js',
    'paysecure_wasm_reveal.d.cts', 'paysecure_wasm_reveal.d.ts', 'paysecure_wasm_reveal.inline.js', 'paysecure_wasm_reveal.js',
    'paysecure_wasm_reveal.node.cjs', 'paysecure_wasm_reveal.node.mjs', 'paysecure_wasm_reveal_bg.wasm',
    'paysecure_wasm_reveal_core.js',
  ]);
  // The tarball the tests install is this directory, packed.
  const listed = execFileSync('tar', ['-tzf', tgz], { encoding: 'utf8' }).trim().split('\n').map((f) => f.replace(/^package\//, '')).sort();
  assert.deepEqual(listed, files);
  npm(['publish', '--dry-run', '--tag', 'dry-run'], dir);
});

const REVEAL_ABSENT = ['function encryptCard', 'interface CardInput', 'interface EncryptCardOptions'];
for (const stem of ['paysecure_wasm', 'paysecure_wasm_reveal']) {
  test(`the declarations of ${stem}: typed, documented, no \`any\`, the init functions of src/js/init.d.ts`, () => {
    const dts = readFileSync(path.join(dir, `${stem}.d.ts`), 'utf8');
    assert.equal(readFileSync(path.join(dir, `${stem}.d.cts`), 'utf8'), dts);
    assert.doesNotMatch(dts.replace(/\/\*\*[\s\S]*?\*\//g, ''), /\bany\b/, "'any' in the public declarations");
    assert.doesNotMatch(dts, /InitOutput|__wbg_init/, "wasm-bindgen's raw init types are not part of the API");
    const reveal = stem === 'paysecure_wasm_reveal';
    for (const name of ['class Session', 'function pinBlock', 'function parsePinBlock', 'function pinWeakness',
      'type PinWeaknessCode', 'function luhnCheck', 'function cardBrand', 'function maskPan', ...REVEAL_ABSENT,
      'interface PaySecureError', 'type PaySecureErrorCode',
      'type SessionWithId', 'function initAsync', 'function initSync', 'function isInitialized', 'default initAsync']) {
      assert.equal(dts.includes(`export ${name}`), !(reveal && REVEAL_ABSENT.includes(name)), name);
    }
    // The Session methods of the encrypted bodies: only in the full entry point.
    const session = dts.slice(dts.indexOf('export class Session'), dts.indexOf('\n}', dts.indexOf('export class Session')));
    for (const m of ['encryptBody(', 'decryptBody(']) assert.equal(session.includes(m), !reveal, m);
    assert.ok(dts.includes(`'V1_NOT_IN_ENTRY'`), 'the reveal entry point\'s code is in both unions');
    assert.ok(dts.includes('@example'), 'doc examples in the declarations');
    assert.doesNotMatch(dts, /sessionId!/, 'no non-null assertions needed in the examples');
  });
}

test('the reveal module links no card capture, JWE, SHA-256 or encrypted bodies (the full module does)', () => {
  // Function names of each shipped module, from cargo's artifact rebuilt with names
  // (scripts/ct-check.mjs checks that the rebuild is the shipped module).
  const functions = (stem) => [...listings(stem).named.matchAll(/^ \(func \$(\S+)/gm)].map((m) => m[1]);
  const ABSENT = /^"?(sha2::|paysecure_core::(jwe|body|capture)::|paysecure_wasm::(capture|body)::)/;
  const full = functions('paysecure_wasm').filter((f) => ABSENT.test(f));
  const reveal = functions('paysecure_wasm_reveal');
  assert.ok(full.length >= 8, `the full module has them: ${full.join(', ')}`);
  assert.ok(reveal.length > 100, 'the reveal module has its functions');
  assert.deepEqual(reveal.filter((f) => ABSENT.test(f)), []);
});

/** A fresh directory with the packed tarball installed as a user installs it. */
function installed() {
  const app = mkdtempSync(path.join(os.tmpdir(), 'paysecure-pkg-'));
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }));
  npm(['install', '--no-audit', '--no-fund', '--loglevel=error', tgz], app);
  return app;
}

test('from the tarball: Node ESM and CommonJS work with no init; nothing runs on import', (t) => {
  const app = installed();
  t.after(() => rmSync(app, { recursive: true, force: true }));
  writeFileSync(path.join(app, 'pem.txt'), publicPem);
  writeFileSync(path.join(app, 'esm.mjs'), `
    import { Session, isInitialized, pinBlock } from 'paysecure-wasm';
    import { readFileSync } from 'node:fs';
    const before = isInitialized();
    const s = Session.create(readFileSync('pem.txt', 'utf8'));
    console.log(JSON.stringify({ before, after: isInitialized(), id: Buffer.from(s.sessionId, 'base64').length, pb: pinBlock('1234') }));`);
  writeFileSync(path.join(app, 'cjs.cjs'), `
    const ps = require('paysecure-wasm');
    const before = ps.isInitialized();
    ps.initSync();
    console.log(JSON.stringify({ before, after: ps.isInitialized(), brand: ps.cardBrand('4111111111111111'), keys: Object.keys(ps).sort() }));`);
  const esm = JSON.parse(execFileSync('node', ['esm.mjs'], { cwd: app, encoding: 'utf8' }));
  assert.deepEqual(esm, { before: false, after: true, id: 256, pb: '241234FFFFFFFFFF' });
  const cjs = JSON.parse(execFileSync('node', ['cjs.cjs'], { cwd: app, encoding: 'utf8' }));
  assert.equal(cjs.before, false);
  assert.equal(cjs.after, true);
  assert.equal(cjs.brand, 'VISA');
  assert.deepEqual(cjs.keys, ['PublicKey', 'Session', 'cardBrand', 'default', 'encryptCard', 'initAsync', 'initSync',
    'isInitialized', 'isPaySecureError', 'luhnCheck', 'maskPan', 'parsePinBlock', 'pinBlock', 'pinWeakness']);
  // `paysecure-wasm/inline` needs no file besides itself.
  writeFileSync(path.join(app, 'inline.mjs'), `
    import { initSync, maskPan } from 'paysecure-wasm/inline';
    initSync();
    console.log(maskPan('4111111111111111'));`);
  assert.equal(execFileSync('node', ['inline.mjs'], { cwd: app, encoding: 'utf8' }).trim(), '411111******1111');
  // `paysecure-wasm/reveal` (and its inline variant), ESM and CommonJS: no V1, no encryptCard, no bodies.
  writeFileSync(path.join(app, 'reveal.mjs'), `
    import { Session, isInitialized } from 'paysecure-wasm/reveal';
    import * as inline from 'paysecure-wasm/reveal/inline';
    import { readFileSync } from 'node:fs';
    const pem = readFileSync('pem.txt', 'utf8');
    const before = isInitialized();
    const s = Session.create(pem);
    let v1;
    try { Session.create(pem, { version: 'v1' }); } catch (e) { v1 = e.code; }
    inline.initSync();
    const t = inline.Session.fromKey(s.exportKey());
    console.log(JSON.stringify({ before, after: isInitialized(), id: Buffer.from(s.sessionId, 'base64').length, v1,
      body: typeof s.encryptBody, pin: t.decryptPin(s.encryptPin('1432')), inlineKeys: Object.keys(inline).sort() }));`);
  writeFileSync(path.join(app, 'reveal.cjs'), `
    const ps = require('paysecure-wasm/reveal');
    console.log(JSON.stringify({ keys: Object.keys(ps).sort(), mask: ps.maskPan('4111111111111111') }));`);
  const revealKeys = ['PublicKey', 'Session', 'cardBrand', 'default', 'initAsync', 'initSync', 'isInitialized',
    'isPaySecureError', 'luhnCheck', 'maskPan', 'parsePinBlock', 'pinBlock', 'pinWeakness'];
  assert.deepEqual(JSON.parse(execFileSync('node', ['reveal.mjs'], { cwd: app, encoding: 'utf8' })),
    { before: false, after: true, id: 256, v1: 'V1_NOT_IN_ENTRY', body: 'undefined', pin: '1432', inlineKeys: revealKeys });
  assert.deepEqual(JSON.parse(execFileSync('node', ['reveal.cjs'], { cwd: app, encoding: 'utf8' })),
    { keys: revealKeys, mask: '411111******1111' });
});

test('from the tarball: tsc --strict compiles the README-style uses (ESM and CommonJS resolution)', (t) => {
  const app = installed();
  t.after(() => rmSync(app, { recursive: true, force: true }));
  writeFileSync(path.join(app, 'use.ts'), `
    import { initAsync, Session, isPaySecureError, type PaySecureErrorCode } from 'paysecure-wasm';
    import { initSync } from 'paysecure-wasm/inline';
    import * as small from 'paysecure-wasm/reveal';
    import { initSync as revealInitSync } from 'paysecure-wasm/reveal/inline';
    export async function revealPin(pem: string, value: { data: string; iv: string }): Promise<string> {
      await small.initAsync();
      revealInitSync();
      const s = small.Session.create(pem, { version: 'v3' });
      // @ts-expect-error: encrypted bodies are not in paysecure-wasm/reveal
      s.encryptBody('x');
      // @ts-expect-error: nor is card capture
      small.encryptCard({ cardNumber: '4111111111111111', expiryMonth: 1, expiryYear: 2031 }, pem, { keyAlias: 'k' });
      const code: small.PaySecureErrorCode = 'V1_NOT_IN_ENTRY';
      return s.decryptPin(value) + code;
    }
    export async function reveal(pem: string, token: string, ephemeralKey: string): Promise<string> {
      await initAsync();
      initSync();
      const s = Session.create(pem);
      const headers: Record<string, string> = { 'Session-Id': s.sessionId, Authorization: \`Bearer \${ephemeralKey}\` };
      const res = await fetch(\`/v2/cards/\${token}/reveal\`, { method: 'POST', headers });
      try {
        return s.decrypt((await res.json()).pan);
      } catch (e) {
        const code: PaySecureErrorCode | undefined = isPaySecureError(e) ? e.code : undefined;
        throw new Error(code);
      } finally {
        s.free();
      }
    }`);
  writeFileSync(path.join(app, 'use.cts'), `
    import ps = require('paysecure-wasm');
    export const brand: string = ps.cardBrand('4111111111111111');
    export const id: string = ps.Session.create('pem').sessionId;
    import reveal = require('paysecure-wasm/reveal');
    export const pin: string = reveal.parsePinBlock('241432FFFFFFFFFF');`);
  const tsc = path.join(root, 'node_modules', '.bin', 'tsc');
  for (const [module, files] of [['nodenext', ['use.ts', 'use.cts']], ['preserve', ['use.ts']]]) {
    const args = ['--strict', '--noEmit', '--skipLibCheck', 'false', '--target', 'es2022', '--lib', 'es2022,dom',
      '--module', module, '--types', '', ...(module === 'preserve' ? ['--moduleResolution', 'bundler'] : []), ...files];
    try {
      execFileSync(tsc, args, { cwd: app, encoding: 'utf8' });
    } catch (e) {
      assert.fail(`tsc --module ${module}: ${e.stdout}${e.stderr}`);
    }
  }
});

for (const stem of ['paysecure_wasm', 'paysecure_wasm_reveal']) {
  test(`${stem}.js: before initAsync(), every call throws NOT_INITIALIZED (browser entry); load failures are PaySecureErrors`, async () => {
    // A fresh copy of the browser entry and its glue (import with a query makes a new module instance).
    const url = pathToFileURL(path.join(dir, `${stem}.js`)).href;
    const core = await import(`${pathToFileURL(path.join(dir, `${stem}_core.js`)).href}?fresh=1`);
    const ps = await import(url);
    assert.equal(ps.isInitialized(), false);
    for (const call of [() => ps.cardBrand('4111111111111111'), () => ps.Session.create(publicPem), () => ps.pinBlock('1234'),
      () => ps.Session.fromKey('AAAAAAAAAAAAAAAAAAAAAA==')]) {
      assert.throws(call, (e) => {
        assert.ok(ps.isPaySecureError(e), 'isPaySecureError works before init');
        assert.equal(e.code, 'NOT_INITIALIZED');
        assert.match(e.message, /initAsync\(\)/);
        return true;
      });
    }
    // In Node the default source (the file URL) cannot be fetched: a clean error, with the cause.
    await assert.rejects(ps.initAsync(), (e) => e.code === 'WASM_LOAD_FAILED' && e.cause instanceof Error);
    await assert.rejects(ps.initAsync(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])), (e) => e.code === 'WASM_LOAD_FAILED');
    await assert.rejects(ps.initAsync(new Uint8Array([1, 2, 3])), (e) => e.code === 'WASM_LOAD_FAILED');
    assert.throws(() => ps.initSync('not bytes'), (e) => e.code === 'INVALID_INPUT' && /initAsync/.test(e.message));
    assert.throws(() => ps.initSync(), (e) => e.code === 'INVALID_INPUT');
    assert.equal(ps.isInitialized(), false, 'a failed init leaves it uninitialized, and it can be retried');
    // Two concurrent inits share one load.
    const bytes = readFileSync(path.join(dir, `${stem}_bg.wasm`));
    await Promise.all([ps.initAsync(bytes), ps.initAsync({ module_or_path: bytes }), ps.default(bytes)]);
    assert.equal(ps.isInitialized(), true);
    assert.equal(ps.cardBrand('4111111111111111'), 'VISA');
    ps.initSync(bytes); // a no-op now
    // The fresh glue copy is its own module: still uninitialized.
    assert.equal(core.__paysecure.isInitialized(), false);
    assert.throws(() => core.maskPan('4111111111111111'), (e) => e.code === 'NOT_INITIALIZED');
  });
}

for (const stem of ['paysecure_wasm', 'paysecure_wasm_reveal']) {
  test(`${stem}: isPaySecureError: the declared codes, nothing else, never throws`, async () => {
    const ps = await import(pathToFileURL(path.join(dir, `${stem}.node.mjs`)).href);
    const dts = readFileSync(path.join(dir, `${stem}.d.ts`), 'utf8');
    const codes = [.../export type PaySecureErrorCode =([^;]*);/.exec(dts)[1].matchAll(/'([A-Z0-9_]+)'/g)].map((m) => m[1]);
    assert.ok(codes.length > 20);
    assert.ok(codes.includes('V1_NOT_IN_ENTRY'));
    const err = (code, name = 'PaySecureError') => Object.assign(new Error('m'), { name, code });
    for (const c of codes) assert.equal(ps.isPaySecureError(err(c)), true, c);
    for (const bad of [err('NOPE'), err('INVALID_PIN', 'Error'), { name: 'PaySecureError', code: 'INVALID_PIN' }, null, 'x', 1,
      new Proxy({}, { get() { throw new Error('trap'); } })]) {
      assert.equal(ps.isPaySecureError(bad), false);
    }
  });
}
