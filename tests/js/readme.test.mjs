// Runs every ```js block of the npm README (src/npm-README.md) against the built nodejs package, so
// the README's examples (and the values they assert) stay true.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, writeFileSync, mkdirSync, symlinkSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { root } from './helpers.mjs';

const readme = readFileSync(path.join(root, 'src', 'npm-README.md'), 'utf8');
const blocks = [...readme.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => m[1]);

test('README has runnable JavaScript examples', () => {
  assert.ok(blocks.length >= 3, `found ${blocks.length}`);
});

const dir = mkdtempSync(path.join(os.tmpdir(), 'paysecure-readme-'));
mkdirSync(path.join(dir, 'node_modules'));
symlinkSync(path.join(root, 'pkg', 'paysecure-wasm'), path.join(dir, 'node_modules', 'paysecure-wasm'), 'dir');
test.after(() => rmSync(dir, { recursive: true, force: true }));

blocks.forEach((code, i) => {
  const title = code.split('\n').find((l) => l.startsWith('//'))?.slice(3) ?? `block ${i + 1}`;
  test(`README example ${i + 1} runs: ${title}`, () => {
    const file = path.join(dir, `example-${i + 1}.mjs`);
    writeFileSync(file, code);
    execFileSync(process.execPath, [file], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  });
});
