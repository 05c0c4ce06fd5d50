#!/usr/bin/env node
// Constant-time check of the RSA kernel and of GHASH as they ship (issue #14),
// and the stack wipe's 8 KiB fill as it ships (issue #20).
//
//   node scripts/ct-check.mjs        (after scripts/build.sh; run by tests/js/ct-kernel.test.mjs)
//
// Method. The kernel's functions (crates/montgomery: Modulus::pow_public,
// mul, sqr, kept out of line for this) are read from the shipped
// pkg/paysecure-wasm/paysecure_wasm_bg.wasm, and a taint analysis of their WebAssembly
// asserts that no branch (br_if, if, br_table), no `select` condition, no
// memory address or length, no indirect call and no division depends on
// secret data.
//
// 1. Names: the shipped module has none. cargo's artifact is run through
//    wasm-bindgen and wasm-opt exactly as scripts/build.sh does (the result
//    must equal pkg/paysecure-wasm's module byte for byte, so this is what ships), and
//    once more with names kept (`wasm-opt -g`). Each kernel function is found
//    by name there, and its twin in the shipped module by an identical body
//    (call targets aside), which is what is analysed.
// 2. Taint: an abstract interpretation over the structured code, in
//    execution order, joining at merges and iterating loops to a fixpoint.
//    Secret: every value loaded from memory, and everything computed from one,
//    except loads from the `self` struct (the public modulus' Vec headers and
//    n0) and from the function's own stack frame slots that never receive a
//    secret. Public: parameters (pointers, lengths, the exponent), constants,
//    call results (pointers). Limbs of the message, of the modulus and of every
//    intermediate are all loads through pointers: secret, conservatively.
// 3. Self-test: the analysis must flag tests/data/ct-mul-without-barrier.wat,
//    the kernel's `mul` as compiled before its select had a barrier, where
//    LLVM turned the masked select into `br_if` + `memory.copy`.
//
// GHASH (crates/core/src/ghash_ct64.rs: bmul64, rev64, halves, Ghash::block,
// update_padded, finalize; all out of line in both modules, each required:
// a name not found fails the check) is found and matched the same way, in
// both shipped modules, and analysed more strictly (`strict`, `GHASH`):
// - its operands are secret values (bmul64's x and y, rev64's x), and no
//   struct is public: H and Y behind `self`, the blocks behind the other
//   pointers; every load outside the function's own frame is secret;
// - a call's result is secret unless the callee, analysed in turn with the
//   arguments' taint, returns only public data (halves, rev64 and bmul64 return
//   secrets to Ghash::block); unknown callees and recursion: secret; a callee
//   given a secret value must be clean with it (its violations are reported
//   in the caller; one not in the module is a violation). Callees given only
//   public values (pointers, lengths: zip, zeroize, copy_from_slice, listed
//   in the output) are followed for what they return and store, not checked
//   for branches on what they load through those pointers;
// - frame bytes are tracked in the flow, byte by byte: once the frame's
//   address has escaped (update_padded passes it to `zip`), a secret
//   stored through another pointer (their byte-copy loops write through
//   pointers read back from the frame), or by a callee that may store one,
//   taints the whole frame, except bytes a callee then surely rewrites with
//   public data (zip's iterator struct: stores at constant offsets from a
//   pointer parameter on every path, by a callee that stores no secret).
// Self-test: every function of tests/data/ct-ghash-broken.wat (a bmul64
// branching on a bit of y, one with a table indexed by y's bits, a
// Ghash::block skipping the multiply on a zero state, one branching on a
// bmul64 result) must be flagged.
//
// Also the stack wipe (src/stack_wipe.rs), found the same way: `wipe_stack`
// must be one `memory.fill` of STACK_WIPE_BYTES zeros over its own frame, in
// straight-line code, with callers (`checkStackWipe`), so that the wipe
// tests/js/residue.test.mjs relies on is proven on the artifact.
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { shortenImports } from './wasm-imports.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The kernel functions, their parameter count and which parameter is `self`. */
export const KERNEL = [
  { name: 'pow_public', params: 6, self: 1 }, // (sret, self, m_be ptr, m_be len, e: i64, len)
  { name: 'mul', params: 9, self: 0 }, // (self, out, a, b, t as ptr/len pairs)
  { name: 'sqr', params: 7, self: 0 }, // (self, out, a, t)
];

/**
 * The GHASH functions (crates/core/src/ghash_ct64.rs), every one required out
 * of line: their parameter count and which parameters are secret values.
 * Pointers are public values, what they point to is secret (H, Y, the
 * blocks): every load outside the function's own stack frame is. Checked with
 * `strict` (see {@link analyse}); callees are followed for what they store
 * and return.
 */
export const GHASH = [
  { name: 'bmul64', path: 'bmul64', params: 2, secret: [0, 1] }, // (x: u64, y: u64) -> u64
  { name: 'rev64', path: 'rev64', params: 1, secret: [0] }, // (x: u64) -> u64
  { name: 'halves', path: 'halves', params: 2, secret: [] }, // (sret, &block): the block's two big-endian u64 halves
  { name: 'Ghash::block', path: 'Ghash(::|\\d+)block', params: 2, secret: [] }, // (&mut self: h, y; &block)
  { name: 'Ghash::update_padded', path: 'Ghash(::|\\d+)update_padded', params: 3, secret: [] }, // (&mut self, data ptr, len)
  { name: 'Ghash::finalize', path: 'Ghash(::|\\d+)finalize', params: 2, secret: [] }, // (sret, &self)
];

// wasm-opt's flags in scripts/build.sh (if they drift, the byte-for-byte
// comparison with pkg/paysecure-wasm fails).
const NO_INLINE = '--no-inline=*paysecure_montgomery*Modulus*';
const WASM_OPT_PASSES = ['-Oz', '--converge', '--low-memory-unused', '--zero-filled-memory'];
const WASM_OPT_FEATURES = ['--enable-bulk-memory', '--enable-bulk-memory-opt', '--enable-nontrapping-float-to-int',
  '--enable-sign-ext', '--enable-mutable-globals', '--enable-reference-types', '--enable-multivalue'];

// --- s-expressions ------------------------------------------------------------

/** Parses wasm-dis text into nested arrays of atoms. */
export function parse(text) {
  const re = /\(|\)|\$"(?:[^"\\]|\\.)*"|"(?:[^"\\]|\\.)*"|;;[^\n]*|[^\s()]+/g;
  const stack = [[]];
  for (const [tok] of text.matchAll(re)) {
    if (tok.startsWith(';;')) continue;
    if (tok === '(') stack.push([]);
    else if (tok === ')') { const node = stack.pop(); stack[stack.length - 1].push(node); }
    else stack[stack.length - 1].push(tok);
  }
  return stack[0];
}

/** The text of every function in a wasm-dis listing, by name. */
export function functionsOf(wat) {
  const out = new Map();
  const lines = wat.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^ \(func (\$"(?:[^"\\]|\\.)*"|\$\S+)/.exec(lines[i]);
    if (!m) continue;
    let j = i + 1;
    while (j < lines.length && lines[j] !== ' )') j++;
    out.set(m[1], lines.slice(i, j + 1).join('\n'));
    i = j;
  }
  return out;
}

/** A function's body with names of other functions, globals and types replaced. */
function normalized(funcText) {
  return funcText.split('\n').slice(1).join('\n')
    .replace(/\((call|global\.get|global\.set|type|ref\.func) (\$"(?:[^"\\]|\\.)*"|\$\S+)/g, '($1 $_');
}

// --- taint analysis --------------------------------------------------------------

const PUBLIC = Object.freeze({ taint: false, base: null, off: null });
const join = (a, b) => ({
  taint: a.taint || b.taint,
  base: a.base === b.base ? a.base : null,
  off: a.base === b.base && a.off === b.off ? a.off : null,
});
const joinStates = (a, b) => {
  if (!a) return b && new Map(b);
  if (!b) return new Map(a);
  const out = new Map(a);
  for (const [k, v] of b) out.set(k, out.has(k) ? join(out.get(k), v) : v);
  // `@p<offset>` (strict: a frame byte known public although `@all` is set)
  // holds after a merge only if it holds on both sides.
  for (const k of out.keys()) {
    if (k.startsWith('@p') && !((a.has(k) || !a.has('@all')) && (b.has(k) || !b.has('@all')))) out.delete(k);
  }
  return out;
};
const sameStates = (a, b) => {
  if (!a || !b) return a === b;
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w || w.taint !== v.taint || w.base !== v.base || w.off !== v.off) return false;
  }
  return true;
};

/** Bytes a load or store of this opcode touches. */
const widthOf = (op) => {
  const m = /(8|16|32)(_[su])?$/.exec(op.split('.')[1]);
  if (m) return Number(m[1]) / 8;
  return /^(i64|f64)\./.test(op) ? 8 : /^v128\./.test(op) ? 16 : 4;
};

/**
 * Analyses one function (wasm-dis text). `self` is the index of the
 * parameter pointing at the public struct (null: none), `stackPointer` the
 * name of the shadow-stack global, `secret` the indices of the parameters
 * whose values are secret (GHASH's operands). With `strict` (the GHASH
 * functions), stack-frame bytes are tracked flow-sensitively, byte by byte;
 * once the frame's address has escaped (passed to a call, stored in memory),
 * a secret stored through any other pointer, or by a callee that may store a
 * secret, taints the whole frame; and a call's result is secret unless the
 * callee, analysed in turn (`functions`: name -> wasm-dis text of the
 * module), returns only public data for those arguments.
 * Returns { checked, violations: [text], storesSecret, returnsSecret }.
 */
export function analyse(funcText, { self, stackPointer, secret = [], strict = false, functions = null, summaries = new Map() }) {
  const [func] = parse(funcText);
  const params = [];
  const locals = [];
  const body = [];
  for (const item of func.slice(2)) {
    if (Array.isArray(item) && item[0] === 'param') params.push(item[1]);
    else if (Array.isArray(item) && item[0] === 'local') locals.push(item[1]);
    else if (Array.isArray(item) && item[0] === 'result') continue;
    else body.push(item);
  }
  const frameTaint = new Map(); // frame offset -> a secret was stored there
  let violations, checked, changed;
  const violation = (what, node) => {
    if (violations) violations.push(`${what}: ${JSON.stringify(node).slice(0, 160)}`);
  };

  const nodes = (n) => n.filter(Array.isArray);
  const labelOf = (n) => (typeof n[1] === 'string' && n[1].startsWith('$') ? n[1] : null);
  const offsetOf = (n) => {
    const a = n.find((x) => typeof x === 'string' && x.startsWith('offset='));
    return a ? Number(a.slice(7)) : 0;
  };
  // strict: frame bytes holding a secret are keys `@<offset>` of the state,
  // `@all` taints the whole frame but the bytes `@p<offset>` written with
  // public data since, `@escaped` says the frame's address has escaped.
  const SECRET = Object.freeze({ taint: true, base: null, off: null });
  let storesSecret, returnsSecret;
  // strict: the stores to the caller's memory (`param<i>` + constant offset)
  // that every return of the function has made, in order; `depth` and `left`
  // tell whether a store is on that path (top level, before any branch).
  let mustWrites, depth = 0, left;
  const frameSecret = (s, at, width) => {
    if (at === null) return [...s.keys()].some((k) => /^@(\d|-|all)/.test(k));
    for (let i = 0; i < width; i++) {
      if (s.has(`@${at + i}`) || (s.has('@all') && !s.has(`@p${at + i}`))) return true;
    }
    return false;
  };
  const frameStore = (s, at, width, taint) => {
    if (at === null) { if (taint) s.set('@all', SECRET); return; }
    for (let i = 0; i < width; i++) {
      if (taint) { s.set(`@${at + i}`, SECRET); s.delete(`@p${at + i}`); } else {
        s.delete(`@${at + i}`);
        if (s.has('@all')) s.set(`@p${at + i}`, PUBLIC);
      }
    }
  };
  const paramOf = (v) => (v.base?.startsWith('param') && v.off !== null ? Number(v.base.slice(5)) : null);
  /** A secret written outside the frame: through an escaped frame address it may land in the frame. */
  const storedElsewhere = (s) => {
    storesSecret = true;
    if (s.has('@escaped')) s.set('@all', SECRET);
  };

  /** Evaluates `n` in state `st` (a Map, mutated); returns [value, state or null if unreachable]. */
  function ev(n, st, labels) {
    if (!st) return [PUBLIC, null];
    if (!Array.isArray(n)) return [PUBLIC, st];
    const op = n[0];
    const kids = nodes(n);
    const seq = (list, s, labs = labels) => {
      let v = PUBLIC;
      for (const k of list) { [v, s] = ev(k, s, labs); if (!s) break; }
      return [v, s];
    };
    const operands = (s) => {
      const vals = [];
      for (const k of kids) { let v; [v, s] = ev(k, s, labels); vals.push(v); if (!s) break; }
      return [vals, s];
    };
    switch (op) {
      case 'local.get': return [st.get(n[1]) ?? PUBLIC, st];
      case 'local.set': case 'local.tee': {
        const [v, s] = ev(kids[0], st, labels);
        if (!s) return [PUBLIC, null];
        s.set(n[1], v);
        return [op === 'local.tee' ? v : PUBLIC, s];
      }
      case 'global.get':
        return [n[1] === stackPointer ? { taint: false, base: 'frame', off: 0 } : PUBLIC, st];
      case 'block': {
        const label = { name: labelOf(n), exits: null, value: PUBLIC };
        depth++;
        const [v, s] = seq(kids.filter((k) => k[0] !== 'result'), st, [label, ...labels]);
        depth--;
        return [{ ...v, taint: v.taint || label.value.taint }, joinStates(s, label.exits)];
      }
      case 'loop': {
        let entry = new Map(st);
        depth++;
        try {
        for (let round = 0; round < 100; round++) {
          const label = { name: labelOf(n), exits: null };
          const [v, s] = seq(kids.filter((k) => k[0] !== 'result'), new Map(entry), [label, ...labels]);
          const next = joinStates(entry, label.exits);
          if (sameStates(next, entry)) return [v, s];
          entry = next;
        }
        } finally { depth--; }
        throw new Error('loop did not converge');
      }
      case 'if': {
        const rest = kids.filter((k) => k[0] !== 'result');
        const cond = rest.find((k) => k[0] !== 'then' && k[0] !== 'else');
        const [c, s0] = ev(cond, st, labels);
        if (!s0) return [PUBLIC, null];
        checked++;
        if (c.taint) violation('if on secret data', cond);
        const arm = (name) => {
          const a = rest.find((k) => k[0] === name);
          const label = { name: a && labelOf(a), exits: null, value: PUBLIC };
          const [v, s] = a ? seq(nodes(a), new Map(s0), [label, ...labels]) : [PUBLIC, new Map(s0)];
          return [{ ...v, taint: v.taint || label.value.taint }, joinStates(s, label.exits)];
        };
        depth++;
        const [tv, ts] = arm('then');
        const [fv, fs] = arm('else');
        depth--;
        return [{ ...join(tv, fv), taint: tv.taint || fv.taint || c.taint }, joinStates(ts, fs)];
      }
      case 'br': case 'br_if': case 'br_table': {
        const [vals, s] = operands(st);
        left = true;
        if (!s) return [PUBLIC, null];
        const targets = n.slice(1).filter((x) => typeof x === 'string' && x.startsWith('$'));
        if (op !== 'br') {
          checked++;
          if (vals[vals.length - 1]?.taint) violation(`${op} on secret data`, kids[kids.length - 1]);
        }
        // The value carried to the label (a block's result), if any.
        const carried = vals.length > (op === 'br' ? 0 : 1) ? vals[0] : PUBLIC;
        for (const t of targets) {
          const label = labels.find((l) => l.name === t);
          if (!label) throw new Error(`unknown label ${t}`);
          label.exits = joinStates(label.exits, s);
          if (label.value) label.value = join(label.value, carried);
        }
        return [vals[0] ?? PUBLIC, op === 'br_if' ? s : null];
      }
      case 'return': case 'unreachable': {
        const [vals, s] = operands(st);
        left = true;
        if (op === 'return' && vals.some((v) => v.taint)) returnsSecret = true;
        return [PUBLIC, s && null];
      }
      case 'select': {
        const [vals, s] = operands(st);
        if (!s) return [PUBLIC, null];
        checked++;
        const [a, b, c] = vals.slice(-3);
        if (c.taint) violation('select on secret data', kids[kids.length - 1]);
        return [{ ...join(a, b), taint: a.taint || b.taint || c.taint }, s];
      }
      case 'call': {
        const [vals, s] = operands(st);
        if (!strict || !s) return [PUBLIC, s];
        if (vals.some((v) => v.base === 'frame')) s.set('@escaped', PUBLIC);
        const secretArgs = vals.flatMap((v, i) => (v.taint ? [i] : []));
        const callee = summary(n[1], secretArgs);
        // A callee given secret values must be constant time in them too.
        if (secretArgs.length && !callee.known) violation(`secret arguments to ${n[1]}, not in the module`, n);
        else if (secretArgs.length && callee.violations.length) violation(`in ${n[1]} with secret arguments ${secretArgs}: ${callee.violations[0]}`, n);
        if (callee.storesSecret) storedElsewhere(s);
        // What the callee surely wrote through a pointer argument, in order
        // (public data only if it stores no secret anywhere: it might overwrite).
        for (const w of callee.mustWrites) {
          const arg = vals[w.param];
          if (!w.taint && callee.storesSecret) continue;
          if (arg?.base === 'frame') frameStore(s, arg.off === null ? null : arg.off + w.off, w.width, w.taint || arg.off === null);
          else if (paramOf(arg) !== null && depth === 1 && !left) mustWrites.push({ ...w, param: paramOf(arg), off: arg.off + w.off });
        }
        return [callee.returnsSecret ? SECRET : PUBLIC, s];
      }
      case 'call_indirect': {
        const [vals, s] = operands(st);
        checked++;
        if (vals[vals.length - 1]?.taint) violation('indirect call on secret data', n);
        if (!strict || !s) return [PUBLIC, s];
        storedElsewhere(s); // an unknown callee
        return [SECRET, s];
      }
      case 'memory.copy': case 'memory.fill': {
        const [vals, s] = operands(st);
        checked++;
        if (vals.some((v) => v.taint)) {
          if (op === 'memory.fill' ? vals[0].taint || vals[2].taint : true) violation(`${op} address or length from secret data`, n);
        }
        if (strict && s) {
          // A copy moves memory, secret conservatively; a fill writes its value.
          const written = op === 'memory.copy' || vals[1].taint;
          const [dest] = vals;
          const konstLen = Array.isArray(kids[2]) && kids[2][0] === 'i32.const' ? Number(kids[2][1]) : null;
          if (dest.base === 'frame') frameStore(s, konstLen === null ? null : dest.off, konstLen ?? 0, written || konstLen === null);
          else if (written) storedElsewhere(s);
        }
        return [PUBLIC, s];
      }
      default: break;
    }
    if (/\.load/.test(op)) {
      const [[addr], s] = operands(st);
      if (!s) return [PUBLIC, null];
      checked++;
      if (addr.taint) violation('load from a secret address', n);
      const at = addr.off === null ? null : addr.off + offsetOf(n);
      if (addr.base === 'self') return [PUBLIC, s];
      if (strict && addr.base === 'frame') return [frameSecret(s, at, widthOf(op)) ? SECRET : PUBLIC, s];
      if (addr.base === 'frame' && at !== null) return [{ taint: !!frameTaint.get(at), base: null, off: null }, s];
      return [{ taint: true, base: null, off: null }, s];
    }
    if (/\.store/.test(op)) {
      const [[addr, val], s] = operands(st);
      const at = (a) => (a.off === null ? null : a.off + offsetOf(n));
      if (!s) return [PUBLIC, null];
      checked++;
      if (addr.taint) violation('store to a secret address', n);
      if (strict) {
        if (val?.base === 'frame') s.set('@escaped', PUBLIC);
        if (addr.base === 'frame') frameStore(s, at(addr), widthOf(op), val?.taint);
        else if (val?.taint) storedElsewhere(s);
        if (paramOf(addr) !== null && depth === 1 && !left) mustWrites.push({ param: paramOf(addr), off: at(addr), width: widthOf(op), taint: !!val?.taint });
        return [PUBLIC, s];
      }
      if (addr.base === 'frame' && val?.taint) {
        const at = addr.off === null ? 'any' : addr.off + offsetOf(n);
        if (!frameTaint.get(at)) { frameTaint.set(at, true); changed = true; }
      }
      return [PUBLIC, s];
    }
    const [vals, s] = operands(st);
    if (!s) return [PUBLIC, null];
    if (/\.(div|rem)_/.test(op) && vals.some((v) => v.taint)) violation('division of secret data', n);
    const taint = vals.some((v) => v.taint);
    // Pointer arithmetic on a base with a constant keeps the base.
    if ((op === 'i32.add' || op === 'i32.sub') && vals.length === 2) {
      const [a, b] = vals;
      const konst = (k) => Array.isArray(k) && k[0] === 'i32.const' ? Number(k[1]) : null;
      const ka = konst(kids[0]), kb = konst(kids[1]);
      if (a.base && kb !== null && a.off !== null) return [{ taint, base: a.base, off: a.off + (op === 'i32.add' ? kb : -kb) }, s];
      if (b.base && ka !== null && b.off !== null && op === 'i32.add') return [{ taint, base: b.base, off: b.off + ka }, s];
      if (a.base === 'frame' || b.base === 'frame') return [{ taint, base: 'frame', off: null }, s];
    }
    return [{ taint, base: null, off: null }, s];
  }

  const initial = () => {
    const st = new Map();
    params.forEach((p, i) => st.set(p, i === self ? { taint: false, base: 'self', off: 0 }
      : { taint: secret.includes(i), base: strict ? `param${i}` : null, off: strict ? 0 : null }));
    for (const l of locals) st.set(l, PUBLIC);
    return st;
  };
  // Until the stack slots holding secrets are known, then once more to record.
  for (let round = 0; ; round++) {
    changed = false;
    violations = null;
    checked = 0;
    mustWrites = [];
    left = false;
    ev(['block', ...body], initial(), []);
    if (!changed) break;
    if (round > 50) throw new Error('frame taint did not converge');
  }
  violations = [];
  checked = 0;
  storesSecret = false;
  returnsSecret = false;
  mustWrites = [];
  left = false;
  const [result] = ev(['block', ...body], initial(), []);
  if (result.taint) returnsSecret = true;
  // A slot at an unknown frame offset that holds a secret taints every frame load.
  if (frameTaint.get('any')) violations.push('a secret is stored at an unknown stack-frame offset');
  return { checked, violations, storesSecret, returnsSecret, mustWrites };

  /**
   * strict: what a callee does with these secret arguments (indices): whether
   * it may store a secret outside its own frame, whether it may return one,
   * what it surely writes through its pointer parameters, and its own
   * violations (reported in the caller when an argument is secret).
   * Unknown callees and recursion: stores and returns secrets, conservatively.
   */
  function summary(name, secretArgs) {
    const key = `${name}|${secretArgs.join(',')}`;
    const unknown = { known: false, storesSecret: true, returnsSecret: true, mustWrites: [], violations: [] };
    if (summaries.has(key)) return summaries.get(key) ?? { ...unknown, known: true };
    const text = functions?.get(name);
    if (!text) return unknown;
    summaries.set(key, null); // in progress
    const r = analyse(text, { self: null, stackPointer, secret: secretArgs, strict: true, functions, summaries });
    const out = { known: true, storesSecret: r.storesSecret, returnsSecret: r.returnsSecret, mustWrites: r.mustWrites, violations: r.violations };
    summaries.set(key, out);
    return out;
  }
}

// --- the shipped module ----------------------------------------------------------

function run(cmd, args) {
  return execFileSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Rebuilds a shipped module (`stem`: `paysecure_wasm`, or `paysecure_wasm_reveal`
 * for the `paysecure-wasm/reveal` entry) with and without names from cargo's
 * artifact, as scripts/build.sh copied it to target/wasm-entries/, and returns
 * { named, shipped } wasm-dis listings; throws unless the rebuilt module equals
 * pkg/paysecure-wasm's.
 */
export function listings(stem = 'paysecure_wasm') {
  process.env.PATH = `${path.join(root, 'node_modules', '.bin')}:${path.join(process.env.HOME || '', '.cargo', 'bin')}:${process.env.PATH}`;
  const artifact = path.join(root, 'target', 'wasm-entries', `${stem}.wasm`);
  const shippedWasm = path.join(root, 'pkg', 'paysecure-wasm', `${stem}_bg.wasm`);
  for (const f of [artifact, shippedWasm]) if (!existsSync(f)) throw new Error(`${f} is missing: run scripts/build.sh`);
  const dir = mkdtempSync(path.join(tmpdir(), 'ct-check-'));
  try {
    // The generator scripts/build.sh uses: $WASM_BINDGEN, else the workspace's
    // crates/wasm-bindgen-tool build.
    const bindgen = process.env.WASM_BINDGEN || path.join(root, 'target', 'debug', 'wasm-bindgen');
    run(bindgen, ['--target', 'web', '--out-dir', dir, artifact]);
    const bg = path.join(dir, `${stem}_bg.wasm`);
    const same = path.join(dir, 'same.wasm'), named = path.join(dir, 'named.wasm');
    run('wasm-opt', [bg, NO_INLINE, ...WASM_OPT_PASSES, '--strip-debug', '--strip-producers', '--strip-target-features', ...WASM_OPT_FEATURES, '-o', same]);
    // scripts/package-npm.mjs renames the imports of what it ships.
    if (!Buffer.from(shortenImports(readFileSync(same)).wasm).equals(readFileSync(shippedWasm))) {
      throw new Error('cargo\'s artifact does not rebuild pkg/paysecure-wasm\'s module: run scripts/build.sh again');
    }
    run('wasm-opt', [bg, NO_INLINE, ...WASM_OPT_PASSES, '-g', '--strip-producers', '--strip-target-features', ...WASM_OPT_FEATURES, '-o', named]);
    return { named: run('wasm-dis', [named]), shipped: run('wasm-dis', [shippedWasm]) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs the whole check on one shipped module (see {@link listings}; `lists`:
 * its result, when already made); returns [{ name, checked, violations }].
 */
export function checkShipped(stem = 'paysecure_wasm', lists = listings(stem)) {
  const { named, shipped } = lists;
  const stackPointer = /^ \(global (\$\S+) \(mut i32\)/m.exec(named)?.[1];
  const namedFns = functionsOf(named);
  const shippedBodies = new Map([...functionsOf(shipped).values()].map((t) => [normalized(t), t]));
  return KERNEL.map(({ name, params, self }) => {
    // Demangled (paysecure_montgomery::Modulus::mul::h…), or mangled (_ZN20paysecure_montgomery7Modulus3mul17h…E).
    const re = new RegExp(`paysecure_montgomery(::|\\d+)Modulus(::|\\d+)${name}(::|17h)`);
    const found = [...namedFns.entries()].filter(([n]) => re.test(n));
    if (found.length !== 1) throw new Error(`${name}: ${found.length} functions of that name in the module (it must stay out of line)`);
    const [, text] = found[0];
    const count = (text.split('\n')[0].match(/\(param /g) || []).length;
    if (count !== params) throw new Error(`${name}: ${count} parameters, not ${params}: update KERNEL in scripts/ct-check.mjs`);
    if (!shippedBodies.has(normalized(text))) throw new Error(`${name}: no function of the shipped module has its body`);
    return { name, ...analyse(text, { self, stackPointer }) };
  });
}

/**
 * The GHASH functions as shipped (`stem` as for {@link listings}): each is
 * found by name in the rebuild with names (it must be there: a function
 * inlined away fails the check, it never passes unchecked), its twin in the
 * shipped module by an identical body, and analysed with its secret
 * parameters. Returns [{ name, checked, violations, returnsSecret }].
 */
export function checkGhash(stem = 'paysecure_wasm', lists = listings(stem)) {
  const { named, shipped } = lists;
  const stackPointer = /^ \(global (\$\S+) \(mut i32\)/m.exec(named)?.[1];
  const namedFns = functionsOf(named);
  const shippedBodies = new Set([...functionsOf(shipped).values()].map(normalized));
  const summaries = new Map();
  const results = GHASH.map(({ name, path: fnPath, params, secret }) => {
    // Demangled (paysecure_core::ghash_ct64::bmul64::h…), or mangled (_ZN14paysecure_core10ghash_ct646bmul6417h…E).
    const re = new RegExp(`paysecure_core(::|\\d+)ghash_ct64(::|\\d+)${fnPath}(::|17h)`);
    const found = [...namedFns.entries()].filter(([n]) => re.test(n));
    if (found.length !== 1) throw new Error(`${name}: ${found.length} functions of that name in ${stem} (it must stay out of line)`);
    const [, text] = found[0];
    const count = (text.split('\n')[0].match(/\(param /g) || []).length;
    if (count !== params) throw new Error(`${name}: ${count} parameters, not ${params}: update GHASH in scripts/ct-check.mjs`);
    if (!shippedBodies.has(normalized(text))) throw new Error(`${name}: no function of the shipped ${stem} has its body`);
    const r = analyse(text, { self: null, stackPointer, secret, strict: true, functions: namedFns, summaries });
    return { name, fn: found[0][0], checked: r.checked, violations: r.violations, returnsSecret: r.returnsSecret };
  });
  // The other functions they reach, followed for what they return and store
  // (`name|secret argument indices`); their own branches are checked only
  // where an argument is secret.
  const own = new Set(results.map((r) => r.fn));
  results.callees = [...summaries.keys()].filter((k) => !own.has(k.split('|')[0]));
  return results;
}

// --- the stack wipe ----------------------------------------------------------------

/** Bytes src/stack_wipe.rs zeroes below an exported function's frame (its STACK_WIPE_BYTES). */
export const STACK_WIPE_BYTES = 8 * 1024;

/**
 * Checks one `wipe_stack` (wasm-dis text): straight-line code (no branch,
 * loop or call) that moves the stack pointer down by a frame of F bytes, zeroes
 * STACK_WIPE_BYTES of that frame with one `memory.fill`, and moves the pointer
 * back up by F. Returns { frame, offset, length, problems: [text] }.
 */
export function analyseWipe(funcText, { stackPointer }) {
  const [func] = parse(funcText);
  const problems = [];
  const all = [];
  const walk = (n) => { if (Array.isArray(n)) { all.push(n); n.forEach(walk); } };
  func.slice(2).forEach(walk);
  const control = all.filter((n) => ['if', 'br', 'br_if', 'br_table', 'loop', 'return', 'unreachable', 'call', 'call_indirect'].includes(n[0]));
  if (control.length) problems.push(`not straight-line code: ${control.map((n) => n[0]).join(', ')}`);
  const konst = (n) => (Array.isArray(n) && n[0] === 'i32.const' ? Number(n[1]) : null);
  const sets = all.filter((n) => n[0] === 'global.set' && n[1] === stackPointer);
  // (global.set SP (local.tee $f (i32.sub (global.get SP) (i32.const F))))
  let frameLocal = null, frame = null;
  const down = sets[0]?.[2];
  if (down?.[0] === 'local.tee' && down[2]?.[0] === 'i32.sub' && down[2][1]?.[0] === 'global.get' &&
      down[2][1][1] === stackPointer && konst(down[2][2]) !== null) {
    frameLocal = down[1];
    frame = konst(down[2][2]);
  } else problems.push('the stack pointer is not first moved down by a constant frame');
  // (global.set SP (i32.add (local.get $f) (i32.const F)))
  const up = sets[1]?.[2];
  if (sets.length !== 2 || !(up?.[0] === 'i32.add' && up[1]?.[0] === 'local.get' && up[1][1] === frameLocal && konst(up[2]) === frame)) {
    problems.push('the stack pointer is not moved back up by the same frame');
  }
  const fills = all.filter((n) => n[0] === 'memory.fill');
  let offset = null, length = null;
  if (fills.length !== 1) problems.push(`${fills.length} memory.fill, not one`);
  else {
    const [, dest, value, len] = fills[0];
    let d = dest?.[0] === 'local.tee' ? dest[2] : dest;
    if (d?.[0] === 'local.get' && d[1] === frameLocal) offset = 0;
    else if (d?.[0] === 'i32.add' && d[1]?.[0] === 'local.get' && d[1][1] === frameLocal) offset = konst(d[2]);
    length = konst(len);
    if (offset === null) problems.push('the fill does not start at a constant offset in the frame');
    if (konst(value) !== 0) problems.push('the fill does not write zeros');
    if (length !== STACK_WIPE_BYTES) problems.push(`the fill is ${length} bytes, not ${STACK_WIPE_BYTES}`);
    if (offset !== null && frame !== null && !(offset >= 0 && offset + length <= frame)) problems.push('the fill is not within the frame');
  }
  return { frame, offset, length, problems };
}

/**
 * The stack wipe as shipped (`stem` as for {@link listings}): the one
 * `paysecure_wasm::stack_wipe::wipe_stack` of the module, found by name in the
 * rebuild with names, must be one zero fill of STACK_WIPE_BYTES over its own
 * frame ({@link analyseWipe}), a function of the shipped module must have its
 * body, and it must be called (by every exported function that handles a
 * secret: tests/js/residue.test.mjs checks what each call leaves).
 * Returns { name, frame, offset, length, callers, problems }.
 */
export function checkStackWipe(stem = 'paysecure_wasm', lists = listings(stem)) {
  const { named, shipped } = lists;
  const stackPointer = /^ \(global (\$\S+) \(mut i32\)/m.exec(named)?.[1];
  const namedFns = functionsOf(named);
  const found = [...namedFns.entries()].filter(([n]) => /paysecure_wasm(::|\d+)stack_wipe(::|\d+)wipe_stack(::|17h)/.test(n));
  if (found.length !== 1) throw new Error(`wipe_stack: ${found.length} functions of that name in the module (it must stay out of line)`);
  const [name, text] = found[0];
  const r = analyseWipe(text, { stackPointer });
  const shippedBodies = new Set([...functionsOf(shipped).values()].map(normalized));
  if (!shippedBodies.has(normalized(text))) r.problems.push('no function of the shipped module has its body');
  const call = `(call ${name}`;
  const callers = [...namedFns.values()].filter((t) => t.includes(call)).length;
  if (callers === 0) r.problems.push('nothing calls it');
  return { name, ...r, callers };
}

/** The self-test: the recorded unbarriered `mul` must be flagged. */
export function selfTest() {
  const text = readFileSync(path.join(root, 'tests', 'data', 'ct-mul-without-barrier.wat'), 'utf8')
    .split('\n').filter((l) => !l.startsWith(';;')).join('\n');
  return analyse(text, { self: 0, stackPointer: '$__stack_pointer' });
}

/**
 * The GHASH self-test: every broken function of tests/data/ct-ghash-broken.wat
 * (`::hbad…`), analysed with the configuration of the GHASH entry its name
 * matches (the file's other functions are its callees), must be flagged.
 * Returns [{ name, violations }].
 */
export function selfTestGhash() {
  const fns = functionsOf(readFileSync(path.join(root, 'tests', 'data', 'ct-ghash-broken.wat'), 'utf8'));
  if (fns.size === 0) throw new Error('ct-ghash-broken.wat: no function');
  return [...fns].filter(([name]) => /::hbad/.test(name)).map(([name, text]) => {
    const entry = GHASH.find((g) => new RegExp(`ghash_ct64(::|\\d+)${g.path}(::|17h)`).test(name));
    if (!entry) throw new Error(`${name}: not a GHASH function`);
    const r = analyse(text, { self: null, stackPointer: '$__stack_pointer', secret: entry.secret, strict: true, functions: fns });
    return { name, violations: r.violations };
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const st = selfTest();
  if (st.violations.length === 0) throw new Error('self-test: the unbarriered select was not flagged');
  console.log(`ct-check self-test: the unbarriered mul is flagged (${st.violations[0].split(':')[0]})`);
  for (const r of selfTestGhash()) {
    if (r.violations.length === 0) throw new Error(`self-test: the broken ${r.name} was not flagged`);
    console.log(`ct-check self-test: the broken ${r.name} is flagged (${r.violations[0].split(':')[0]})`);
  }
  let bad = 0;
  for (const stem of ['paysecure_wasm', 'paysecure_wasm_reveal']) {
    const lists = listings(stem); // made once per module: each takes two wasm-opt runs
    for (const r of checkShipped(stem, lists)) {
      console.log(`ct-check (${stem}): Modulus::${r.name}: ${r.checked} branches, selects and memory accesses checked, ${r.violations.length} depend on secret data`);
      for (const v of r.violations) console.log(`  ${v}`);
      bad += r.violations.length;
    }
    const ghash = checkGhash(stem, lists);
    for (const r of ghash) {
      console.log(`ct-check (${stem}): ghash_ct64::${r.name}: ${r.checked} branches, selects and memory accesses checked, ${r.violations.length} depend on secret data`);
      for (const v of r.violations) console.log(`  ${v}`);
      bad += r.violations.length;
    }
    console.log(`ct-check (${stem}): GHASH's other callees, followed for the secrets they return and store: ${ghash.callees.map((k) => k.replace(/::h[0-9a-f]{16}/, '').replace(/\|$/, '')).join(', ')}`);
    const w = checkStackWipe(stem, lists);
    console.log(`stack wipe (${stem}): one memory.fill of ${w.length} zero bytes at frame offset ${w.offset} of ${w.frame}, called from ${w.callers} functions; ${w.problems.length} problems`);
    for (const p of w.problems) console.log(`  ${p}`);
    bad += w.problems.length;
  }
  process.exit(bad ? 1 : 0);
}
