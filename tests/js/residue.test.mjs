// Issue #14 in V8 (the nodejs build): no secret outlives the call that
// handled it in the module's linear memory (tests/js/residue-scan.mjs has the
// method), randomness is written straight into that memory, and no call
// leaves bytes on the shadow stack.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { residueScan, stackTopOf, stackResidue } from './residue-scan.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkgDir = path.join(root, 'pkg', 'nodejs');
if (!existsSync(path.join(pkgDir, 'paysecure_wasm.js'))) {
  throw new Error(`${pkgDir} is missing: run scripts/build.sh nodejs first`);
}

// The nodejs glue keeps its instance private: note it as it is made.
const instances = [];
const Instance = WebAssembly.Instance;
WebAssembly.Instance = new Proxy(Instance, {
  construct(target, args, newTarget) {
    const instance = Reflect.construct(target, args, newTarget);
    instances.push(instance);
    return instance;
  },
});
const ps = createRequire(import.meta.url)(pkgDir);
WebAssembly.Instance = Instance;
assert.equal(instances.length, 1, 'the package makes one instance');
const { memory } = instances[0].exports;
const stackTop = stackTopOf(readFileSync(path.join(pkgDir, 'paysecure_wasm_bg.wasm')));
const vectors = JSON.parse(readFileSync(path.join(root, 'tests', 'data', 'paysecure-v1-v2.json'), 'utf8'));
const pem = vectors.rsa.public_spki_pem;

test('residue scan (V8): no secret is left in linear memory after any public function', async () => {
  const { findings, table, controls, rows } = await residueScan({ ps, memory, stackTop, vectors });
  console.log(`residue scan, nodejs build, ${rows.length} calls scanned:\n${table}`);
  assert.ok(controls >= 8, 'the live session keys were seen while alive');
  assert.deepEqual(findings, []);
});

test('random bytes are written straight into wasm memory, never staged in a JavaScript buffer', () => {
  const into = [];
  const { crypto } = globalThis;
  const getRandomValues = crypto.getRandomValues;
  crypto.getRandomValues = (array) => {
    into.push(array.buffer === memory.buffer ? 'wasm memory' : `a ${array.buffer.byteLength}-byte JS buffer`);
    return getRandomValues.call(crypto, array);
  };
  try {
    const s = ps.Session.create(pem);
    s.encrypt('x');
    s.free();
    ps.pinBlock('1234', { format: 1 });
  } finally {
    crypto.getRandomValues = getRandomValues;
  }
  assert.ok(into.length >= 3, `crypto.getRandomValues was called (${into.length} times)`);
  assert.deepEqual([...new Set(into)], ['wasm memory']);
});

test('stack: a call leaves no byte on the shadow stack below its own frame', async () => {
  const key = 'YD3rEBXKcb4rc67whX13gR81LAc7YQjXLZgQowkU3/Q=';
  const s = ps.Session.fromKey(key);
  const v = s.encrypt('4111111111111111');
  const p = s.encryptPin('1432');
  const body = s.encryptBody('{"a":1}');
  const calls = {
    'Session.fromKey': () => ps.Session.fromKey(key).free(),
    'Session.create v2': () => ps.Session.create(pem).free(),
    'Session.create v1': () => ps.Session.create(pem, { version: 'v1' }).free(),
    decrypt: () => s.decrypt(v),
    decryptPin: () => s.decryptPin(p),
    encryptPin: () => s.encryptPin('1432'),
    encrypt: () => s.encrypt('4111111111111111'),
    encryptBody: () => s.encryptBody('{"a":1}'),
    decryptBody: () => s.decryptBody(body),
    exportKey: () => s.exportKey(),
    pinBlock: () => ps.pinBlock('1234', { format: 3, pan: '4111111111111111' }),
    parsePinBlock: () => ps.parsePinBlock('241432FFFFFFFFFF'),
    encryptCard: () => ps.encryptCard({ cardNumber: '4111111111111111', expiryMonth: 12, expiryYear: 2031, cvv: '123' },
      pem, { keyAlias: 'k1' }),
  };
  const report = [];
  for (const [name, call] of Object.entries(calls)) {
    const { depth, left } = stackResidue({ memory, stackTop }, call);
    report.push(`${name}: ${depth} bytes deep, ${left.length} left non-zero, deepest at ${Math.max(0, ...left)}`);
  }
  s.free();
  console.log(report.join('\n'));
});
