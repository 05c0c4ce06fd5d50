#!/usr/bin/env node
// Constant-time check of the RSA kernel as it ships (issue #14), and the
// stack wipe's 8 KiB fill as it ships (issue #20).
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
// Also the stack wipe (src/stack_wipe.rs), found the same way: `wipe_stack`
// must be one `memory.fill` of STACK_WIPE_BYTES zeros over its own frame, in
// straight-line code, with callers (`checkStackWipe`), so that the wipe
// tests/js/residue.test.mjs relies on is proven on the artifact.
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The kernel functions, their parameter count and which parameter is `self`. */
export const KERNEL = [
  { name: 'pow_public', params: 6, self: 1 }, // (sret, self, m_be ptr, m_be len, e: i64, len)
  { name: 'mul', params: 9, self: 0 }, // (self, out, a, b, t as ptr/len pairs)
  { name: 'sqr', params: 7, self: 0 }, // (self, out, a, t)
];

// wasm-opt's flags in scripts/build.sh (if they drift, the byte-for-byte
// comparison with pkg/paysecure-wasm fails).
const NO_INLINE = '--no-inline=*paysecure_montgomery*Modulus*';
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

/**
 * Analyses one function (wasm-dis text). `self` is the index of the
 * parameter pointing at the public struct, `stackPointer` the name of the
 * shadow-stack global. Returns { checked, violations: [text] }.
 */
export function analyse(funcText, { self, stackPointer }) {
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
        const label = { name: labelOf(n), exits: null };
        const [v, s] = seq(kids.filter((k) => k[0] !== 'result'), st, [label, ...labels]);
        return [v, joinStates(s, label.exits)];
      }
      case 'loop': {
        let entry = new Map(st);
        for (let round = 0; round < 100; round++) {
          const label = { name: labelOf(n), exits: null };
          const [v, s] = seq(kids.filter((k) => k[0] !== 'result'), new Map(entry), [label, ...labels]);
          const next = joinStates(entry, label.exits);
          if (sameStates(next, entry)) return [v, s];
          entry = next;
        }
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
          const label = { name: a && labelOf(a), exits: null };
          const [v, s] = a ? seq(nodes(a), new Map(s0), [label, ...labels]) : [PUBLIC, new Map(s0)];
          return [v, joinStates(s, label.exits)];
        };
        const [tv, ts] = arm('then');
        const [fv, fs] = arm('else');
        return [{ ...join(tv, fv), taint: tv.taint || fv.taint || c.taint }, joinStates(ts, fs)];
      }
      case 'br': case 'br_if': case 'br_table': {
        const [vals, s] = operands(st);
        if (!s) return [PUBLIC, null];
        const targets = n.slice(1).filter((x) => typeof x === 'string' && x.startsWith('$'));
        if (op !== 'br') {
          checked++;
          if (vals[vals.length - 1]?.taint) violation(`${op} on secret data`, kids[kids.length - 1]);
        }
        for (const t of targets) {
          const label = labels.find((l) => l.name === t);
          if (!label) throw new Error(`unknown label ${t}`);
          label.exits = joinStates(label.exits, s);
        }
        return [vals[0] ?? PUBLIC, op === 'br_if' ? s : null];
      }
      case 'return': case 'unreachable': {
        const [, s] = operands(st);
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
        const [, s] = operands(st);
        return [PUBLIC, s];
      }
      case 'call_indirect': {
        const [vals, s] = operands(st);
        checked++;
        if (vals[vals.length - 1]?.taint) violation('indirect call on secret data', n);
        return [PUBLIC, s];
      }
      case 'memory.copy': case 'memory.fill': {
        const [vals, s] = operands(st);
        checked++;
        if (vals.some((v) => v.taint)) {
          if (op === 'memory.fill' ? vals[0].taint || vals[2].taint : true) violation(`${op} address or length from secret data`, n);
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
      if (addr.base === 'frame' && at !== null) return [{ taint: !!frameTaint.get(at), base: null, off: null }, s];
      return [{ taint: true, base: null, off: null }, s];
    }
    if (/\.store/.test(op)) {
      const [[addr, val], s] = operands(st);
      if (!s) return [PUBLIC, null];
      checked++;
      if (addr.taint) violation('store to a secret address', n);
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
    params.forEach((p, i) => st.set(p, i === self ? { taint: false, base: 'self', off: 0 } : PUBLIC));
    for (const l of locals) st.set(l, PUBLIC);
    return st;
  };
  // Until the stack slots holding secrets are known, then once more to record.
  for (let round = 0; ; round++) {
    changed = false;
    violations = null;
    checked = 0;
    ev(['block', ...body], initial(), []);
    if (!changed) break;
    if (round > 50) throw new Error('frame taint did not converge');
  }
  violations = [];
  checked = 0;
  ev(['block', ...body], initial(), []);
  // A slot at an unknown frame offset that holds a secret taints every frame load.
  if (frameTaint.get('any')) violations.push('a secret is stored at an unknown stack-frame offset');
  return { checked, violations };
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
    run('wasm-opt', [bg, NO_INLINE, '-Oz', '--strip-debug', '--strip-producers', ...WASM_OPT_FEATURES, '-o', same]);
    if (!readFileSync(same).equals(readFileSync(shippedWasm))) {
      throw new Error('cargo\'s artifact does not rebuild pkg/paysecure-wasm\'s module: run scripts/build.sh again');
    }
    run('wasm-opt', [bg, NO_INLINE, '-Oz', '-g', '--strip-producers', ...WASM_OPT_FEATURES, '-o', named]);
    return { named: run('wasm-dis', [named]), shipped: run('wasm-dis', [shippedWasm]) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the whole check on one shipped module (see {@link listings}); returns [{ name, checked, violations }]. */
export function checkShipped(stem = 'paysecure_wasm') {
  const { named, shipped } = listings(stem);
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
export function checkStackWipe(stem = 'paysecure_wasm') {
  const { named, shipped } = listings(stem);
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

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const st = selfTest();
  if (st.violations.length === 0) throw new Error('self-test: the unbarriered select was not flagged');
  console.log(`ct-check self-test: the unbarriered mul is flagged (${st.violations[0].split(':')[0]})`);
  let bad = 0;
  for (const r of checkShipped()) {
    console.log(`ct-check: Modulus::${r.name}: ${r.checked} branches, selects and memory accesses checked, ${r.violations.length} depend on secret data`);
    for (const v of r.violations) console.log(`  ${v}`);
    bad += r.violations.length;
  }
  for (const stem of ['paysecure_wasm', 'paysecure_wasm_reveal']) {
    const w = checkStackWipe(stem);
    console.log(`stack wipe (${stem}): one memory.fill of ${w.length} zero bytes at frame offset ${w.offset} of ${w.frame}, called from ${w.callers} functions; ${w.problems.length} problems`);
    for (const p of w.problems) console.log(`  ${p}`);
    bad += w.problems.length;
  }
  process.exit(bad ? 1 : 0);
}
