// The RSA kernel and GHASH are constant time as they ship: scripts/ct-check.mjs
// (its header has the method) finds the kernel's and GHASH's functions in
// pkg/paysecure-wasm's module and checks that no branch, select, memory
// address or division depends on secret data: in both modules (the
// `paysecure-wasm` and `paysecure-wasm/reveal` entries).
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  analyse, selfTest, selfTestGhash, checkShipped, checkGhash, listings, functionsOf, GHASH,
} from '../../scripts/ct-check.mjs';

const SP = '$__stack_pointer';
const fn = (body) => `(func $f (param $0 i32) (param $1 i32) (result i32)\n (local $2 i32)\n${body}\n)`;

test('ct-check flags the select the compiler turned into a branch (the kernel\'s mul before its barrier)', () => {
  const { violations } = selfTest();
  assert.equal(violations.length, 1);
  assert.match(violations[0], /^br_if on secret data/);
});

test('ct-check: each rule on a small function', () => {
  // $0 is `self` (public fields), $1 points at secret data.
  const cases = [
    ['(if (i32.load (local.get $1)) (then (nop)))', /if on secret data/],
    ['(select (i32.const 1) (i32.const 2) (i32.load offset=4 (local.get $1)))', /select on secret data/],
    ['(local.set $2 (i32.load (local.get $1)))\n(i32.load (i32.add (local.get $0) (local.get $2)))', /load from a secret address/],
    ['(i32.div_u (i32.load (local.get $1)) (i32.const 3))', /division of secret data/],
    ['(block $b (br_if $b (i32.load (local.get $1))))\n(i32.const 0)', /br_if on secret data/],
    ['(local.set $2 (i32.load (local.get $1)))\n(loop $l (local.set $1 (local.get $2)) (br_if $l (i32.load8_u (local.get $1))))\n(i32.const 0)',
      /secret/],
  ];
  for (const [body, want] of cases) {
    const { violations } = analyse(fn(body), { self: 0, stackPointer: SP });
    assert.ok(violations.some((v) => want.test(v)), `${body}: ${violations}`);
  }
  // Public: fields of self, the stack frame's own slots, parameters, loop counters.
  const clean = [
    '(if (i32.load offset=8 (local.get $0)) (then (nop)))\n(i32.const 0)',
    '(local.set $2 (global.get $__stack_pointer))\n(i32.store offset=12 (local.get $2) (local.get $1))\n(if (i32.load offset=12 (local.get $2)) (then (nop)))\n(i32.const 0)',
    '(loop $l (local.set $2 (i32.add (local.get $2) (i32.const 1))) (br_if $l (i32.lt_u (local.get $2) (local.get $1))))\n(i32.load (i32.add (local.get $1) (local.get $2)))',
  ];
  for (const body of clean) {
    assert.deepEqual(analyse(fn(body), { self: 0, stackPointer: SP }).violations, [], body);
  }
  // A secret stored in a frame slot taints what is loaded back from it.
  const spilled = '(local.set $2 (global.get $__stack_pointer))\n(i32.store offset=4 (local.get $2) (i32.load (local.get $1)))\n(if (i32.load offset=4 (local.get $2)) (then (nop)))\n(i32.const 0)';
  assert.ok(analyse(fn(spilled), { self: 0, stackPointer: SP }).violations.some((v) => /if on secret data/.test(v)));
});

test('ct-check flags every deliberately broken GHASH function (tests/data/ct-ghash-broken.wat)', () => {
  const results = selfTestGhash();
  const want = [/^if on secret data/, /^load from a secret address/, /^if on secret data/, /^br_if on secret data/];
  assert.equal(results.length, want.length);
  results.forEach((r, i) => assert.match(r.violations[0] ?? '', want[i], `${r.name}: ${r.violations}`));
  // Their callee in the file, the real bmul64, is clean.
  const fns = functionsOf(readFileSync(new URL('../data/ct-ghash-broken.wat', import.meta.url), 'utf8'));
  const real = fns.get('$paysecure_core::ghash_ct64::bmul64::h3a86227c8c212326');
  assert.deepEqual(analyse(real, { self: null, stackPointer: SP, secret: [0, 1], strict: true, functions: fns }).violations, []);
});

test('ct-check, strict (GHASH): secret parameters, call results, the frame reached through escaped pointers', () => {
  const strict = (body, { secret = [], functions = new Map() } = {}) =>
    analyse(fn(body), { self: null, stackPointer: SP, secret, strict: true, functions }).violations;
  // A secret parameter value (bmul64's operands): a branch on one of its bits.
  const onParam = '(if (i32.and (local.get $1) (i32.const 1)) (then (nop)))\n(i32.const 0)';
  assert.match(strict(onParam, { secret: [1] })[0], /if on secret data/);
  assert.deepEqual(strict(onParam), [], 'a public parameter');
  // With `self` public (the kernel's configuration) a branch on the state read through it is missed;
  // in GHASH's every load through a pointer is secret.
  const onState = '(if (i32.load offset=16 (local.get $0)) (then (nop)))\n(i32.const 0)';
  assert.deepEqual(analyse(fn(onState), { self: 0, stackPointer: SP }).violations, []);
  assert.match(strict(onState)[0], /if on secret data/);
  // A call's result is secret when the callee returns secret data for those arguments.
  const callees = new Map([
    ['$load', ' (func $load (param $0 i32) (result i32)\n  (i32.load (local.get $0))\n )'],
    ['$len', ' (func $len (param $0 i32) (result i32)\n  (i32.add (local.get $0) (i32.const 8))\n )'],
  ]);
  assert.match(strict('(if (call $load (local.get $1)) (then (nop)))\n(i32.const 0)', { functions: callees })[0], /if on secret data/);
  assert.deepEqual(strict('(if (call $len (local.get $1)) (then (nop)))\n(i32.const 0)', { functions: callees }), []);
  assert.match(strict('(if (call $missing (local.get $1)) (then (nop)))\n(i32.const 0)')[0], /if on secret data/, 'an unknown callee');
  // A callee given a secret value is checked with it: a branch there is reported in the caller.
  const branchy = new Map([['$branchy', ' (func $branchy (param $0 i32)\n  (if (local.get $0) (then (nop)))\n )']]);
  assert.match(strict('(call $branchy (i32.load (local.get $1)))\n(i32.const 0)', { functions: branchy })[0], /in \$branchy with secret arguments 0: if on secret data/);
  assert.deepEqual(strict('(call $branchy (local.get $1))\n(i32.const 0)', { functions: branchy }), []);
  assert.match(strict('(call $missing (i32.load (local.get $1)))\n(i32.const 0)')[0], /secret arguments to \$missing, not in the module/);
  // A byte-copying loop's shape: the frame's address escapes to a callee, a secret is copied through a pointer read
  // back from the frame, then a frame slot is read: it may hold the secret. The kernel's rule misses it.
  const laundered = [
    '(local.set $2 (i32.sub (global.get $__stack_pointer) (i32.const 32)))',
    '(call $len (local.get $2))',
    '(i32.store8 (i32.load offset=8 (local.get $2)) (i32.load8_u (local.get $1)))',
    '(if (i32.load (local.get $2)) (then (nop)))\n(i32.const 0)'].join('\n');
  assert.match(strict(laundered, { functions: callees })[0], /if on secret data/);
  assert.deepEqual(analyse(fn(laundered), { self: 0, stackPointer: SP }).violations, []);
  // ... unless a callee has since written that slot with public data on every path (zip's struct).
  const rewritten = ' (func $init (param $0 i32) (param $1 i32)\n  (i32.store offset=4 (local.get $0) (local.get $1))\n )';
  const both = new Map([...callees, ['$init', rewritten]]);
  const rebuilt = laundered.replace('(if (i32.load (local.get $2))',
    '(call $init (i32.sub (local.get $2) (i32.const 4)) (i32.const 16))\n(if (i32.load (local.get $2))');
  assert.deepEqual(strict(rebuilt, { functions: both }), []);
  // ... and not when it writes it only on some paths.
  const maybe = ' (func $init (param $0 i32) (param $1 i32)\n  (if (local.get $1) (then (return)))\n  (i32.store offset=4 (local.get $0) (local.get $1))\n )';
  assert.match(strict(rebuilt, { functions: new Map([...callees, ['$init', maybe]]) })[0], /if on secret data/);
  // ... nor when it may also store a secret (there, or through another pointer).
  const also = ' (func $init (param $0 i32) (param $1 i32)\n  (i32.store offset=4 (local.get $0) (local.get $1))\n  (if (local.get $1) (then (i32.store offset=4 (local.get $0) (i32.load (local.get $1)))))\n )';
  assert.match(strict(rebuilt, { functions: new Map([...callees, ['$init', also]]) })[0], /if on secret data/);
  // A block's value carried by `br_if` is that of the branch's operand.
  const carried = '(if (block $b (result i32) (drop (br_if $b (i32.load (local.get $1)) (local.get $0))) (i32.const 0)) (then (nop)))\n(i32.const 0)';
  assert.match(strict(carried)[0], /if on secret data/);
});

for (const stem of ['paysecure_wasm', 'paysecure_wasm_reveal']) {
  let made; // the module's listings: two wasm-opt runs, made once for the three tests of the module
  const lists = () => (made ??= listings(stem));
  test(`the RSA kernel as shipped in ${stem}_bg.wasm (pow_public, mul, sqr) has no branch, select, address or division on secret data`, () => {
    const results = checkShipped(stem, lists());
    for (const r of results) {
      console.log(`ct-check ${stem}: Modulus::${r.name}: ${r.checked} branches, selects and memory accesses checked, ${r.violations.length} on secret data`);
      assert.ok(r.checked > 50, `${r.name}: the analysis saw the function`);
    }
    assert.deepEqual(results.flatMap((r) => r.violations.map((v) => `${r.name}: ${v}`)), []);
  });

  test(`GHASH as shipped in ${stem}_bg.wasm (bmul64, rev64, halves, Ghash::block, update_padded, finalize) has no branch, select, address or division on secret data`, () => {
    const results = checkGhash(stem, lists());
    assert.deepEqual(results.map((r) => r.name), GHASH.map((g) => g.name));
    for (const r of results) {
      console.log(`ct-check ${stem}: ghash_ct64::${r.name}: ${r.checked} branches, selects and memory accesses checked, ${r.violations.length} on secret data`);
    }
    // The analysis saw the operands as secret: bmul64's 16 masked products and rev64's shifts
    // return secret data.
    for (const name of ['bmul64', 'rev64']) assert.ok(results.find((r) => r.name === name).returnsSecret, name);
    // bmul64 is straight-line code (its 16 masked products written out): nothing in it to
    // branch on or index by, so `checked` is 0; the products are in the function analysed.
    const [[, bmul]] = [...functionsOf(lists().named)].filter(([n]) => /ghash_ct64(::|\d+)bmul64/.test(n));
    assert.equal(bmul.match(/\(i64\.mul\b/g)?.length, 16);
    assert.deepEqual(results.flatMap((r) => r.violations.map((v) => `${r.name}: ${v}`)), []);
  });

  test(`ct-check flags the shipped Ghash::block and bmul64 of ${stem} with one branch on secret data added`, () => {
    const fns = functionsOf(lists().named);
    const [[blockName, block]] = [...fns].filter(([n]) => /ghash_ct64(::|\d+)Ghash(::|\d+)block/.test(n));
    const [[, bmul]] = [...fns].filter(([n]) => /ghash_ct64(::|\d+)bmul64/.test(n));
    const SPG = /^ \(global (\$\S+) \(mut i32\)/m.exec(lists().named)[1];
    const strict = (text, secret) => analyse(text, { self: null, stackPointer: SPG, secret, strict: true, functions: fns }).violations;
    // In Ghash::block, a branch on the first bmul64 product (a call's result: secret through the callee's summary).
    const call = block.indexOf('(call $paysecure_core::ghash_ct64::bmul64');
    assert.ok(call > 0, blockName);
    const lines = block.split('\n');
    const at = block.slice(0, call).split('\n').length - 1; // the line of the call
    const local = /\(local\.set (\$\w+)/.exec(lines.slice(0, at + 1).reverse().find((l) => /\(local\.set/.test(l)))[1];
    let end = at; // the end of that local.set: the first later line indented as it
    const indent = /^ */.exec(lines.slice(0, at + 1).reverse().find((l) => /\(local\.set/.test(l)))[0];
    while (!(lines[end].startsWith(`${indent})`) && lines[end].length === indent.length + 1)) end++;
    const broken = [...lines.slice(0, end + 1), `${indent}(if (i32.wrap_i64 (local.get ${local})) (then (nop)))`, ...lines.slice(end + 1)].join('\n');
    assert.deepEqual(strict(block, []), []);
    assert.match(strict(broken, [])[0] ?? '', /if on secret data/, `${local} after line ${end}`);
    // In bmul64, a branch on x, after the declarations of its locals.
    const bmulLines = bmul.split('\n');
    const afterLocals = bmulLines.findLastIndex((l, i) => i === 0 || /^  \(local /.test(l)) + 1;
    const bmulBroken = [...bmulLines.slice(0, afterLocals), '  (if (i32.wrap_i64 (local.get $0)) (then (nop)))', ...bmulLines.slice(afterLocals)].join('\n');
    assert.notEqual(bmulBroken, bmul);
    assert.deepEqual(strict(bmul, [0, 1]), []);
    assert.match(strict(bmulBroken, [0, 1])[0], /if on secret data/);
  });
}
