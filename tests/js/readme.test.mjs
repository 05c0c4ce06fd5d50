// The npm README (src/npm-README.md, shipped as the package's README.md), checked as an npm user
// meets it: the packed tarball (target/npm/paysecure-wasm.tgz) installed into an empty directory,
// every ```js block run there as an ES module (so what they assert is what the package does, with
// nothing from this repository at hand), every ```ts block compiled with tsc --strict against the
// installed declarations. The browser behaviour of the ```ts blocks is what tests/integration runs.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { root } from './helpers.mjs';

const readme = readFileSync(path.join(root, 'src', 'npm-README.md'), 'utf8');
const blocks = (lang) => [...readme.matchAll(new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)^\`\`\`$`, 'gm'))].map((m) => m[1]);
const js = blocks('js');
const ts = blocks('ts');

test('the README has runnable JavaScript and TypeScript examples, and nothing from the repository', () => {
  assert.ok(js.length >= 6, `found ${js.length} js blocks`);
  assert.ok(ts.length >= 2, `found ${ts.length} ts blocks`);
  const prose = readme.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  assert.doesNotMatch(readme, /tests\/data/, 'no repository paths');
  assert.doesNotMatch(prose, /\]\((?!https:|#)/, 'no relative links (they break on the registry)');
  assert.match(readme, /^npm install paysecure-wasm$/m);
});

const app = mkdtempSync(path.join(os.tmpdir(), 'paysecure-readme-'));
test.before(() => {
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'readme-app', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', path.join(root, 'target', 'npm', 'paysecure-wasm.tgz')],
    { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
});
test.after(() => rmSync(app, { recursive: true, force: true }));

js.forEach((code, i) => {
  const title = code.split('\n').find((l) => l.startsWith('//'))?.slice(3) ?? `block ${i + 1}`;
  test(`README example ${i + 1} runs from the installed package: ${title}`, () => {
    const file = path.join(app, `example-${i + 1}.mjs`);
    writeFileSync(file, code);
    execFileSync(process.execPath, [file], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
  });
});

test('the README\'s TypeScript examples compile under tsc --strict against the installed declarations', () => {
  const files = ts.map((code, i) => {
    const file = `example-${i + 1}.ts`;
    // Each block is a module of its own; `issuerPublicKeyPem` is what the app fetched.
    writeFileSync(path.join(app, file), `declare const issuerPublicKeyPem: string;\n${code}\nexport {};\n`);
    return file;
  });
  try {
    execFileSync(path.join(root, 'node_modules', '.bin', 'tsc'), ['--strict', '--noEmit', '--target', 'es2022',
      '--lib', 'es2022,dom', '--module', 'nodenext', '--types', '', ...files], { cwd: app, encoding: 'utf8' });
  } catch (e) {
    assert.fail(`${e.stdout}${e.stderr}`);
  }
});
