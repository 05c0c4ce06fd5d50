// The RSA kernel is constant time as it ships: scripts/ct-check.mjs (its
// header has the method) finds the kernel's functions in pkg/paysecure-wasm's module and
// checks that no branch, select, memory address or division depends on
// secret data: in both modules (the `paysecure-wasm` and `paysecure-wasm/reveal` entries).
import test from 'node:test';
import assert from 'node:assert/strict';
import { analyse, selfTest, checkShipped } from '../../scripts/ct-check.mjs';

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

for (const stem of ['paysecure_wasm', 'paysecure_wasm_reveal']) {
  test(`the RSA kernel as shipped in ${stem}_bg.wasm (pow_public, mul, sqr) has no branch, select, address or division on secret data`, () => {
    const results = checkShipped(stem);
    for (const r of results) {
      console.log(`ct-check ${stem}: Modulus::${r.name}: ${r.checked} branches, selects and memory accesses checked, ${r.violations.length} on secret data`);
      assert.ok(r.checked > 50, `${r.name}: the analysis saw the function`);
    }
    assert.deepEqual(results.flatMap((r) => r.violations.map((v) => `${r.name}: ${v}`)), []);
  });
}
