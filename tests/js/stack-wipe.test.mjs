// The stack wipe is in the module as shipped, not assumed from the source:
// scripts/ct-check.mjs (`checkStackWipe`) finds src/stack_wipe.rs's
// `wipe_stack` in each shipped module and proves it is one `memory.fill` of
// 8 KiB of zeros over its own frame, straight-line code, called by the
// exports. tests/js/residue.test.mjs checks what each call leaves behind.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { analyseWipe, checkStackWipe, STACK_WIPE_BYTES } from '../../scripts/ct-check.mjs';
import { STACK_WIPE_BYTES as RESIDUE_STACK_WIPE_BYTES } from './residue-scan.mjs';

const SP = '$__stack_pointer';
const wipe = ({ frame = 8208, offset = 12, length = 8192, value = 0, fill = true, extra = '' } = {}) => `(func $w
 (local $0 i32)
 (local $1 i32)
 (global.set $__stack_pointer (local.tee $0 (i32.sub (global.get $__stack_pointer) (i32.const ${frame}))))
 ${fill ? `(memory.fill (local.tee $1 (i32.add (local.get $0) (i32.const ${offset}))) (i32.const ${value}) (i32.const ${length}))` : ''}
 ${extra}
 (i32.store offset=8204 (local.get $0) (local.get $1))
 (global.set $__stack_pointer (i32.add (local.get $0) (i32.const ${frame})))
)`;

test('the stack-wipe check accepts one zero fill of 8 KiB in the frame, and nothing less', () => {
  assert.equal(STACK_WIPE_BYTES, 8192);
  // One size everywhere: the Rust constant, this check and the residue scan's rule.
  const rust = /const STACK_WIPE_BYTES: usize = 8 \* 1024;/.test(readFileSync(new URL('../../src/stack_wipe.rs', import.meta.url), 'utf8'));
  assert.ok(rust, 'src/stack_wipe.rs: STACK_WIPE_BYTES is 8 * 1024');
  assert.equal(RESIDUE_STACK_WIPE_BYTES, STACK_WIPE_BYTES);
  assert.deepEqual(analyseWipe(wipe(), { stackPointer: SP }), { frame: 8208, offset: 12, length: 8192, problems: [] });
  const bad = [
    [{ fill: false }, /0 memory.fill/],
    [{ length: 4096 }, /4096 bytes, not 8192/],
    [{ value: 1 }, /not write zeros/],
    [{ frame: 8200 }, /not within the frame/],
    [{ extra: '(memory.fill (local.get $0) (i32.const 0) (i32.const 8))' }, /2 memory.fill/],
    [{ extra: '(if (local.get $1) (then (return)))' }, /not straight-line/],
    [{ fill: false, extra: '(loop $l (i64.store (local.get $1) (i64.const 0)) (br_if $l (local.get $1)))' }, /not straight-line/],
  ];
  for (const [opts, want] of bad) {
    const { problems } = analyseWipe(wipe(opts), { stackPointer: SP });
    assert.ok(problems.some((p) => want.test(p)), `${JSON.stringify(opts)}: ${problems}`);
  }
});

for (const stem of ['paysecure_wasm', 'paysecure_wasm_reveal']) {
  test(`${stem}_bg.wasm as shipped: wipe_stack zeroes 8 KiB of its frame in one memory.fill, and the exports call it`, () => {
    const w = checkStackWipe(stem);
    console.log(`stack wipe ${stem}: memory.fill of ${w.length} B at offset ${w.offset} of a ${w.frame}-byte frame, ${w.callers} callers`);
    assert.deepEqual(w.problems, []);
    assert.equal(w.length, STACK_WIPE_BYTES);
    assert.ok(w.callers >= 10, `${w.callers} callers`);
  });
}
