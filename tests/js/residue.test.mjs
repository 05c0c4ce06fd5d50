// Issue #14 in V8 (the nodejs build), for both entry points (`paysecure-wasm`
// and `paysecure-wasm/reveal`, two modules generated apart: their own
// inlining, stack frames and allocator use): no secret outlives the call that
// handled it in the module's linear memory (tests/js/residue-scan.mjs has the
// method), randomness is written straight into that memory, and no call
// leaves bytes on the shadow stack. What the reveal entry lacks (V1,
// encryptCard, encrypted bodies) is left out for it by name, through
// FULL_ONLY_CALLS, each checked to be really missing there.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  residueScan, stackTopOf, stackResidue, deterministicRandom, unexplainedDifferences, STACK_WIPE_BYTES, FULL_ONLY_CALLS,
} from './residue-scan.mjs';
import { ENTRIES, FULL_ONLY, root } from './helpers.mjs';

const require = createRequire(import.meta.url);

/**
 * A fresh instance of one entry point's Node build (`file`, what `require`
 * loads it from): its exports, its memory, which the glue keeps private
 * (noted as WebAssembly.Instance makes it), and a count of the glue's calls
 * of `__wbindgen_realloc`.
 */
function load(file) {
  delete require.cache[require.resolve(file)];
  let memory, wasmExports;
  const reallocs = { count: 0 };
  const Instance = WebAssembly.Instance;
  WebAssembly.Instance = new Proxy(Instance, {
    construct(target, args, newTarget) {
      const { exports } = Reflect.construct(target, args, newTarget);
      memory = exports.memory;
      wasmExports = Object.keys(exports);
      const realloc = exports.__wbindgen_realloc;
      return { exports: { ...exports, __wbindgen_realloc: (...a) => { reallocs.count++; return realloc(...a); } } };
    },
  });
  try {
    const ps = require(file);
    ps.initSync(); // in Node the module loads on first use: here, while Instance is watched
    return { ps, memory, reallocs, wasmExports };
  } finally {
    WebAssembly.Instance = Instance;
  }
}

const vectors = JSON.parse(readFileSync(path.join(root, 'tests', 'data', 'paysecure-v1-v2.json'), 'utf8'));
const pem = vectors.rsa.public_spki_pem;
const FULL = ENTRIES.find((e) => e.full);
const REVEAL = ENTRIES.find((e) => !e.full);

/**
 * For one entry point: whether to make a call only the full entry point has
 * (`name`, a key of FULL_ONLY_CALLS); the names left out are noted in `skipped`.
 */
function fullOnlyGate(full, skipped) {
  return (name) => {
    if (!Object.hasOwn(FULL_ONLY_CALLS, name)) throw new Error(`${name} is not in FULL_ONLY_CALLS`);
    if (!full) skipped.add(name);
    return full;
  };
}

test('what the reveal runs leave out is exactly V1 and FULL_ONLY, each there in the full entry and missing from reveal', () => {
  assert.deepEqual(Object.keys(FULL_ONLY_CALLS).sort(), ['v1', ...FULL_ONLY.functions, ...FULL_ONLY.sessionMethods].sort());
  for (const [name, call] of Object.entries(FULL_ONLY_CALLS)) {
    call(FULL.ps, pem); // works in the full entry point
    assert.throws(() => call(REVEAL.ps, pem), (e) => {
      const missing = e instanceof TypeError && /is not a function/.test(e.message);
      assert.ok(missing || e?.code === 'V1_NOT_IN_ENTRY', `${name} in ${REVEAL.entry}: ${e?.code ?? e?.message}`);
      return true;
    }, `${name} is not in ${REVEAL.entry}`);
  }
});

for (const { entry, file, wasm, full } of ENTRIES) {
  const { ps, memory, reallocs, wasmExports } = load(file);
  const stackTop = stackTopOf(readFileSync(wasm));
  const build = `nodejs build of ${entry}`;

  test(`${entry}: the instance watched is this entry point's own module`, () => {
    const own = new Set(WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(wasm))).map((e) => e.name));
    assert.deepEqual(new Set(wasmExports), own, `the instance's exports are those of ${path.basename(wasm)}`);
    assert.equal(own.has('encryptCard'), full);
    assert.equal(typeof ps.encryptCard, full ? 'function' : 'undefined');
  });

  test(`${entry}: residue scan (V8): no secret is left in linear memory after any public function`, async () => {
    const { findings, table, controls, rows, skipped } = await residueScan({ ps, memory, stackTop, vectors, full });
    console.log(`residue scan, ${build}, ${rows.length - 1} calls scanned${skipped.length ? ` (left out: ${skipped.join(', ')})` : ''}:\n${table}`);
    assert.ok(controls >= 8, `the live session keys were seen while alive (${controls})`);
    assert.deepEqual(skipped.sort(), full ? [] : Object.keys(FULL_ONLY_CALLS).sort());
    assert.deepEqual(findings, []);
  });

  test(`${entry}: random bytes are written straight into wasm memory, never staged in a JavaScript buffer`, () => {
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

  test(`${entry}: secret strings are read without a reallocation, so no partial copy is left in freed memory`, () => {
    // wasm-bindgen's own string passing (`as_string`, `&str`) writes the ASCII
    // start of a string, then reallocates when it meets a non-ASCII character:
    // a move leaves that start behind, unwiped.
    const skipped = new Set();
    const has = fullOnlyGate(full, skipped);
    const s = ps.Session.fromKey('YD3rEBXKcb4rc67whX13gR81LAc7YQjXLZgQowkU3/Q=');
    const start = reallocs.count;
    s.encrypt('4111111111111111 Zoë Hølder');
    if (has('encryptBody')) s.encryptBody('{"pan":"4111111111111111","name":"Jürgen"}');
    if (has('encryptCard')) {
      ps.encryptCard({ cardNumber: '4111 1111 1111 1111', expiryMonth: 12, expiryYear: 2031, cvv: '123',
        cardholderName: 'JONATHAN Q HÖLDER' }, pem, { keyAlias: 'k1' });
    }
    assert.equal(ps.luhnCheck('4111 1111 1111 1111 é'), false);
    for (const bad of [() => s.encryptPin('1432é'), () => ps.pinBlock('1432', { format: 0, pan: '4111111111111111é' }),
      () => ps.Session.fromKey('YD3rEBXKcb4rc67whX13gR81LAc7YQjXLZgQowkU3/Qé')]) {
      assert.throws(bad, { name: 'PaySecureError' });
    }
    s.free();
    assert.equal(reallocs.count - start, 0, 'reallocations while reading secret strings');
    assert.deepEqual([...skipped].sort(), full ? [] : ['encryptBody', 'encryptCard']);
  });

  test(`${entry}: stack: every call wipes the shadow stack its callees used, and nothing deeper is touched`, () => {
    const skipped = new Set();
    const has = fullOnlyGate(full, skipped);
    const key = 'YD3rEBXKcb4rc67whX13gR81LAc7YQjXLZgQowkU3/Q=';
    const s = ps.Session.fromKey(key);
    const v3 = ps.Session.fromKey(key, { version: 'v3', keyBits: 128 });
    const v1 = has('v1') ? ps.Session.fromKey(key, { version: 'v1', allowLegacyCbc: true }) : null;
    const v = s.encrypt('4111111111111111');
    const p = s.encryptPin('1432');
    const c = v1?.encrypt('4111111111111111');
    const c3 = v3.encrypt('4111111111111111');
    const body = has('encryptBody') ? s.encryptBody('{"a":1}') : null;
    const issuer = ps.PublicKey.parse(pem);
    const card = { cardNumber: '4111 1111 1111 1111', expiryMonth: 12, expiryYear: 2031, cvv: '123', cardholderName: 'Zoë' };
    // [name, call, the FULL_ONLY_CALLS name it needs]
    const calls = [
      ['Session.fromKey', () => ps.Session.fromKey(key)],
      ['Session.create v2', () => ps.Session.create(pem)],
      ['Session.create v3', () => ps.Session.create(pem, { version: 'v3' })],
      ['Session.create v1', () => ps.Session.create(pem, { version: 'v1' }), 'v1'],
      ['PublicKey.createSession', () => issuer.createSession()],
      ['decrypt', () => s.decrypt(v)],
      ['decrypt v3', () => v3.decrypt(c3)],
      ['decrypt v1', () => v1.decrypt(c), 'v1'],
      ['decryptBytes', () => s.decryptBytes(v)],
      ['decryptPin', () => s.decryptPin(p)],
      ['encryptPin', () => s.encryptPin('1432')],
      ['encrypt', () => s.encrypt('4111111111111111 Zoë')],
      ['encrypt v1', () => v1.encrypt(new Uint8Array(40)), 'v1'],
      ['encryptBody', () => s.encryptBody('{"a":"Zoë"}'), 'encryptBody'],
      ['decryptBody', () => s.decryptBody(body), 'decryptBody'],
      ['exportKey', () => s.exportKey()],
      ['pinBlock', () => ps.pinBlock('1234', { format: 3, pan: '4111111111111111' })],
      ['parsePinBlock', () => ps.parsePinBlock('241432FFFFFFFFFF')],
      ['pinWeakness', () => ps.pinWeakness('1234')],
      ['luhnCheck', () => ps.luhnCheck('4111111111111111')],
      ['cardBrand', () => ps.cardBrand('4111111111111111')],
      ['maskPan', () => ps.maskPan('4111111111111111')],
      ['encryptCard', () => ps.encryptCard(card, pem, { keyAlias: 'k1' }), 'encryptCard'],
      ['a failure (INVALID_PIN)', () => { try { s.encryptPin('12é'); } catch { /* expected */ } }],
    ];
    const report = [];
    const problems = [];
    for (const [name, call, needs] of calls) {
      if (needs && !has(needs)) continue;
      let made;
      const r = stackResidue({ memory, stackTop }, () => { made = call(); });
      made?.free?.();
      report.push(`${name}: ${r.depth} bytes deep, ${r.wiped} wiped, ${r.frames} above`);
      if (r.problem) problems.push(`${name}: ${r.problem}`);
    }
    s.free();
    v3.free();
    v1?.free();
    issuer.free();
    console.log(`stack after each call, ${build} (STACK_WIPE_BYTES = ${STACK_WIPE_BYTES}):\n${report.join('\n')}`);
    assert.equal(report.length, calls.length - (full ? 0 : calls.filter((c) => c[2]).length));
    assert.deepEqual([...skipped].sort(), full ? [] : Object.keys(FULL_ONLY_CALLS).sort());
    assert.deepEqual(problems, []);
  });

  test(`${entry}: no key-dependent byte is left anywhere: two instances, same calls, different keys, same memory`, async () => {
    const skipped = new Set();
    const has = fullOnlyGate(full, skipped);
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
        ...(has('v1') ? { cbc: { data: b64(await seal('AES-CBC', key, iv, '4111111111111111')), iv: b64(iv) } } : {}),
        ...(has('decryptBody')
          ? { body: Buffer.concat([nonce, await seal('AES-GCM', key, nonce, '{"data":{"cvv":"123"}}')]).toString('hex') } : {}),
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
      const { ps: p, memory: m } = load(file);
      const made = [];
      // Snapshots whenever no key-holding object is alive.
      const snaps = [];
      const snap = (label) => snaps.push([label, new Uint8Array(m.buffer).slice()]);
      const restore = deterministicRandom(globalThis.crypto, seed);
      const now = Date.now;
      Date.now = () => 1_800_000_000_000;
      try {
        const s = p.Session.fromKey(b64(key));
        made.push(s.encrypt('4111111111111111'), s.encryptPin('1432'));
        if (has('encryptBody')) made.push(s.encryptBody('{"a":1}'));
        assert.equal(s.decrypt(given.pan), '4111111111111111');
        assert.equal(s.decrypt(given.pan12), '5500000000000004');
        assert.equal(s.decryptPin(given.pin), '1432');
        if (has('decryptBody')) assert.equal(s.decryptBody(given.body), '{"data":{"cvv":"123"}}');
        assert.equal(s.exportKey(), b64(key));
        s.free();
        snap('Session.free (v2)');
        if (has('v1')) {
          const v1 = p.Session.fromKey(b64(key), { version: 'v1', allowLegacyCbc: true });
          made.push(v1.encrypt('4111111111111111'));
          assert.equal(v1.decrypt(given.cbc), '4111111111111111');
          v1.free();
          snap('Session.free (v1)');
        } else {
          const v3 = p.Session.fromKey(b64(key), { version: 'v3' });
          made.push(v3.encrypt('4111111111111111'));
          assert.equal(v3.decrypt(given.pan), '4111111111111111');
          v3.free();
          snap('Session.free (v3)');
        }
        // Random keys: the seeds differ, so do the keys these make.
        const fresh = p.Session.create(pem);
        made.push(fresh.sessionId, fresh.encrypt('x'));
        fresh.free();
        snap('Session.free (Session.create)');
        if (has('encryptCard')) {
          made.push(p.encryptCard({ cardNumber: '4111111111111111', expiryMonth: 12, expiryYear: 2031, cvv: '123' },
            pem, { keyAlias: 'k1', captureTime: 1_800_000_000_000 }));
          snap('encryptCard');
        }
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
    assert.equal(a.snaps.length, full ? 4 : 3);
    assert.deepEqual([...skipped].sort(), full ? [] : Object.keys(FULL_ONLY_CALLS).sort());
    assert.deepEqual(where, []);
  });
}

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
