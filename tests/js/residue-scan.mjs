// The residue scan of issue #14: no secret outlives the call that handled it
// in the module's WebAssembly memory.
//
// Every public function that handles a secret is called, and right after each
// call (no other call into the module in between, so no allocation churn can
// hide what was left behind) the module's linear memory is copied and
// searched for every secret that call handled: raw keys, their base64 text,
// the GHASH key H = AES_k(0^128) (also byte-reversed, as the POLYVAL key
// mulX(reverse(H)) that aes-gcm keeps, and as the core's own GHASH keeps it:
// two little-endian u64 halves), the expanded AES round keys, the
// RSA-padded session key and OAEP seed, PIN and PIN-block text, PANs, CVV2
// and cardholder name, JSON of a captured card, decrypted text and bytes.
// Binary secrets are also searched 8 bytes at a time, so partial copies count.
// While a session is alive its key, H and round keys are allowed in memory;
// after free() they are not.
//
// Environment-neutral (WebCrypto and BigInt only): tests/js/residue.test.mjs
// runs it in Node on the nodejs build, tests/browser/residue.test.mjs in
// Chromium on the web build, each for both entry points (`paysecure-wasm`
// and `paysecure-wasm/reveal`: the latter is its own module, so its own
// inlining, stack frames and allocator use). For the reveal entry
// (`full: false`) the calls it does not have are left out, each through
// FULL_ONLY_CALLS below, which the tests check really are missing there. The expected secrets are computed independently
// of the module (WebCrypto, raw RSA with the test key in BigInt).

const enc = new TextEncoder();
const subtle = globalThis.crypto.subtle;

// --- small byte helpers ------------------------------------------------------

const utf8 = (s) => enc.encode(s);
const rev = (u8) => u8.slice().reverse();
const b64 = (u8) => btoa(String.fromCharCode(...u8));
const unb64 = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
const hexOf = (u8) => Array.from(u8, (b) => b.toString(16).padStart(2, '0')).join('');
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};
const randomBytes = (n) => globalThis.crypto.getRandomValues(new Uint8Array(n));
const randomDigits = (n) => Array.from(randomBytes(n), (b) => String(b % 10)).join('');

/** A Luhn-valid card number of `len` digits starting with `prefix`. */
function randomPan(prefix, len) {
  const body = prefix + randomDigits(len - prefix.length - 1);
  for (let d = 0; d < 10; d++) {
    const pan = body + d;
    let sum = 0;
    for (let i = 0; i < pan.length; i++) {
      let x = pan.charCodeAt(pan.length - 1 - i) - 48;
      if (i % 2 === 1) { x *= 2; if (x > 9) x -= 9; }
      sum += x;
    }
    if (sum % 10 === 0) return pan;
  }
  throw new Error('unreachable');
}

/** Every offset of `needle` in `hay`. */
export function findAll(hay, needle) {
  const out = [];
  if (needle.length === 0) return out;
  const first = needle[0];
  for (let i = hay.indexOf(first); i !== -1 && i <= hay.length - needle.length; i = hay.indexOf(first, i + 1)) {
    let j = 1;
    while (j < needle.length && hay[i + j] === needle[j]) j++;
    if (j === needle.length) out.push(i);
  }
  return out;
}

/**
 * The initial value of the first mutable i32 global of a wasm binary: the
 * shadow-stack pointer wasm-ld puts there. The stack occupies [0, that) and
 * is empty between calls.
 */
export function stackTopOf(bytes) {
  let p = 8;
  const leb = (signed) => {
    let result = 0, shift = 0, b;
    do { b = bytes[p++]; result |= (b & 0x7f) << shift; shift += 7; } while (b & 0x80);
    if (signed && shift < 32 && (b & 0x40)) result |= -1 << shift;
    return result;
  };
  while (p < bytes.length) {
    const id = bytes[p++];
    const size = leb(false);
    const end = p + size;
    if (id === 6) {
      const count = leb(false);
      for (let g = 0; g < count; g++) {
        const type = bytes[p++], mutable = bytes[p++], op = bytes[p++];
        if (op !== 0x41) break; // not i32.const: give up on this section
        const value = leb(true);
        p++; // end
        if (type === 0x7f && mutable === 1) return value >>> 0;
      }
    }
    p = end;
  }
  throw new Error('no mutable i32 global (stack pointer) in the wasm binary');
}

// --- AES, GHASH and RSA, independently of the module -------------------------

/** AES_k(0^128): the GHASH key. One AES-CBC block under a zero IV. */
async function ghashKey(key) {
  const k = await subtle.importKey('raw', key, 'AES-CBC', false, ['encrypt']);
  const out = new Uint8Array(await subtle.encrypt({ name: 'AES-CBC', iv: new Uint8Array(16) }, k, new Uint8Array(16)));
  return out.slice(0, 16);
}

/** POLYVAL's mulX over a little-endian 128-bit value (RFC 8452), as the polyval crate does. */
function mulx(block) {
  let v = 0n;
  for (let i = 15; i >= 0; i--) v = (v << 8n) | BigInt(block[i]);
  const hi = v >> 127n;
  v = (v << 1n) & ((1n << 128n) - 1n);
  v ^= hi ^ (hi << 127n) ^ (hi << 126n) ^ (hi << 121n);
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) { out[i] = Number(v & 0xffn); v >>= 8n; }
  return out;
}

const SBOX = (() => {
  const s = new Uint8Array(256);
  const rotl = (x, n) => ((x << n) | (x >> (8 - n))) & 0xff;
  let p = 1, q = 1;
  do {
    p = (p ^ (p << 1) ^ (p & 0x80 ? 0x1b : 0)) & 0xff;
    q ^= q << 1; q ^= q << 2; q ^= q << 4; q &= 0xff;
    if (q & 0x80) q ^= 0x09;
    s[p] = q ^ rotl(q, 1) ^ rotl(q, 2) ^ rotl(q, 3) ^ rotl(q, 4) ^ 0x63;
  } while (p !== 1);
  s[0] = 0x63;
  return s;
})();

/** The FIPS-197 key expansion: every 16-byte round key. */
export function aesRoundKeys(key) {
  const nk = key.length / 4, nr = nk + 6;
  const w = new Uint8Array(16 * (nr + 1));
  w.set(key);
  let rcon = 1;
  for (let i = nk; i < 4 * (nr + 1); i++) {
    let t = Array.from(w.subarray(4 * (i - 1), 4 * i));
    if (i % nk === 0) {
      t = [SBOX[t[1]] ^ rcon, SBOX[t[2]], SBOX[t[3]], SBOX[t[0]]];
      rcon = (rcon << 1) ^ (rcon & 0x80 ? 0x11b : 0);
    } else if (nk > 6 && i % nk === 4) {
      t = t.map((b) => SBOX[b]);
    }
    for (let j = 0; j < 4; j++) w[4 * i + j] = w[4 * (i - nk) + j] ^ t[j];
  }
  return Array.from({ length: nr + 1 }, (_, r) => w.slice(16 * r, 16 * r + 16));
}
// FIPS-197 A.1: the last AES-128 round key of 2b7e1516...
if (hexOf(aesRoundKeys(Uint8Array.from([0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c]))[10])
  !== 'd014f9a8c9ee2589e13f0cc8b6630ca6') throw new Error('AES key expansion self-check failed');

const big = (u8) => u8.reduce((a, b) => (a << 8n) | BigInt(b), 0n);
function bytesOf(x, len) {
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) { out[i] = Number(x & 0xffn); x >>= 8n; }
  return out;
}
function modpow(b, e, m) {
  let r = 1n;
  b %= m;
  while (e > 0n) { if (e & 1n) r = (r * b) % m; b = (b * b) % m; e >>= 1n; }
  return r;
}

async function mgf1(hash, seed, len) {
  const parts = [];
  for (let c = 0, have = 0; have < len; c++) {
    const block = new Uint8Array(await subtle.digest(hash, concat(seed, Uint8Array.of(c >>> 24, c >>> 16, c >>> 8, c))));
    parts.push(block);
    have += block.length;
  }
  return concat(...parts).slice(0, len);
}
const xor = (a, b) => a.map((x, i) => x ^ b[i]);

/** Raw RSA with the test private key: the encoded message EM of a ciphertext. */
async function rsaKeyOf(privatePkcs8Pem) {
  const der = unb64(privatePkcs8Pem.replace(/-----[^-]+-----|\s/g, ''));
  const k = await subtle.importKey('pkcs8', der, { name: 'RSA-OAEP', hash: 'SHA-1' }, true, ['decrypt']);
  const jwk = await subtle.exportKey('jwk', k);
  const n = big(unb64(jwk.n)), d = big(unb64(jwk.d));
  const len = unb64(jwk.n).length;
  return { emOf: (c) => bytesOf(modpow(big(c), d, n), len) };
}

/** EM -> { seed, message } for OAEP (`hash` 'SHA-1' or 'SHA-256'), or PKCS#1 v1.5 when hash is null. */
async function unpad(em, hash) {
  if (!hash) {
    const zero = em.indexOf(0, 2);
    return { seed: em.slice(2, zero), message: em.slice(zero + 1) };
  }
  const h = hash === 'SHA-1' ? 20 : 32;
  const maskedSeed = em.slice(1, 1 + h), maskedDb = em.slice(1 + h);
  const seed = xor(maskedSeed, await mgf1(hash, maskedDb, h));
  const db = xor(maskedDb, await mgf1(hash, seed, maskedDb.length));
  return { seed, message: db.slice(db.indexOf(1, h) + 1) };
}

// --- encryption of test inputs, independently of the module ------------------

async function gcmSeal(key, iv, plain, aad) {
  const k = await subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt', 'decrypt']);
  return new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv, ...(aad ? { additionalData: aad } : {}) }, k, plain));
}
async function gcmOpen(key, iv, sealed, aad) {
  const k = await subtle.importKey('raw', key, 'AES-GCM', false, ['decrypt']);
  return new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv, additionalData: aad }, k, sealed));
}
async function cbcSeal(key, iv, plain) {
  const k = await subtle.importKey('raw', key, 'AES-CBC', false, ['encrypt']);
  return new Uint8Array(await subtle.encrypt({ name: 'AES-CBC', iv }, k, plain));
}
/** A `{ data, iv }` value of the protocol (V2/V3: GCM, V1: CBC). */
async function valueOf(version, key, plain, ivLen = 16) {
  const iv = randomBytes(ivLen);
  const data = version === 'v1' ? await cbcSeal(key, iv, plain) : await gcmSeal(key, iv, plain);
  return { data: b64(data), iv: b64(iv) };
}
/** Seed 003's encrypted body: hex(nonce || ciphertext || tag), nonce = yyyyMMddHHmmss + 12 hex digits. */
async function bodyOf(key, text) {
  const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
  const nonce = utf8(stamp + hexOf(randomBytes(6)));
  return hexOf(concat(nonce, await gcmSeal(key, nonce, utf8(text))));
}

// --- the secrets -----------------------------------------------------------------

/** A text secret: its UTF-8 bytes, and the ASCII prefix when it has non-ASCII characters. */
function text(label, s) {
  const out = [{ label, bytes: utf8(s) }];
  const ascii = s.match(/^[\x00-\x7f]*/)[0];
  if (ascii.length >= 8 && ascii.length < s.length) out.push({ label: `${label} (ASCII prefix)`, bytes: utf8(ascii) });
  return out;
}
/** A binary secret, also in 8-byte pieces. */
function binary(label, bytes) {
  return [{ label, bytes, pieces: true }];
}
/** An AES key with everything derived from it that an AES-GCM/CBC implementation keeps. */
async function keySecrets(label, key) {
  const h = await ghashKey(key);
  const rks = aesRoundKeys(key).slice(key.length / 16); // the first ones are the key itself
  return [
    ...binary(label, key),
    ...binary(`${label}: GHASH key H`, h),
    ...binary(`${label}: H byte-reversed`, rev(h)),
    ...binary(`${label}: POLYVAL key mulX(rev H)`, mulx(rev(h))),
    // As the core's GHASH (crates/core/src/ghash_ct64.rs) keeps it: the two
    // big-endian 64-bit halves of H as little-endian u64s.
    ...binary(`${label}: H as two u64s`, Uint8Array.from([...rev(h.subarray(0, 8)), ...rev(h.subarray(8))])),
    ...rks.flatMap((rk, i) => binary(`${label}: AES round key ${i + key.length / 16}`, rk)),
  ];
}

/**
 * What the scan calls that only the full entry point has, by the name the
 * scan leaves it out under for the reveal entry. Each value makes that call
 * (given `ps`, the issuer's public key PEM): it works on the full entry and
 * fails on the reveal one (V1_NOT_IN_ENTRY, or the function is not there),
 * which the residue tests assert, so nothing the reveal entry has can be
 * skipped by adding its name here.
 */
export const FULL_ONLY_CALLS = {
  v1: (ps, pem) => ps.Session.create(pem, { version: 'v1', allowLegacyCbc: true }).free(),
  encryptCard: (ps, pem) => ps.encryptCard({ cardNumber: '4111111111111111', expiryMonth: 12, expiryYear: 2031, cvv: '123' },
    pem, { keyAlias: 'k1' }),
  encryptBody: (ps, pem) => {
    const s = ps.Session.create(pem);
    try { return s.encryptBody('{"a":1}'); } finally { s.free(); }
  },
  decryptBody: (ps, pem) => {
    const s = ps.Session.create(pem);
    try { return s.decryptBody(s.encryptBody('{"a":1}')); } finally { s.free(); }
  },
};

/** Where each secret is found in `mem`, as [{ label, offset, partial }]. */
function scan(mem, secrets) {
  const hits = [];
  for (const s of secrets) {
    const whole = findAll(mem, s.bytes);
    if (whole.length) { hits.push({ label: s.label, offsets: whole, partial: false }); continue; }
    if (s.pieces && s.bytes.length > 8) {
      const offsets = [];
      for (let i = 0; i + 8 <= s.bytes.length; i += 8) offsets.push(...findAll(mem, s.bytes.subarray(i, i + 8)));
      if (offsets.length) hits.push({ label: s.label, offsets, partial: true });
    }
  }
  return hits;
}

/**
 * Runs every secret-handling function of `ps` and scans `memory` after each.
 * `full` (default true): `ps` is the full entry point; false for
 * `paysecure-wasm/reveal`, whose scan leaves out the FULL_ONLY_CALLS and
 * has V3 sessions where the full one has V1 sessions (so as many live keys).
 * Returns { rows: [{ step, left: [...] }], findings: [...], table, controls, skipped }.
 * `controls` counts the live keys found while their session was alive: the
 * positive control that the scan sees the right memory. `skipped` lists the
 * FULL_ONLY_CALLS names that were left out.
 */
export async function residueScan({ ps, memory, stackTop, vectors, full = true }) {
  const skipped = new Set();
  /** Whether to make a call only the full entry point has (noted as left out when not). */
  const has = (name) => {
    if (!Object.hasOwn(FULL_ONLY_CALLS, name)) throw new Error(`${name} is not in FULL_ONLY_CALLS`);
    if (!full) skipped.add(name);
    return full;
  };
  const rows = [];
  const findings = [];
  const everything = [];
  let controls = 0;
  const snap = () => new Uint8Array(memory.buffer).slice();
  const region = (o) => (o < stackTop ? 'stack' : 'heap');
  const check = (step, mem, secrets) => {
    everything.push(...secrets);
    const left = scan(mem, secrets).map((h) => ({ ...h, where: [...new Set(h.offsets.map(region))].join('+') }));
    rows.push({ step, left });
    for (const l of left) findings.push({ step, secret: l.label, where: l.where, partial: l.partial });
  };
  const control = (mem, key) => {
    if (findAll(mem, key).length === 0) throw new Error('positive control failed: a live session key is not in memory');
    controls++;
  };
  const rsa = await rsaKeyOf(vectors.rsa.private_pkcs8_pem);
  const pem = vectors.rsa.public_spki_pem;

  // 1. Sessions over a known key: every method, then free().
  const known = has('v1') ? [['v2', 256], ['v2', 128], ['v1', 256], ['v1', 128]] : [['v2', 256], ['v2', 128], ['v3', 256], ['v3', 128]];
  for (const [version, bits] of known) {
    const tag = `${version}/AES-${bits}`;
    const key = randomBytes(bits / 8);
    const keyB64 = b64(key);
    const keyAll = await keySecrets('session key', key);
    const s = ps.Session.fromKey(keyB64, { version, allowLegacyCbc: version === 'v1' });
    let mem = snap();
    control(mem, key);
    check(`Session.fromKey ${tag}`, mem, text('key base64', keyB64));

    const pan = randomPan('4', 16);
    const panValue = await valueOf(version, key, utf8(pan));
    if (s.decrypt(panValue) !== pan) throw new Error('decrypt');
    check(`decrypt ${tag}`, snap(), text('decrypted PAN', pan));

    // A failure after decryption: a changed tag (GCM) or last block (CBC)
    // still has the PAN decrypted into a buffer before the check fails.
    const pan2 = randomPan('4', 16);
    const good = await valueOf(version, key, utf8(pan2));
    const bytes0 = unb64(good.data);
    bytes0[bytes0.length - 1] ^= 1;
    let code;
    try { s.decrypt({ data: b64(bytes0), iv: good.iv }); } catch (e) { code = e.code; }
    if (code !== 'DECRYPTION_FAILED') throw new Error(`tampered decrypt: ${code}`);
    check(`decrypt failing after decryption ${tag}`, snap(), text('PAN of the tampered value', pan2));

    const pin = randomDigits(12);
    const block = `2C${pin}FF`;
    const pinValue = await valueOf(version, key, utf8(block));
    if (s.decryptPin(pinValue) !== pin) throw new Error('decryptPin');
    check(`decryptPin ${tag}`, snap(), [...text('PIN', pin), ...text('PIN block', block)]);

    const pin2 = randomDigits(10);
    s.encryptPin(pin2);
    check(`encryptPin ${tag}`, snap(), [...text('PIN', pin2), ...text('PIN block', `2A${pin2}FFFF`)]);

    const plain = `cvv2=${randomDigits(3)};pan=${randomPan('5', 16)};name=Zoë Hølder`;
    s.encrypt(plain);
    check(`encrypt(string) ${tag}`, snap(), text('plaintext', plain));

    const bytes = randomBytes(40);
    s.encrypt(bytes);
    check(`encrypt(Uint8Array) ${tag}`, snap(), binary('plaintext bytes', bytes));

    const bytes2 = randomBytes(40);
    const got = s.decryptBytes(await valueOf(version, key, bytes2));
    if (hexOf(got) !== hexOf(bytes2)) throw new Error('decryptBytes');
    check(`decryptBytes ${tag}`, snap(), binary('decrypted bytes', bytes2));

    if (version !== 'v1') {
      const cvv = `CVV2 ${randomDigits(4)} of ${randomPan('3', 15)}`;
      if (s.decrypt(await valueOf(version, key, utf8(cvv), 12)) !== cvv) throw new Error('decrypt 12');
      check(`decrypt (12-byte IV) ${tag}`, snap(), text('decrypted text', cvv));
    }

    if (has('encryptBody')) {
      const body = `{"data":{"pan":"${randomPan('6', 16)}","name":"Jürgen Ölmez"}}`;
      s.encryptBody(body);
      check(`encryptBody ${tag}`, snap(), text('body', body));
    }

    if (has('decryptBody')) {
      const body2 = `{"data":{"pan":"${randomPan('2', 16)}","cvv":"${randomDigits(3)}","holder":"Ørsted"}}`;
      if (s.decryptBody(await bodyOf(key, body2)) !== body2) throw new Error('decryptBody');
      check(`decryptBody ${tag}`, snap(), text('decrypted body', body2));
    }

    if (s.exportKey() !== keyB64) throw new Error('exportKey');
    check(`exportKey ${tag}`, snap(), text('key base64', keyB64));

    s.free();
    check(`free ${tag}`, snap(), keyAll);
  }

  // 2. Fresh sessions wrapped for the issuer's key: the padded key and the
  //    OAEP seed / PKCS#1 padding are secrets too.
  const make = [
    ['Session.create v2/AES-256', () => ps.Session.create(pem, { version: 'v2', keyBits: 256 }), 'SHA-1'],
    ['Session.create v2/AES-128', () => ps.Session.create(pem, { version: 'v2', keyBits: 128 }), 'SHA-1'],
    has('v1')
      ? ['Session.create v1/AES-256', () => ps.Session.create(pem, { version: 'v1', keyBits: 256 }), null]
      : ['Session.create v3/AES-256', () => ps.Session.create(pem, { version: 'v3', keyBits: 256 }), 'SHA-1'],
    ['PublicKey.createSession v2/AES-256', () => {
      const issuer = ps.PublicKey.parse(pem);
      try { return issuer.createSession(); } finally { issuer.free(); }
    }, 'SHA-1'],
  ];
  for (const [step, create, hash] of make) {
    const s = create();
    const mem = snap();
    const em = rsa.emOf(unb64(s.sessionId));
    const { seed, message } = await unpad(em, hash);
    const keyB64 = new TextDecoder().decode(message);
    const key = unb64(keyB64);
    control(mem, key);
    check(step, mem, [
      ...text('key base64', keyB64),
      ...binary('RSA input EM (big-endian)', em),
      ...binary('RSA input EM (little-endian limbs)', rev(em)),
      ...binary(hash ? 'OAEP seed' : 'PKCS#1 padding', seed),
    ]);
    const keyAll = await keySecrets('session key', key);
    s.encryptPin(randomDigits(8));
    s.free();
    check(`free (after ${step})`, snap(), keyAll);
  }

  // 3. PIN blocks and card helpers.
  const pan = randomPan('4', 19);
  for (const format of [0, 1, 2, 3]) {
    const pin = randomDigits(12);
    const block = ps.pinBlock(pin, format === 0 || format === 3 ? { format, pan } : { format });
    check(`pinBlock format ${format}`, snap(), [...text('PIN', pin), ...text('PIN block', block), ...text('PAN', pan)]);
    const back = ps.parsePinBlock(block, { pan });
    if (back !== pin) throw new Error('parsePinBlock');
    check(`parsePinBlock format ${format}`, snap(), [...text('PIN', pin), ...text('PIN block', block), ...text('PAN', pan)]);
  }
  const weak = randomDigits(12);
  ps.pinWeakness(weak);
  check('pinWeakness', snap(), text('PIN', weak));
  for (const [name, fn] of [['luhnCheck', ps.luhnCheck], ['cardBrand', ps.cardBrand], ['maskPan', ps.maskPan]]) {
    const p = randomPan('5', 16);
    fn(p);
    check(name, snap(), text('PAN', p));
  }

  // 4. Card capture: the card, its JSON, the content key of the JWE.
  if (has('encryptCard')) {
    const p = randomPan('4', 16);
    const spaced = p.replace(/(\d{4})(?=\d)/g, '$1 ');
    const cvv = randomDigits(3);
    const name = 'JONATHAN Q HÖLDER';
    const jwe = ps.encryptCard({ cardNumber: spaced, expiryMonth: 12, expiryYear: 2031, cvv, cardholderName: name },
      pem, { keyAlias: 'residue-k1', captureTime: new Date() });
    const mem = snap();
    const [protectedB64, ekB64, ivB64, ctB64, tagB64] = jwe.split('.');
    const em = rsa.emOf(unb64(ekB64));
    const { seed, message: cek } = await unpad(em, 'SHA-256');
    const json = new TextDecoder().decode(await gcmOpen(cek, unb64(ivB64), concat(unb64(ctB64), unb64(tagB64)), utf8(protectedB64)));
    if (!json.includes(`"cvv":"${cvv}"`)) throw new Error('encryptCard JSON');
    check('encryptCard', mem, [
      ...text('PAN as typed', spaced),
      ...text('PAN', p),
      ...text('card JSON', json),
      ...text('CVV2 in JSON', `"cvv":"${cvv}"`),
      ...text('cardholder name', name),
      ...(await keySecrets('JWE content key', cek)),
      ...binary('RSA input EM (big-endian)', em),
      ...binary('RSA input EM (little-endian limbs)', rev(em)),
      ...binary('OAEP seed', seed),
    ]);
  }

  // 5. At the end, after every session is freed: nothing of the whole run.
  const endLeft = scan(snap(), everything);
  rows.push({ step: 'end of run', left: endLeft.map((h) => ({ ...h, where: [...new Set(h.offsets.map(region))].join('+') })) });
  for (const l of endLeft) findings.push({ step: 'end of run', secret: l.label, partial: l.partial });

  const table = [
    '| after | secrets left in linear memory |',
    '| --- | --- |',
    ...rows.map((r) => `| ${r.step} | ${r.left.length === 0 ? 'none' : [...new Set(r.left.map((l) => `${l.label}${l.partial ? ' (partial)' : ''} [${l.where}]`))].join('; ')} |`),
  ].join('\n');
  return { rows, findings, table, controls, skipped: [...skipped] };
}

/** The bytes of the shadow stack's wipe, as scripts and the README state them. */
export const STACK_WIPE_BYTES = 8 * 1024;

/**
 * The stack check: paints the (empty) shadow stack, makes one call, and
 * reads what the call left. A call that wipes the stack its callees used (see
 * `StackWipe` in src/stack_wipe.rs) leaves, from the deepest byte it touched up:
 * the wipe's own bookkeeping (a few words holding stack addresses), a run of
 * zeros, then what the wipe cannot reach: the frames of the exported
 * function and of the glue's shim (live while it runs), and what the shim
 * writes after it returned (boxing a returned object into the heap). So the
 * call is fine when the zero run is most of STACK_WIPE_BYTES (nothing the
 * callees wrote is left below or inside it) and what is above it is small.
 * Returns { depth, wiped, frames, problem }.
 */
export function stackResidue({ memory, stackTop }, call) {
  const PAINT = 0xa5;
  new Uint8Array(memory.buffer, 0, stackTop).fill(PAINT);
  call();
  const m = new Uint8Array(memory.buffer, 0, stackTop);
  let low = 0;
  while (low < stackTop && m[low] === PAINT) low++;
  const view = new DataView(memory.buffer);
  let p = low & ~3;
  for (let words = 0; words < 4 && p + 4 <= stackTop; words++, p += 4) {
    const word = view.getUint32(p, true);
    if (word !== 0 && (word < low || word >= stackTop)) break;
  }
  while (p > low && m[p - 1] === 0) p--;
  const bottom = p;
  while (p < stackTop && m[p] === 0) p++;
  const wiped = p - bottom;
  const frames = stackTop - p;
  let problem = null;
  if (wiped < STACK_WIPE_BYTES / 2) {
    problem = `${stackTop - low} bytes deep, but only ${wiped} zero bytes above the deepest: the stack was not wiped`;
  } else if (frames > 2048) {
    problem = `${frames} bytes above the wiped stack`;
  }
  return { depth: stackTop - low, wiped, frames, problem };
}

/**
 * A deterministic stand-in for crypto.getRandomValues (xorshift32 from
 * `seed`), installed on `crypto` until the returned function is called.
 */
export function deterministicRandom(crypto, seed) {
  const original = crypto.getRandomValues;
  let x = seed >>> 0 || 1;
  crypto.getRandomValues = (array) => {
    const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
    for (let i = 0; i < bytes.length; i++) {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      bytes[i] = x & 0xff;
    }
    return array;
  };
  return () => { crypto.getRandomValues = original; };
}

/**
 * The key-dependence check: `memA` and `memB` are the memories of two fresh
 * instances after the same calls with the same inputs, randomness and clock,
 * but different keys. Every byte that differs depends on the key; it must be
 * explained by a public value of that run (a ciphertext, its base64 or hex, an
 * IV): any other differing byte is key material left behind, in whatever form
 * (bitsliced round keys, POLYVAL state, a stack temporary, ...). Returns the
 * unexplained differing ranges as [[offset, length]].
 *
 * A differing byte is explained when a 4-gram of the publics covers it in both
 * memories. One more, narrower case: a run of 1 to 3 consecutive differing
 * bytes that no 4-gram covers is explained only when it is, in both
 * memories, the same end of the same public value (its last bytes in both,
 * or its first bytes in both; same index among the publics, so the same
 * value of the two runs): the remnant of a freed copy of that public value
 * whose other bytes the allocator's own bookkeeping or a later public
 * overwrote (e.g. the last byte of a returned GCM tag). A leftover of a
 * secret matches that by chance with probability below
 * 2 x (number of publics) / 65,536 per run, and a run of 4 or more bytes
 * never gets this exception.
 */
export function unexplainedDifferences(memA, memB, publicsA, publicsB) {
  const N = 4;
  const grams = (publics) => {
    const set = new Set();
    for (const p of publics) for (let i = 0; i + N <= p.length; i++) set.add(String.fromCharCode(...p.subarray(i, i + N)));
    return set;
  };
  const ga = grams(publicsA), gb = grams(publicsB);
  const explained = (mem, set, i) => {
    for (let j = Math.max(0, i - N + 1); j <= i; j++) {
      if (set.has(String.fromCharCode(...mem.subarray(j, j + N)))) return true;
    }
    return false;
  };
  const len = Math.min(memA.length, memB.length);
  // The unexplained differing bytes, as runs of consecutive offsets.
  const runs = [];
  for (let i = 0; i < len; i++) {
    if (memA[i] === memB[i]) continue;
    if (explained(memA, ga, i) && explained(memB, gb, i)) continue;
    const last = runs[runs.length - 1];
    if (last && last[0] + last[1] === i) last[1]++;
    else runs.push([i, 1]);
  }
  const sameEnd = (o, n) => publicsA.some((pa, k) => {
    const pb = publicsB[k];
    if (!pb || pa.length !== pb.length || pa.length < n) return false;
    const at = (q) => {
      for (let j = 0; j < n; j++) if (memA[o + j] !== pa[q + j] || memB[o + j] !== pb[q + j]) return false;
      return true;
    };
    return at(0) || at(pa.length - n);
  });
  const out = [];
  for (const [i, n] of runs) {
    if (n < N && sameEnd(i, n)) continue;
    const last = out[out.length - 1];
    if (last && last[0] + last[1] >= i - 8) last[1] = i + n - last[0];
    else out.push([i, n]);
  }
  if (memA.length !== memB.length) out.push([len, Math.abs(memA.length - memB.length)]);
  return out;
}
