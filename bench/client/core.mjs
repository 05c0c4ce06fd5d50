// The client-side benchmark of issues #8 and #20, shared by the browser page
// (bench.js) and the Node runner (run-node.mjs): the same operations, the
// same checks, the same timing loop, the same result shape.
//
// Four implementations of each operation:
//   paysecure-wasm  this crate (pkg/paysecure-wasm in the browser, pkg/paysecure-wasm in Node);
//   node-forge      as the PaySecure document's JavaScript example uses it: the session key
//                   from sjcl.random (4 × randomWords(2, 0) as hex), forge
//                   RSA-OAEP SHA-1 over the base64 text of the key, AES-GCM
//                   with a 16-byte IV from forge.random; minus that example's
//                   bugs (the leading space in its hand-written base64, the
//                   unchecked random tag). Without sjcl (not installed), the
//                   key comes from forge.random.getBytesSync(32);
//   webcrypto       crypto.subtle, each operation awaited (one promise round
//                   trip per operation is the cost being compared);
//   noble           the pure-JS stack (#20's fourth peer): @noble/ciphers gcm,
//                   @noble/hashes sha1, micro-rsa-dsa-dh OAEP(sha1, mgf1(sha1)),
//                   as their READMEs use them; the RSA public key's n and e read
//                   from the SPKI PEM by a small DER walker (spkiRsa, below: the
//                   stack has no PEM parser), base64 by the page's codec.
//
// Environment-neutral ES module: no Node or DOM imports. The caller passes
// The reveal entry point (paysecure-wasm/reveal, a second module) runs as a
// fifth implementation when it is built (env.psReveal), for information.
//
// `env` = { ps, psReveal?, forge, sjcl?, noble, subtle, getRandomValues, b64encode, b64decode,
// publicPem, privatePem?, now }, noble = the exports of noble.mjs.

export const IMPLS = ['paysecure-wasm', 'node-forge', 'webcrypto', 'noble', 'paysecure-wasm/reveal'];
/** The implementations whose ratios to the peers are reported (the reveal entry's only when it is built). */
export const OURS = ['paysecure-wasm', 'paysecure-wasm/reveal'];
/** Ratio keys of runOps: paysecure-wasm / peer. */
export const PEERS = { vsForge: 'node-forge', vsWebcrypto: 'webcrypto', vsNoble: 'noble' };
export const OPS = ['wrap', 'pinEncrypt', 'decrypt', 'fullFlow'];
export const OP_LABELS = {
  wrap: 'wrap (session key + RSA-OAEP-SHA1)',
  pinEncrypt: 'PIN encrypt (AES-GCM, format-2 block)',
  decrypt: 'decrypt (AES-GCM, 16-digit PAN)',
  fullFlow: 'full flow (parse PEM + session + PIN)',
};

export const PIN = '1432';
export const PAN = '4111111111111111';

/** Timing presets. Sample = one timed batch of one implementation. */
export const PRESETS = {
  full: { rounds: 15, warmupMs: 400, sampleMs: 150, instantiations: 15 },
  quick: { rounds: 3, warmupMs: 40, sampleMs: 20, instantiations: 4 },
};

/** ISO 9564-1 format-2 PIN block ('241432FFFFFFFFFF' for '1432'), as encryptPin builds it. */
export function pinBlock2(pin) {
  if (!/^\d{4,12}$/.test(pin)) throw new Error('PIN must be 4 to 12 digits');
  return `2${pin.length.toString(16).toUpperCase()}${pin}`.padEnd(16, 'F');
}

/** DER bytes of the first PEM block. */
export function pemToDer(pem, b64decode) {
  const body = pem.replace(/-----(BEGIN|END)[^-]*-----/g, '').replace(/\s+/g, '');
  return b64decode(body);
}

/**
 * RSA public key { n, e } (BigInt) of an SPKI DER: SEQUENCE { AlgorithmIdentifier,
 * BIT STRING { SEQUENCE { INTEGER n, INTEGER e } } }. Throws on anything else.
 */
export function spkiRsa(der) {
  const read = (off, tag) => {
    if (der[off] !== tag) throw new Error(`SPKI: tag ${der[off]} at ${off}, want ${tag}`);
    let len = der[off + 1];
    let p = off + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n < 1 || n > 3) throw new Error('SPKI: bad length');
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + der[p++];
    }
    if (p + len > der.length) throw new Error('SPKI: truncated');
    return { start: p, end: p + len };
  };
  const int = (off) => {
    const r = read(off, 0x02);
    let hex = '';
    for (let i = r.start; i < r.end; i++) hex += der[i].toString(16).padStart(2, '0');
    return { value: BigInt(`0x${hex}`), end: r.end };
  };
  const spki = read(0, 0x30);
  const alg = read(spki.start, 0x30);
  const bits = read(alg.end, 0x03);
  if (der[bits.start] !== 0) throw new Error('SPKI: unused bits');
  const seq = read(bits.start + 1, 0x30);
  const n = int(seq.start);
  const e = int(n.end);
  return { n: n.value, e: e.value };
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * Builds the four implementations over one shared session key, so that all
 * four encrypt under the same key and decrypt the same value.
 * Each implementation: { async: bool, wrap(), pinEncrypt(), decrypt(), fullFlow() }.
 */
export async function makeImpls(env) {
  const { ps, forge, sjcl, subtle, getRandomValues, b64encode, b64decode, publicPem: pem } = env;
  const enc = new TextEncoder();
  const dec = new TextDecoder('utf-8', { fatal: true });

  // The existing session (pinEncrypt, decrypt) and the value to decrypt.
  const session = ps.Session.create(pem);
  const keyB64 = session.exportKey();
  const panValue = session.encrypt(PAN);

  // paysecure-wasm. wrap uses a key parsed once (PublicKey.parse), as forge's
  // and WebCrypto's wraps use their parsed/imported keys; fullFlow parses the
  // PEM every time (Session.create(pem)), as their full flows do.
  const oursOf = (mod, sess) => {
    const issuer = mod.PublicKey.parse(pem);
    return {
      async: false,
      wrap() {
        const s = issuer.createSession();
        const id = s.sessionId;
        s.free();
        return id;
      },
      pinEncrypt: () => sess.encryptPin(PIN),
      decrypt: () => sess.decrypt(panValue),
      fullFlow() {
        const s = mod.Session.create(pem);
        const out = { sessionId: s.sessionId, pinBlock: s.encryptPin(PIN) };
        s.free();
        return out;
      },
    };
  };
  const ours = oursOf(ps, session);
  // The reveal module: its own session over the same key.
  const revealSession = env.psReveal ? env.psReveal.Session.fromKey(keyB64) : null;
  const reveal = env.psReveal ? oursOf(env.psReveal, revealSession) : null;

  // node-forge, as the PaySecure document's example: base64 text of the key under
  // RSA-OAEP (SHA-1, MGF1-SHA-1), AES-GCM with a 16-byte IV, data = ct || tag.
  const fPub = forge.pki.publicKeyFromPem(pem);
  const fKey = forge.util.decode64(keyB64);
  const oaep = () => ({ md: forge.md.sha1.create(), mgf1: { md: forge.md.sha1.create() } });
  // Seed 000: `KeyPart1..4 = sjcl.codec.hex.fromBits(sjcl.random.randomWords(2, 0))`,
  // then `forge.util.hexToBytes(sessionKey)`.
  const sessionKeyHex = sjcl
    ? () => sjcl.codec.hex.fromBits(sjcl.random.randomWords(2, 0)) + sjcl.codec.hex.fromBits(sjcl.random.randomWords(2, 0))
      + sjcl.codec.hex.fromBits(sjcl.random.randomWords(2, 0)) + sjcl.codec.hex.fromBits(sjcl.random.randomWords(2, 0))
    : () => forge.util.bytesToHex(forge.random.getBytesSync(32));
  const forgeWrap = (pub) => {
    const key = forge.util.hexToBytes(sessionKeyHex());
    return { key, sessionId: forge.util.encode64(pub.encrypt(forge.util.encode64(key), 'RSA-OAEP', oaep())) };
  };
  const forgePin = (key) => {
    const iv = forge.random.getBytesSync(16);
    const c = forge.cipher.createCipher('AES-GCM', key);
    c.start({ iv });
    c.update(forge.util.createBuffer(pinBlock2(PIN)));
    c.finish();
    return { data: forge.util.encode64(c.output.getBytes() + c.mode.tag.getBytes()), iv: forge.util.encode64(iv) };
  };
  const forgeImpl = {
    async: false,
    wrap: () => forgeWrap(fPub).sessionId,
    pinEncrypt: () => forgePin(fKey),
    decrypt() {
      const raw = forge.util.decode64(panValue.data);
      const d = forge.cipher.createDecipher('AES-GCM', fKey);
      d.start({ iv: forge.util.decode64(panValue.iv), tag: forge.util.createBuffer(raw.slice(-16)) });
      d.update(forge.util.createBuffer(raw.slice(0, -16)));
      if (!d.finish()) throw new Error('node-forge: GCM tag mismatch');
      return forge.util.decodeUtf8(d.output.getBytes());
    },
    fullFlow() {
      const pub = forge.pki.publicKeyFromPem(pem);
      const { key, sessionId } = forgeWrap(pub);
      return { sessionId, pinBlock: forgePin(key) };
    },
  };

  // WebCrypto: RSA-OAEP SHA-1 over SPKI, AES-GCM with a 16-byte IV.
  const RSA = { name: 'RSA-OAEP', hash: 'SHA-1' };
  const wPub = await subtle.importKey('spki', pemToDer(pem, b64decode), RSA, false, ['encrypt']);
  const wAes = await subtle.importKey('raw', b64decode(keyB64), { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
  const wcWrap = async (pub) => {
    const key = getRandomValues(new Uint8Array(32));
    const ct = await subtle.encrypt({ name: 'RSA-OAEP' }, pub, enc.encode(b64encode(key)));
    return { key, sessionId: b64encode(new Uint8Array(ct)) };
  };
  const wcPin = async (aes) => {
    const iv = getRandomValues(new Uint8Array(16));
    const ct = await subtle.encrypt({ name: 'AES-GCM', iv }, aes, enc.encode(pinBlock2(PIN)));
    return { data: b64encode(new Uint8Array(ct)), iv: b64encode(iv) };
  };
  const webcrypto = {
    async: true,
    wrap: async () => (await wcWrap(wPub)).sessionId,
    pinEncrypt: () => wcPin(wAes),
    async decrypt() {
      const pt = await subtle.decrypt({ name: 'AES-GCM', iv: b64decode(panValue.iv) }, wAes, b64decode(panValue.data));
      return dec.decode(pt);
    },
    async fullFlow() {
      const pub = await subtle.importKey('spki', pemToDer(pem, b64decode), RSA, false, ['encrypt']);
      const { key, sessionId } = await wcWrap(pub);
      const aes = await subtle.importKey('raw', key, { name: 'AES-GCM' }, false, ['encrypt']);
      return { sessionId, pinBlock: await wcPin(aes) };
    },
  };

  // noble + micro-rsa: the pure-JS stack, as its READMEs use it.
  const { noble } = env;
  const nOaep = noble.OAEP(noble.sha1, noble.mgf1(noble.sha1));
  const nPub = spkiRsa(pemToDer(pem, b64decode));
  const nKey = b64decode(keyB64);
  const nobleWrap = (pub) => {
    const key = noble.randomBytes(32);
    return { key, sessionId: b64encode(nOaep.encrypt(pub, enc.encode(b64encode(key)))) };
  };
  const noblePin = (key) => {
    const iv = noble.randomBytes(16);
    return { data: b64encode(noble.gcm(key, iv).encrypt(enc.encode(pinBlock2(PIN)))), iv: b64encode(iv) };
  };
  const nobleImpl = {
    async: false,
    wrap: () => nobleWrap(nPub).sessionId,
    pinEncrypt: () => noblePin(nKey),
    // gcm().decrypt throws on a bad tag.
    decrypt: () => dec.decode(noble.gcm(nKey, b64decode(panValue.iv)).decrypt(b64decode(panValue.data))),
    fullFlow() {
      const { key, sessionId } = nobleWrap(spkiRsa(pemToDer(pem, b64decode)));
      return { sessionId, pinBlock: noblePin(key) };
    },
  };

  return {
    forgeKeySource: sjcl ? 'sjcl.random.randomWords (as the PaySecure document does)' : 'forge.random.getBytesSync (sjcl not installed)',
    impls: { 'paysecure-wasm': ours, 'node-forge': forgeImpl, webcrypto, noble: nobleImpl, ...(reveal ? { 'paysecure-wasm/reveal': reveal } : {}) },
    session,
    dispose: () => {
      session.free();
      revealSession?.free();
    },
  };
}

/**
 * Runs every operation of every implementation once and checks the results
 * are what the protocol says: session ids unwrap (with the test private key)
 * to the base64 text of a 32-byte key, PIN blocks decrypt to the PIN (under
 * the shared session, or under the unwrapped key for the full flow), and
 * decrypt returns the PAN. Throws on the first mismatch.
 */
export async function checkImpls(env, built) {
  const { subtle, b64decode, privatePem } = env;
  const { impls, session } = built;
  const checks = [];
  const priv = privatePem
    ? await subtle.importKey('pkcs8', pemToDer(privatePem, b64decode), { name: 'RSA-OAEP', hash: 'SHA-1' }, false, ['decrypt'])
    : null;
  const unwrap = async (sessionId) => {
    const ct = b64decode(sessionId);
    if (ct.length !== 256) throw new Error(`session id is ${ct.length} bytes, want 256`);
    if (!priv) return null;
    const keyText = new TextDecoder().decode(await subtle.decrypt({ name: 'RSA-OAEP' }, priv, ct));
    const key = b64decode(keyText);
    if (keyText.length !== 44 || key.length !== 32) throw new Error(`unwrapped key text ${JSON.stringify(keyText)} is not base64 of 32 bytes`);
    return key;
  };
  const decryptPinUnder = async (key, value) => {
    const aes = await subtle.importKey('raw', key, { name: 'AES-GCM' }, false, ['decrypt']);
    const iv = b64decode(value.iv);
    if (iv.length !== 16) throw new Error('IV is not 16 bytes');
    const pt = await subtle.decrypt({ name: 'AES-GCM', iv }, aes, b64decode(value.data));
    return new TextDecoder().decode(pt);
  };
  for (const [name, impl] of Object.entries(impls)) {
    const fail = (what) => { throw new Error(`${name} ${what}`); };
    const id = await impl.wrap();
    await unwrap(id);
    const pin = await impl.pinEncrypt();
    if (session.decryptPin(pin) !== PIN) fail('pinEncrypt: does not decrypt to the PIN');
    if ((await impl.decrypt()) !== PAN) fail('decrypt: not the PAN');
    const flow = await impl.fullFlow();
    const key = await unwrap(flow.sessionId);
    if (key && (await decryptPinUnder(key, flow.pinBlock)) !== pinBlock2(PIN)) fail('fullFlow: PIN block does not decrypt under the wrapped key');
    checks.push(`${name}: wrap${priv ? ' (unwrapped)' : ''}, pinEncrypt, decrypt, fullFlow${key ? ' (unwrapped + PIN block)' : ''} ok`);
  }
  return checks;
}

async function runBatch(impl, op, iters, now) {
  const fn = impl[op];
  let last;
  const t0 = now();
  if (impl.async) {
    for (let i = 0; i < iters; i++) last = await fn();
  } else {
    for (let i = 0; i < iters; i++) last = fn();
  }
  const ms = now() - t0;
  if (last === undefined) throw new Error(`${op} returned nothing`);
  return ms;
}

const yieldToLoop = () => new Promise((r) => setTimeout(r, 0));

/**
 * For each operation: warm up each implementation for `warmupMs` (which also
 * sizes its batches to about `sampleMs`), then `rounds` rounds, each timing
 * one batch of every implementation, round-robin, the starting
 * implementation rotated every round (A,B,C,D, B,C,D,A, ...). Reports the
 * median ops/s over the rounds, per implementation, the ratios
 * paysecure-wasm / peer of the medians and the smallest per-round ratio.
 */
export async function runOps(built, { rounds, warmupMs, sampleMs, now, log = () => {} }) {
  const { impls } = built;
  const names = Object.keys(impls);
  const out = {};
  for (const op of OPS) {
    const iters = {};
    for (const name of names) {
      let n = 0;
      let spent = 0;
      let batch = 1;
      while (spent < warmupMs || n < 3) {
        spent += await runBatch(impls[name], op, batch, now);
        n += batch;
        batch = Math.min(batch * 2, 1 << 16);
      }
      const perOp = Math.max(spent / n, 1e-4);
      iters[name] = Math.max(1, Math.round(sampleMs / perOp));
    }
    const samples = Object.fromEntries(names.map((n) => [n, []]));
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < names.length; k++) {
        const name = names[(r + k) % names.length];
        const ms = await runBatch(impls[name], op, iters[name], now);
        samples[name].push((iters[name] * 1000) / ms);
      }
      await yieldToLoop();
    }
    const opsPerSec = Object.fromEntries(names.map((n) => [n, median(samples[n])]));
    // ratios: of the medians; minRatios: the worst round (ours / peer, both
    // timed in the same round), the "with margin" view of #20. For the reveal
    // module: revealRatios, revealMinRatios.
    const ratiosOf = (me) => {
      const ratios = {};
      const minRatios = {};
      for (const [k, peer] of Object.entries(PEERS)) {
        if (!samples[peer]) continue;
        ratios[k] = opsPerSec[me] / opsPerSec[peer];
        minRatios[k] = Math.min(...samples[me].map((x, r) => x / samples[peer][r]));
      }
      return { ratios, minRatios };
    };
    const { ratios, minRatios } = ratiosOf('paysecure-wasm');
    out[op] = { opsPerSec, samples, batch: iters, ratios, minRatios };
    if (samples['paysecure-wasm/reveal']) {
      const r = ratiosOf('paysecure-wasm/reveal');
      out[op].revealRatios = r.ratios;
      out[op].revealMinRatios = r.minRatios;
    }
    log(`${op}: ${names.map((n) => `${n} ${Math.round(opsPerSec[n])}/s`).join(', ')}`);
  }
  return out;
}

/**
 * A copy of a .wasm module with a custom section appended that holds
 * `nonce`: the same code, different bytes, so that V8's in-process cache of
 * compiled modules (keyed by the module bytes) cannot serve it and every
 * instantiation really compiles.
 */
export function withNonceSection(wasmBytes, nonce) {
  const name = new TextEncoder().encode('bench-nonce');
  const payload = new TextEncoder().encode(String(nonce));
  const leb = (n) => {
    const out = [];
    do {
      let b = n & 0x7f;
      n >>>= 7;
      if (n) b |= 0x80;
      out.push(b);
    } while (n);
    return out;
  };
  const content = [...leb(name.length), ...name, ...payload];
  const section = Uint8Array.from([0, ...leb(content.length), ...content]);
  const out = new Uint8Array(wasmBytes.length + section.length);
  out.set(wasmBytes, 0);
  out.set(section, wasmBytes.length);
  return out;
}

/** Import object of throwing stubs for every (function) import of `module`. */
export function stubImports(module) {
  const imports = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.kind !== 'function') throw new Error(`unexpected ${imp.kind} import ${imp.module}.${imp.name}`);
    (imports[imp.module] ??= {})[imp.name] = () => {
      throw new Error(`stub import ${imp.module}.${imp.name} called`);
    };
  }
  return imports;
}

export function summarize(samples) {
  return { median: median(samples), min: Math.min(...samples), max: Math.max(...samples), samples };
}
