// The built npm packages (scripts/build.sh): one per wasm-bindgen target, each
// complete, typed, and with the fields wasm-pack used to write.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { root } from './helpers.mjs';

for (const target of ['web', 'bundler', 'nodejs']) {
  test(`pkg/${target} is a complete, typed npm package`, () => {
    const dir = path.join(root, 'pkg', target);
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
    assert.equal(pkg.name, 'paysecure-wasm');
    assert.equal(pkg.types, 'paysecure_wasm.d.ts');
    for (const f of pkg.files) assert.ok(existsSync(path.join(dir, f)), `${target}: ${f} listed but missing`);
    assert.ok(pkg.files.includes(pkg.main) && pkg.files.includes(pkg.types), `${target}: main and types are shipped`);
    for (const field of ['version', 'description', 'license']) assert.equal(typeof pkg[field], 'string', `${target}: ${field}`);
    assert.equal(pkg.type, target === 'nodejs' ? undefined : 'module', `${target}: module type`);
    assert.ok(existsSync(path.join(dir, 'README.md')), `${target}: README.md`);
    const dts = readFileSync(path.join(dir, pkg.types), 'utf8');
    // wasm-bindgen's raw export table (InitOutput, web target only) is typed
    // with `any`; the public API must not be.
    const publicDts = dts.replace(/export interface InitOutput \{[\s\S]*?\n\}/, '').replace(/\/\*\*[\s\S]*?\*\//g, '');
    assert.doesNotMatch(publicDts, /\bany\b/, `${target}: 'any' in the public declarations`);
    for (const name of ['class Session', 'function pinBlock', 'function parsePinBlock', 'function pinWeakness',
      'type PinWeaknessCode', 'function luhnCheck',
      'function cardBrand', 'function maskPan', 'function encryptCard', 'interface CardInput',
      'interface EncryptCardOptions', 'interface PaySecureError', 'type PaySecureErrorCode']) {
      assert.ok(dts.includes(`export ${name}`), `${target}: ${name}`);
    }
    assert.ok(dts.includes('@example'), 'doc examples in the declarations');
  });
}
