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
import {
  residueScan, stackTopOf, stackResidue, deterministicRandom, unexplainedDifferences, STACK_WIPE_BYTES,
} from './residue-scan.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkgDir = path.join(root, 'pkg', 'paysecure-wasm');
if (!existsSync(path.join(pkgDir, 'paysecure_wasm.js'))) {
  throw new Error(`${pkgDir} is missing: run scripts/build.sh first`);
}
const require = createRequire(import.meta.url);

/**
 * A fresh instance of the package's Node build: its exports, its memory, which the
 * glue keeps private (noted as WebAssembly.Instance makes it), and a count of
 * the glue's calls of `__wbindgen_realloc`.
 */
function load() {
  delete require.cache[require.resolve(pkgDir)];
  let memory;
  const reallocs = { count: 0 };
  const Instance = WebAssembly.Instance;
  WebAssembly.Instance = new Proxy(Instance, {
    construct(target, args, newTarget) {
      const { exports } = Reflect.construct(target, args, newTarget);
      memory = exports.memory;
      const realloc = exports.__wbindgen_realloc;
      return { exports: { ...exports, __wbindgen_realloc: (...a) => { reallocs.count++; return realloc(...a); } } };
    },
  });
  try {
    const ps = require(pkgDir);
    ps.initSync(); // in Node the module loads on first use: here, while Instance is watched
    return { ps, memory, reallocs };
  } finally {
    WebAssembly.Instance = Instance;
  }
}

const { ps, memory, reallocs } = load();
const stackTop = stackTopOf(readFileSync(path.join(pkgDir, 'paysecure_wasm_bg.wasm')));
const vectors = JSON.parse(readFileSync(path.join(root, 'tests', 'data', 'paysecure-v1-v2.json'), 'utf8'));
const pem = vectors.rsa.public_spki_pem;

test('residue scan (V8): no secret is left in linear memory after any public function', async () => {
  const { findings, table, controls, rows } = await residueScan({ ps, memory, stackTop, vectors });
  console.log(`residue scan, nodejs build, ${rows.length - 1} calls scanned:\n${table}`);
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

test('secret strings are read without a reallocation, so no partial copy is left in freed memory', () => {
  // wasm-bindgen's own string passing (`as_string`, `&str`) writes the ASCII
  // start of a string, then reallocates when it meets a non-ASCII character:
  // a move leaves that start behind, unwiped.
  const s = ps.Session.fromKey('YD3rEBXKcb4rc67whX13gR81LAc7YQjXLZgQowkU3/Q=');
  const start = reallocs.count;
  s.encrypt('4111111111111111 Zoë Hølder');
  s.encryptBody('{"pan":"4111111111111111","name":"Jürgen"}');
  ps.encryptCard({ cardNumber: '4111 1111 1111 1111', expiryMonth: 12, expiryYear: 2031, cvv: '123',
    cardholderName: 'JONATHAN Q HÖLDER' }, pem, { keyAlias: 'k1' });
  assert.equal(ps.luhnCheck('4111 1111 1111 1111 é'), false);
  for (const bad of [() => s.encryptPin('1432é'), () => ps.pinBlock('1432', { format: 0, pan: '4111111111111111é' }),
    () => ps.Session.fromKey('YD3rEBXKcb4rc67whX13gR81LAc7YQjXLZgQowkU3/Qé')]) {
    assert.throws(bad, { name: 'PaySecureError' });
  }
  s.free();
  assert.equal(reallocs.count - start, 0, 'reallocations while reading secret strings');
});

test('stack: every call wipes the shadow stack its callees used, and nothing deeper is touched', () => {
  const key = 'YD3rEBXKcb4rc67whX13gR81LAc7YQjXLZgQowkU3/Q=';
  const s = ps.Session.fromKey(key);
  const v1 = ps.Session.fromKey(key, { version: 'v1', allowLegacyCbc: true });
  const v = s.encrypt('4111111111111111');
  const p = s.encryptPin('1432');
  const c = v1.encrypt('4111111111111111');
  const body = s.encryptBody('{"a":1}');
  const issuer = ps.PublicKey.parse(pem);
  const card = { cardNumber: '4111 1111 1111 1111', expiryMonth: 12, expiryYear: 2031, cvv: '123', cardholderName: 'Zoë' };
  const calls = {
    'Session.fromKey': () => ps.Session.fromKey(key),
    'Session.create v2': () => ps.Session.create(pem),
    'Session.create v1': () => ps.Session.create(pem, { version: 'v1' }),
    'PublicKey.createSession': () => issuer.createSession(),
    decrypt: () => s.decrypt(v),
    'decrypt v1': () => v1.decrypt(c),
    decryptBytes: () => s.decryptBytes(v),
    decryptPin: () => s.decryptPin(p),
    encryptPin: () => s.encryptPin('1432'),
    encrypt: () => s.encrypt('4111111111111111 Zoë'),
    'encrypt v1': () => v1.encrypt(new Uint8Array(40)),
    encryptBody: () => s.encryptBody('{"a":"Zoë"}'),
    decryptBody: () => s.decryptBody(body),
    exportKey: () => s.exportKey(),
    pinBlock: () => ps.pinBlock('1234', { format: 3, pan: '4111111111111111' }),
    parsePinBlock: () => ps.parsePinBlock('241432FFFFFFFFFF'),
    pinWeakness: () => ps.pinWeakness('1234'),
    luhnCheck: () => ps.luhnCheck('4111111111111111'),
    cardBrand: () => ps.cardBrand('4111111111111111'),
    maskPan: () => ps.maskPan('4111111111111111'),
    encryptCard: () => ps.encryptCard(card, pem, { keyAlias: 'k1' }),
    'a failure (INVALID_PIN)': () => { try { s.encryptPin('12é'); } catch { /* expected */ } },
  };
  const report = [];
  const problems = [];
  for (const [name, call] of Object.entries(calls)) {
    let made;
    const r = stackResidue({ memory, stackTop }, () => { made = call(); });
    made?.free?.();
    report.push(`${name}: ${r.depth} bytes deep, ${r.wiped} wiped, ${r.frames} above`);
    if (r.problem) problems.push(`${name}: ${r.problem}`);
  }
  s.free();
  v1.free();
  issuer.free();
  console.log(`stack after each call (STACK_WIPE_BYTES = ${STACK_WIPE_BYTES}):\n${report.join('\n')}`);
  assert.deepEqual(problems, []);
});

test('no key-dependent byte is left anywhere: two instances, same calls, different keys, same memory', async () => {
  const b64 = (u8) => Buffer.from(u8).toString('base64');
  const utf8 = (t) => new TextEncoder().encode(t);
  const subtle = globalThis.crypto.subtle;
  const seal = async (name, key, iv, plain) => new Uint8Array(await subtle.encrypt({ name, iv },
    await subtle.importKey('raw', key, name, false, ['encrypt']), utf8(plain)));
  const nonce = utf8('20270115083000a1b2c3d4e5f6');
  async function inputs(key) {
    const iv = new Uint8Array(16).fill(7), iv12 = new Uint8Array(12).fill(8);
    return {
      pan: { data: b64(await seal('AES-GCM', key, iv, '4111111111111111')), iv: b64(iv) },
      pan12: { data: b64(await seal('AES-GCM', key, iv12, '5500000000000004')), iv: b64(iv12) },
      pin: { data: b64(await seal('AES-GCM', key, iv, '241432FFFFFFFFFF')), iv: b64(iv) },
      cbc: { data: b64(await seal('AES-CBC', key, iv, '4111111111111111')), iv: b64(iv) },
      body: Buffer.concat([nonce, await seal('AES-GCM', key, nonce, '{"data":{"cvv":"123"}}')]).toString('hex'),
    };
  }
  // Everything public a run handles: the ciphertexts in, and out, as text and as bytes.
  function publicsOf(values) {
    const out = [];
    for (const v of values) {
      if (typeof v === 'string') {
        out.push(utf8(v));
        if (/^[0-9a-f]+$/.test(v)) out.push(Buffer.from(v, 'hex'));
        else for (const part of v.split('.')) out.push(Buffer.from(part, 'base64url'));
      } else {
        for (const t of [v.data, v.iv]) out.push(utf8(t), Buffer.from(t, 'base64'));
      }
    }
    return out.map((b) => new Uint8Array(b));
  }
  async function run(seed) {
    const key = globalThis.crypto.getRandomValues(new Uint8Array(32));
    const given = await inputs(key);
    const { ps: p, memory: m } = load();
    const made = [];
    // Snapshots whenever no key-holding object is alive.
    const snaps = [];
    const snap = (label) => snaps.push([label, new Uint8Array(m.buffer).slice()]);
    const restore = deterministicRandom(globalThis.crypto, seed);
    const now = Date.now;
    Date.now = () => 1_800_000_000_000;
    try {
      const s = p.Session.fromKey(b64(key));
      made.push(s.encrypt('4111111111111111'), s.encryptPin('1432'), s.encryptBody('{"a":1}'));
      assert.equal(s.decrypt(given.pan), '4111111111111111');
      assert.equal(s.decrypt(given.pan12), '5500000000000004');
      assert.equal(s.decryptPin(given.pin), '1432');
      assert.equal(s.decryptBody(given.body), '{"data":{"cvv":"123"}}');
      assert.equal(s.exportKey(), b64(key));
      s.free();
      snap('Session.free (v2)');
      const v1 = p.Session.fromKey(b64(key), { version: 'v1', allowLegacyCbc: true });
      made.push(v1.encrypt('4111111111111111'));
      assert.equal(v1.decrypt(given.cbc), '4111111111111111');
      v1.free();
      snap('Session.free (v1)');
      // Random keys: the seeds differ, so do the keys these make.
      const fresh = p.Session.create(pem);
      made.push(fresh.sessionId, fresh.encrypt('x'));
      fresh.free();
      snap('Session.free (Session.create)');
      made.push(p.encryptCard({ cardNumber: '4111111111111111', expiryMonth: 12, expiryYear: 2031, cvv: '123' },
        pem, { keyAlias: 'k1', captureTime: 1_800_000_000_000 }));
      snap('encryptCard');
    } finally {
      restore();
      Date.now = now;
    }
    return { snaps, publics: publicsOf([...made, ...Object.values(given)]) };
  }
  const a = await run(1), b = await run(2);
  const where = [];
  a.snaps.forEach(([label, memA], i) => {
    const left = unexplainedDifferences(memA, b.snaps[i][1], a.publics, b.publics);
    for (const [o, n] of left) {
      where.push(`after ${label}: ${n} bytes at ${o} (${o < stackTop ? `stack, ${stackTop - o} below the top` : 'heap'})`);
    }
  });
  assert.equal(a.snaps.length, 4);
  assert.deepEqual(where, []);
});

test('the key-dependence rule: a short remnant is explained only as the same end of the same public value', () => {
  const fill = (n, b) => new Uint8Array(n).fill(b);
  const tagA = Uint8Array.from({ length: 16 }, (_, i) => 0x10 + i), tagB = Uint8Array.from({ length: 16 }, (_, i) => 0x80 + i);
  // Allocator bookkeeping (equal in both), then the last byte of each run's tag.
  const mem = (last) => { const m = fill(64, 0x12); m[20] = last; return m; };
  assert.deepEqual(unexplainedDifferences(mem(tagA[15]), mem(tagB[15]), [tagA], [tagB]), []);
  // The first byte of each run's tag: explained too.
  assert.deepEqual(unexplainedDifferences(mem(tagA[0]), mem(tagB[0]), [tagA], [tagB]), []);
  // A middle byte of the tag, or the last byte of A's tag beside the first of B's: not explained.
  assert.deepEqual(unexplainedDifferences(mem(tagA[7]), mem(tagB[7]), [tagA], [tagB]), [[20, 1]]);
  assert.deepEqual(unexplainedDifferences(mem(tagA[15]), mem(tagB[0]), [tagA], [tagB]), [[20, 1]]);
  // A byte of a secret: not explained.
  assert.deepEqual(unexplainedDifferences(mem(0x01), mem(0x02), [tagA], [tagB]), [[20, 1]]);
  // Four or more bytes are never this exception: the tag's last 4 bytes are
  // explained as 4-grams, 4 secret bytes that merely end like nothing public are not.
  const memN = (bytes) => { const m = fill(64, 0x12); m.set(bytes, 20); return m; };
  assert.deepEqual(unexplainedDifferences(memN(tagA.subarray(12)), memN(tagB.subarray(12)), [tagA], [tagB]), []);
  assert.deepEqual(unexplainedDifferences(memN([1, 2, 3, tagA[15]]), memN([4, 5, 6, tagB[15]]), [tagA], [tagB]), [[20, 4]]);
});
