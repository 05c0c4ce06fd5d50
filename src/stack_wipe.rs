//! `StackWipe`: zeroes the shadow stack an exported function's callees used,
//! when the function returns (see the crate documentation).

use core::hint::black_box;

/// Bytes of shadow stack zeroed below an exported function's frame when it
/// returns: the deepest call, a V1 `decrypt`, uses about 3.7 KiB (measured by
/// tests/js/residue.test.mjs, which fails if a call leaves stack unwiped).
/// scripts/ct-check.mjs (`checkStackWipe`) finds `wipe_stack` in the shipped
/// module and fails unless it is one `memory.fill` of exactly this many zero
/// bytes over its own frame.
const STACK_WIPE_BYTES: usize = 8 * 1024;

/// Zeroes, when dropped, the [`STACK_WIPE_BYTES`] of shadow stack below the
/// frame that holds it. Declared first in an exported function, it is dropped
/// last, after everything the function called has returned.
pub(crate) struct StackWipe;

impl Drop for StackWipe {
    fn drop(&mut self) {
        wipe_stack();
    }
}

/// Its own frame is an array just below the caller's: writing it overwrites
/// whatever the caller's callees left there.
///
/// One bulk zero fill (a zeroed array: a single `memory.fill` on wasm32,
/// with bulk memory on) instead of 1,024 volatile `u64` stores, the same
/// 8 KiB. The array then escapes through `black_box`, so the compiler must
/// assume it is read and cannot drop the fill as a dead store. That the fill
/// is in the module as shipped is not assumed: scripts/ct-check.mjs checks
/// it on the artifact (and build.sh keeps this function out of line for it).
#[inline(never)]
fn wipe_stack() {
    let mut area = [0u8; STACK_WIPE_BYTES];
    black_box(&mut area);
}
