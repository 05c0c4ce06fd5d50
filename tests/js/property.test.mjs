// Hostile-input property test (fast-check): random and adversarial calls to
// every exported function, method and getter of the nodejs build of each
// entry point (`paysecure-wasm`, then `paysecure-wasm/reveal`: its own module,
// so its own inlining, stack frames and allocator use; the same properties
// over its exports, which lack V1, encryptCard and the encrypted bodies), with wrong
// types, huge strings, lone surrogates, numbers, objects, arrays, null and
// undefined, proxies whose traps throw, objects that only pretend to be a
// Uint8Array or a Date, freed objects, and getters that call back into the
// module (free() of the very session being used included). Every call must
// return or throw a PaySecureError: another error, a WebAssembly trap
// (`unreachable` after a panic) or a plain Error from the glue fails the test.
// Afterwards the instance must still work (known answers) and its memory must
// not have grown beyond what the input limits allow.
//
//   PROPERTY_SECONDS (default 45): how long to generate calls for the full entry
//   PROPERTY_REVEAL_SECONDS (default 20): the same for paysecure-wasm/reveal
//   PROPERTY_MIN_CALLS (default 100,000): calls the full entry must get in
//     PROPERTY_SECONDS; the reveal entry must get as many per second
//   PROPERTY_SEED: replay a run (the seed is printed; both entries use it)
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';

// See each module's memory: record the instance the glue makes.
const RealInstance = WebAssembly.Instance;
let made;
WebAssembly.Instance = function Instance(module, imports) {
  const instance = new RealInstance(module, imports);
  made = instance.exports;
  return instance;
};
const { ENTRIES, FULL_ONLY, root, vectors, publicPem } = await import('./helpers.mjs');
const wasmExportsOf = new Map();
for (const { entry, ps } of ENTRIES) {
  made = undefined;
  ps.initSync(); // in Node the module loads on first use: here, while Instance is watched
  if (!made) throw new Error(`${entry}: no WebAssembly instance was made by initSync()`);
  wasmExportsOf.set(entry, made);
}
WebAssembly.Instance = RealInstance;

const SECONDS = Number(process.env.PROPERTY_SECONDS ?? 45);
const REVEAL_SECONDS = Number(process.env.PROPERTY_REVEAL_SECONDS ?? 20);
const SEED = process.env.PROPERTY_SEED ? Number(process.env.PROPERTY_SEED) : (Date.now() ^ (Math.random() * 2 ** 31)) | 0;
const MIN_CALLS = Number(process.env.PROPERTY_MIN_CALLS ?? 100_000);

const KEY = vectors.aes_cases[0].session_key_b64;
const JWK = JSON.parse(readFileSync(path.join(root, 'tests', 'data', 'rsa2048-public.jwk.json'), 'utf8'));
const PKCS1 = readFileSync(path.join(root, 'tests', 'data', 'rsa2048-public-pkcs1.pem'), 'utf8');

// The ops only the full entry point has (helpers' FULL_ONLY), by their names below.
const FULL_ONLY_OPS = [...FULL_ONLY.functions, ...FULL_ONLY.sessionMethods.map((m) => `s.${m}`)];
// What no op calls: loading, and the glue's own plumbing.
const NOT_OPS = new Set(['default', 'initSync', 'initAsync', 'isInitialized', 'constructor', '__destroy_into_raw', '__wrap']);

/**
 * The property test over one entry point (`ps` its exports, `full` whether
 * it has V1, encryptCard and the bodies): its world, ops and arbitraries,
 * and the test itself, run for `seconds` and expected to make `minCalls`.
 */
function propertyTest({ entry, ps, full }, seconds, minCalls) {
  const wasmExports = wasmExportsOf.get(entry);
  // Where the full entry point makes a V1 session the reveal one makes a V3 one.
  const OTHER = full ? 'v1' : 'v3';

  // ------------------------------------------------------------------ the world
  // Objects made during the run, reused as arguments and as `this`.
  const world = { sessions: [], keys: [], values: [] };
  const keep = (list, x, max = 16) => {
    list.push(x);
    if (list.length > max) {
      const old = list.splice(0, list.length - max);
      for (const o of old) if (typeof o?.free === 'function') try { o.free(); } catch { /* freed */ }
    }
  };
  const track = (r) => {
    if (r instanceof ps.Session) keep(world.sessions, r);
    else if (r instanceof ps.PublicKey) keep(world.keys, r);
    else if (r && typeof r === 'object' && typeof r.data === 'string' && typeof r.iv === 'string') keep(world.values, r, 64);
  };
  const reseed = () => {
    keep(world.sessions, ps.Session.fromKey(KEY));
    keep(world.sessions, ps.Session.fromKey(KEY, { version: OTHER, allowLegacyCbc: true }));
    keep(world.sessions, ps.Session.fromKey(KEY, { version: OTHER }));
    keep(world.keys, ps.PublicKey.parse(publicPem));
    for (const s of world.sessions.slice(-3)) keep(world.values, s.encrypt('4111111111111111'), 64);
    // The full entry's V1 sessions cannot open the V2 values (DECRYPTION_FAILED):
    // the reveal entry gets that path from a session over another key.
    if (!full) {
      const other = ps.Session.fromKey(vectors.aes_cases[5].session_key_b64, { version: 'v3' });
      keep(world.sessions, other);
      keep(world.values, other.encrypt('5500000000000004'), 64);
    }
  };
  reseed();
  const freedSession = ps.Session.fromKey(KEY);
  freedSession.free();
  const freedKey = ps.PublicKey.parse(publicPem);
  freedKey.free();

  // ------------------------------------------------------------------ checking
  let calls = 0;
  let returned = 0;
  const violations = [];
  const errorCodes = new Map();
  function check(name, f) {
    calls++;
    try {
      track(f());
      returned++;
    } catch (e) {
      if (e instanceof Error && e.name === 'PaySecureError' && ps.isPaySecureError(e)) {
        errorCodes.set(e.code, (errorCodes.get(e.code) ?? 0) + 1);
      } else if (violations.length < 20) {
        violations.push(`${name}: ${e?.constructor?.name} ${String(e?.message ?? e).slice(0, 200)}`);
      }
    }
  }

  // ------------------------------------------------------------------ values
  // Arguments are generated as plain descriptors (printable, shrinkable) and
  // made into live values right before each call.
  const bigStrings = new Map();
  const big = (n, c = 'A') => {
    const k = `${c}${n}`;
    if (!bigStrings.has(k)) {
      if (bigStrings.size > 64) bigStrings.clear();
      bigStrings.set(k, c.repeat(n));
    }
    return bigStrings.get(k);
  };
  // Every documented limit, and one past it.
  const LIMITS = [256, 16 * 1024, 32 * 1024, 64 * 1024, 1024 * 1024, 2 * (26 + 1024 * 1024 + 16)];
  const VALID = [
    publicPem, PKCS1, vectors.rsa.public_spki_der_b64, JSON.stringify(JWK), KEY, '1432', '123456789012',
    '4111111111111111', '4444 3333 2222 1111', '241432FFFFFFFFFF', '0412AC89ABCDEF67', '43219876543210987',
    'v1', 'v2', 'v3', 'V2', '123', 'rsa-1', vectors.aes_cases[0].iv_b64, vectors.aes_cases[0].aes_gcm_ct_tag_b64,
    vectors.aes_cases[0].aes_cbc_ct_b64, 'Xb6qbV2L6d1F92YU', `20151230235959${'ab'.repeat(6)}`, '0'.repeat(84),
  ];
  const splice = ([s, at, insert, cut]) => s.slice(0, at % (s.length + 1)) + insert + s.slice((at % (s.length + 1)) + cut);

  const str = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...VALID) },
    { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...VALID), fc.nat(), fc.string({ unit: 'binary', maxLength: 3 }), fc.nat(3)).map(splice) },
    { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) }, // lone surrogates included
    { weight: 2, arbitrary: fc.string({ maxLength: 24 }) },
    { weight: 1, arbitrary: fc.constantFrom('\uD800', 'a\uDC00b', '\uDFFF\uD800', '', ' ', '{', '-----BEGIN PUBLIC KEY-----', '\0') },
  );
  const num = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, -0, 1, 2, 3, 4, 12, 128, 192, 256, 2031, NaN, Infinity, -Infinity, 2 ** 53));
  const KEYS = ['data', 'iv', 'version', 'keyBits', 'allowLegacyCbc', 'format', 'pan', 'kty', 'n', 'e', 'use', 'key_ops',
    'd', 'k', 'cardNumber', 'expiryMonth', 'expiryYear', 'cvv', 'cardholderName', 'sequenceNumber', 'startMonth',
    'startYear', 'keyAlias', 'captureTime', 'length', '0', '__proto__', 'toString', 'valueOf'];

  const ALL_OPS = {
    'Session.create': (a, b) => ps.Session.create(a, b),
    'Session.fromKey': (a, b) => ps.Session.fromKey(a, b),
    'PublicKey.parse': (a) => ps.PublicKey.parse(a),
    'key.createSession': (t, a) => ps.PublicKey.prototype.createSession.call(t, a),
    'key.bits': (t) => Reflect.get(ps.PublicKey.prototype, 'bits', t),
    'key.free': (t) => ps.PublicKey.prototype.free.call(t),
    's.encrypt': (t, a) => ps.Session.prototype.encrypt.call(t, a),
    's.decrypt': (t, a) => ps.Session.prototype.decrypt.call(t, a),
    's.decryptBytes': (t, a) => ps.Session.prototype.decryptBytes.call(t, a),
    's.encryptPin': (t, a) => ps.Session.prototype.encryptPin.call(t, a),
    's.decryptPin': (t, a) => ps.Session.prototype.decryptPin.call(t, a),
    's.encryptBody': (t, a) => ps.Session.prototype.encryptBody.call(t, a),
    's.decryptBody': (t, a) => ps.Session.prototype.decryptBody.call(t, a),
    's.exportKey': (t) => ps.Session.prototype.exportKey.call(t),
    's.sessionId': (t) => Reflect.get(ps.Session.prototype, 'sessionId', t),
    's.version': (t) => Reflect.get(ps.Session.prototype, 'version', t),
    's.keyBits': (t) => Reflect.get(ps.Session.prototype, 'keyBits', t),
    's.free': (t) => ps.Session.prototype.free.call(t),
    's[Symbol.dispose]': (t) => ps.Session.prototype[Symbol.dispose].call(t),
    pinBlock: (a, b) => ps.pinBlock(a, b),
    parsePinBlock: (a, b) => ps.parsePinBlock(a, b),
    pinWeakness: (a) => ps.pinWeakness(a),
    luhnCheck: (a) => {
      const r = ps.luhnCheck(a);
      if (typeof r !== 'boolean') throw new TypeError('luhnCheck returned a non-boolean');
    },
    cardBrand: (a) => ps.cardBrand(a),
    maskPan: (a) => ps.maskPan(a),
    encryptCard: (a, b, c) => ps.encryptCard(a, b, c),
    isPaySecureError: (a) => {
      if (typeof ps.isPaySecureError(a) !== 'boolean') throw new TypeError('isPaySecureError returned a non-boolean');
    },
  };
  // The reveal entry's ops: all but the full entry's own.
  const OPS = Object.fromEntries(Object.entries(ALL_OPS).filter(([name]) => full || !FULL_ONLY_OPS.includes(name)));
  const OP_NAMES = Object.keys(OPS);
  // How often each op is chosen: the RSA ones (a wrap or a parse each) less.
  const OP_WEIGHT = { 'Session.create': 2, 'PublicKey.parse': 2, 'key.createSession': 2, encryptCard: 2, 's.free': 1, 'key.free': 1, 's[Symbol.dispose]': 1 };

  /** A value that makes no calls of its own. */
  const simple = fc.letrec((tie) => ({
    value: fc.oneof(
      { weight: 6, arbitrary: str.map((s) => ['str', s]) },
      { weight: 2, arbitrary: num.map((n) => ['any', n]) },
      { weight: 2, arbitrary: fc.constantFrom(null, undefined, true, false).map((v) => ['any', v]) },
      { weight: 2, arbitrary: fc.anything({ maxDepth: 2 }).map((v) => ['any', v]) },
      { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...LIMITS), fc.constantFrom(-1, 0, 1), fc.constantFrom('A', '7', 'é', '\uD800')).map(([n, d, c]) => ['big', n + d, c]) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 3_000_000 }).map((n) => ['big', n, '1']) },
      { weight: 4, arbitrary: fc.tuple(fc.nat(), fc.option(tie('value'), { nil: undefined }), fc.option(tie('value'), { nil: undefined })).map((t) => ['value', ...t]) },
      { weight: 4, arbitrary: fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 5 }).map((o) => ['obj', o]) },
      { weight: 2, arbitrary: fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 4 }).map((o) => ['jwk', o]) },
      { weight: 2, arbitrary: fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 2 }).map((o) => ['card', o]) },
      { weight: 1, arbitrary: fc.option(tie('value'), { nil: undefined }).map((t) => ['cardOptions', t]) },
      // Session options naming a version: V1 (reveal: V1_NOT_IN_ENTRY) as often as the others.
      { weight: 1, arbitrary: fc.tuple(fc.constantFrom('v1', 'V1', 'v2', 'v3', 'v9'), fc.option(tie('value'), { nil: undefined })).map((t) => ['versionOptions', ...t]) },
      { weight: 2, arbitrary: fc.constantFrom('throwing', 'revoked', 'lying').map((k) => ['proxy', k]) },
      { weight: 3, arbitrary: fc.tuple(fc.constantFrom('u8', 'u8view', 'i16', 'f64', 'dataview', 'ab', 'detached', 'sab', 'fakeU8', 'lengthGetter', 'nullProto'), fc.constantFrom(0, 1, 16, 1000, 32 * 1024, 32 * 1024 + 1)).map(([k, n]) => ['bytes', k, n]) },
      { weight: 1, arbitrary: fc.constantFrom('real', 'invalid', 'fake', 'huge').map((k) => ['date', k]) },
      { weight: 3, arbitrary: fc.constantFrom('live', 'freed', 'v1', 'v1opt', 'fresh').map((k) => ['session', k]) },
      { weight: 2, arbitrary: fc.constantFrom('live', 'freed').map((k) => ['pubkey', k]) },
      { weight: 1, arbitrary: fc.constantFrom('symbol', 'bigint', 'function', 'array', 'error').map((k) => ['odd', k]) },
    ),
  })).value;

  /** A call: an op and its arguments (the first is `this` for methods). */
  const callOf = (value) => fc.tuple(
    fc.oneof(...OP_NAMES.map((n) => ({ weight: OP_WEIGHT[n] ?? 6, arbitrary: fc.constant(n) }))),
    fc.array(value, { maxLength: 3 }),
    fc.nat(),
  );
  /** A value, possibly with getters that call back into the module. */
  const hostile = fc.oneof(
    { weight: 8, arbitrary: simple },
    { weight: 2, arbitrary: fc.tuple(fc.uniqueArray(fc.constantFrom(...KEYS), { minLength: 1, maxLength: 6 }), callOf(simple), simple).map(([keys, call, ret]) => ['reentrant', keys, call, ret]) },
  );
  const call = callOf(hostile);

  function pick(list, i) {
    return list.length ? list[i % list.length] : undefined;
  }

  function make(d) {
    switch (d[0]) {
      case 'str': case 'any': return d[1];
      case 'big': return big(Math.max(0, d[1]), d[2]);
      case 'value': {
        const v = pick(world.values, d[1]) ?? { data: '', iv: '' };
        const out = { data: v.data, iv: v.iv };
        if (d[2] !== undefined) out.data = make(d[2]);
        if (d[3] !== undefined) out.iv = make(d[3]);
        return out;
      }
      case 'obj': return Object.fromEntries(Object.entries(d[1]).map(([k, v]) => [k, make(v)]));
      case 'card': return {
        cardNumber: '4444 3333 2222 1111', expiryMonth: 12, expiryYear: '2031', cvv: '123',
        ...Object.fromEntries(Object.entries(d[1]).map(([k, v]) => [k, make(v)])),
      };
      case 'versionOptions': return { version: d[1], allowLegacyCbc: true, ...(d[2] === undefined ? {} : { keyBits: make(d[2]) }) };
      case 'cardOptions': return d[1] === undefined ? { keyAlias: 'rsa-1' } : { keyAlias: 'rsa-1', captureTime: make(d[1]) };
      case 'jwk': return { ...JWK, ...Object.fromEntries(Object.entries(d[1]).map(([k, v]) => [k, make(v)])) };
      case 'proxy': {
        const boom = () => { throw new Error('trap'); };
        if (d[1] === 'revoked') {
          const { proxy, revoke } = Proxy.revocable({}, {});
          revoke();
          return proxy;
        }
        if (d[1] === 'lying') {
          // Claims every property, with a huge string.
          return new Proxy({}, { get: () => big(3_000_000, '2'), has: () => true });
        }
        return new Proxy({}, { get: boom, has: boom, getPrototypeOf: boom, ownKeys: boom, getOwnPropertyDescriptor: boom, defineProperty: boom });
      }
      case 'bytes': {
        const n = d[2];
        switch (d[1]) {
          case 'u8': return new Uint8Array(n).fill(7);
          case 'u8view': return new Uint8Array(new ArrayBuffer(n + 8), 8, n);
          case 'i16': return new Int16Array(n);
          case 'f64': return new Float64Array(n);
          case 'dataview': return new DataView(new ArrayBuffer(n));
          case 'ab': return new ArrayBuffer(n);
          case 'sab': return new SharedArrayBuffer(n);
          case 'detached': {
            const ab = new ArrayBuffer(n);
            const view = new Uint8Array(ab);
            structuredClone(ab, { transfer: [ab] });
            return n % 2 ? ab : view;
          }
          case 'fakeU8': return Object.create(Uint8Array.prototype);
          case 'lengthGetter': {
            const u = new Uint8Array(n);
            Object.defineProperty(u, 'length', { get() { throw new Error('length'); } });
            Object.defineProperty(u, 'byteLength', { get() { throw new Error('byteLength'); } });
            return u;
          }
          default: return Object.setPrototypeOf(new Uint8Array(n), null);
        }
      }
      case 'date':
        if (d[1] === 'real') return new Date('2026-11-18T11:06:40Z');
        if (d[1] === 'invalid') return new Date(NaN);
        if (d[1] === 'huge') return new Date(8.64e15);
        return Object.create(Date.prototype);
      case 'session':
        if (d[1] === 'freed') return freedSession;
        if (d[1] === 'fresh') {
          const s = ps.Session.fromKey(KEY, { version: OTHER, allowLegacyCbc: true });
          keep(world.sessions, s);
          return s;
        }
        if (d[1] === 'v1' || d[1] === 'v1opt') {
          const isOther = (s) => { try { return s.version === OTHER; } catch { return false; } };
          return world.sessions.find(isOther) ?? pick(world.sessions, 0);
        }
        return pick(world.sessions, calls) ?? freedSession;
      case 'pubkey': return d[1] === 'freed' ? freedKey : (pick(world.keys, calls) ?? freedKey);
      case 'odd':
        switch (d[1]) {
          case 'symbol': return Symbol('x');
          case 'bigint': return 10n ** 30n;
          case 'function': return () => ps.pinBlock('1432');
          case 'array': return ['data', 'iv'];
          default: return new Error('not ours');
        }
      case 'reentrant': {
        const [, keys, inner, ret] = d;
        const o = {};
        for (const k of keys) {
          Object.defineProperty(o, k, {
            enumerable: true,
            get() {
              run(inner, 1);
              return make(ret);
            },
          });
        }
        return o;
      }
      default: throw new Error(`unknown descriptor ${d[0]}`);
    }
  }

  /** Makes the arguments and calls the op; `depth` stops getters from recursing forever. */
  function run([name, argDescs, thisIndex], depth = 0) {
    if (depth > 1) return;
    let args;
    try {
      args = argDescs.map(make);
    } catch (e) {
      violations.push(`making arguments for ${name}: ${e.message}`);
      return;
    }
    // Methods: `this` is mostly a real object of the right class.
    if (name.startsWith('s.') || name.startsWith('s[')) {
      if (thisIndex % 4 !== 0) args.unshift(pick(world.sessions, thisIndex) ?? freedSession);
    } else if (name.startsWith('key.')) {
      if (thisIndex % 4 !== 0) args.unshift(pick(world.keys, thisIndex) ?? freedKey);
    }
    check(name, () => OPS[name](...args));
  }

  test(`${entry}: the ops are every export${full ? '' : ' but the full entry point\'s own'}`, () => {
    const exported = [
      ...Object.keys(ps).filter((n) => !NOT_OPS.has(n) && n !== 'Session' && n !== 'PublicKey'),
      ...Object.getOwnPropertyNames(ps.Session).filter((n) => typeof ps.Session[n] === 'function' && !NOT_OPS.has(n)).map((n) => `Session.${n}`),
      ...Object.getOwnPropertyNames(ps.PublicKey).filter((n) => typeof ps.PublicKey[n] === 'function' && !NOT_OPS.has(n)).map((n) => `PublicKey.${n}`),
      ...Reflect.ownKeys(ps.Session.prototype).filter((n) => !NOT_OPS.has(n)).map((n) => `s${typeof n === 'symbol' ? '[Symbol.dispose]' : `.${n}`}`),
      ...Reflect.ownKeys(ps.PublicKey.prototype).filter((n) => !NOT_OPS.has(n) && n !== Symbol.dispose).map((n) => `key.${String(n)}`),
    ];
    assert.deepEqual(exported.sort(), OP_NAMES.slice().sort());
    // The ops left out are the full entry point's own, and this entry really lacks them.
    assert.deepEqual(Object.keys(ALL_OPS).filter((n) => !OP_NAMES.includes(n)).sort(), full ? [] : FULL_ONLY_OPS.slice().sort());
    if (!full) {
      for (const name of FULL_ONLY.functions) assert.equal(ps[name], undefined, name);
      for (const m of FULL_ONLY.sessionMethods) assert.equal(ps.Session.prototype[m], undefined, m);
    }
  });

  test(`${entry}: every export, under hostile input, returns or throws a PaySecureError, and the instance keeps working`, () => {
    const memoryBefore = wasmExports.memory.buffer.byteLength;
    const started = Date.now();
    let runs = 0;
    const property = fc.property(fc.array(call, { minLength: 1, maxLength: 40 }), (program) => {
      runs++;
      if (world.sessions.length < 3 || runs % 50 === 0) reseed();
      for (const c of program) run(c);
      return violations.length === 0;
    });
    const result = fc.check(property, {
      seed: SEED,
      numRuns: 10_000_000,
      interruptAfterTimeLimit: seconds * 1000,
      markInterruptAsFailure: false,
    });
    const took = (Date.now() - started) / 1000;
    const codes = [...errorCodes.entries()].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ');
    console.log(`property, ${entry}: ${calls} calls (${returned} returned, the rest threw PaySecureErrors) in ${runs} programs, ${took.toFixed(1)} s (seed ${SEED}); `
      + `WebAssembly memory ${memoryBefore} -> ${wasmExports.memory.buffer.byteLength} bytes; errors: ${codes}`);
    assert.deepEqual(violations, [], `seed ${SEED}: ${fc.defaultReportMessage(result)}`);
    assert.ok(calls >= minCalls, `only ${calls} calls in ${seconds} s (${minCalls} expected)`);
    // The input limits bound what any call can allocate.
    assert.ok(wasmExports.memory.buffer.byteLength <= 64 * 1024 * 1024, 'memory grew past 64 MiB');

    // Known answers: the instance still works.
    for (const c of vectors.aes_cases) {
      const v2 = ps.Session.fromKey(c.session_key_b64);
      assert.equal(v2.decrypt({ data: c.aes_gcm_ct_tag_b64, iv: c.iv_b64 }), c.plaintext);
      v2.free();
      if (full) {
        const v1 = ps.Session.fromKey(c.session_key_b64, { version: 'v1', allowLegacyCbc: true });
        assert.equal(v1.decrypt({ data: c.aes_cbc_ct_b64, iv: c.iv_b64 }), c.plaintext);
        v1.free();
      } else {
        const v3 = ps.Session.fromKey(c.session_key_b64, { version: 'v3' });
        assert.equal(v3.decrypt({ data: c.aes_gcm_ct_tag_b64, iv: c.iv_b64 }), c.plaintext);
        v3.free();
      }
    }
    const s = ps.Session.create(publicPem);
    assert.equal(s.decrypt(s.encrypt('4111111111111111')), '4111111111111111');
    assert.equal(s.decryptPin(s.encryptPin('1432')), '1432');
    if (full) assert.equal(s.decryptBody(s.encryptBody('{"a":1}')), '{"a":1}');
    s.free();
    assert.equal(ps.pinBlock('1432'), '241432FFFFFFFFFF');
    assert.equal(ps.maskPan('4444333322221111'), '444433******1111');
  });
}

for (const e of ENTRIES) {
  const seconds = e.full ? SECONDS : REVEAL_SECONDS;
  propertyTest(e, seconds, Math.ceil(MIN_CALLS * (seconds / SECONDS)));
}
