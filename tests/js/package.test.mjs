// The built npm packages: one per wasm-pack target, each complete and typed.
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
