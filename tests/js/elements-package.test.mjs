// The published shape of @paysecure/elements: the exact files `npm pack`
// puts in the tarball, the package.json fields integrators and registries
// read, `npm publish --dry-run`, and import without a DOM (SSR). That the
// server serves this very source at /sdk/paysecure-embed.js is checked over
// HTTP in tests/browser/elements-sdk.test.mjs.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ensureBuilt, pkgDir, root, tarball, scratchProject } from './elements-support.mjs';

ensureBuilt();
const pkg = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
const npmEnv = { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' };

test('the tarball holds exactly the package files', () => {
  const list = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).trim().split('\n').sort();
  assert.deepEqual(list, [
    'package/LICENSE-APACHE', 'package/LICENSE-MIT', 'package/README.md', 'package/package.json',
    'package/src/events.js', 'package/src/index.d.ts', 'package/src/index.js',
    'package/src/react.d.ts', 'package/src/react.js', 'package/src/testing.d.ts', 'package/src/testing.js',
    'package/src/vue.d.ts', 'package/src/vue.js',
  ]);
});

test('package.json: name, exports with types per entry, no side effects, licence of the crate, optional peers', () => {
  assert.equal(pkg.name, '@paysecure/elements');
  assert.equal(pkg.type, 'module');
  assert.equal(pkg.sideEffects, false);
  const cargo = readFileSync(path.join(root, 'Cargo.toml'), 'utf8');
  assert.equal(pkg.license, cargo.match(/^license = "(.*)"$/m)[1]);
  assert.deepEqual(Object.keys(pkg.exports), ['.', './react', './vue', './testing', './package.json']);
  for (const [entry, target] of Object.entries(pkg.exports)) {
    if (entry === './package.json') continue;
    assert.deepEqual(Object.keys(target), ['types', 'default'], `${entry}: types first`);
    for (const file of Object.values(target)) assert.ok(pkg.files.includes(file.slice(2)), `${file} is packed`);
  }
  // The repository is the crate's (Cargo.toml), as paysecure-wasm's package says too.
  const repository = cargo.match(/^repository = "(.*)"$/m)[1];
  assert.deepEqual(pkg.repository, { type: 'git', url: `git+${repository}.git`, directory: 'www/elements' });
  assert.equal(pkg.bugs.url, `${repository}/issues`);
  assert.ok(pkg.homepage.startsWith(`${repository}/`));
  for (const licence of ['LICENSE-MIT', 'LICENSE-APACHE']) {
    assert.ok(readFileSync(path.join(pkgDir, licence)).equals(readFileSync(path.join(root, licence))), licence);
  }
  assert.ok(pkg.engines?.node);
  assert.deepEqual(pkg.peerDependenciesMeta, { react: { optional: true }, vue: { optional: true } });
  assert.equal(pkg.dependencies, undefined);
});

test('npm publish --dry-run passes on pkg/elements', () => {
  const out = execFileSync('npm', ['publish', '--dry-run', '--access', 'public'], { cwd: pkgDir, encoding: 'utf8', env: npmEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  assert.doesNotMatch(out, /npm (error|ERR!)/);
});

test('every entry imports in Node without a DOM, and touches no browser global (SSR-safe)', async () => {
  const project = scratchProject(['react', 'vue', '@vue']);
  try {
    const script = `
      for (const entry of ['@paysecure/elements', '@paysecure/elements/react', '@paysecure/elements/vue', '@paysecure/elements/testing']) {
        const m = await import(entry);
        console.log(entry, Object.keys(m).sort().join(','));
      }
      console.log(typeof window, typeof document);`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: project.dir, encoding: 'utf8' });
    assert.match(out, /^@paysecure\/elements ERROR_CODES,ElementsError,PROTOCOL_VERSION,STYLE_VARIABLES,mountCardReveal,mountPin,mountSetPin$/m);
    assert.match(out, /^@paysecure\/elements\/react CALLBACK_PROPS,CardReveal,PinWidget$/m);
    assert.match(out, /^@paysecure\/elements\/vue CardReveal,PinWidget$/m);
    assert.match(out, /^@paysecure\/elements\/testing createMockIssuer$/m);
    assert.match(out, /^undefined undefined$/m);
  } finally {
    project.cleanup();
  }
});
