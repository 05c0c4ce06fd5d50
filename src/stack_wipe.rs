//! `StackWipe`: zeroes the shadow stack an exported function's callees used,
//! when the function returns (see the crate documentation).

use zeroize::Zeroize;

/// Bytes of shadow stack zeroed below an exported function's frame when it
/// returns: the deepest call, a V1 `decrypt`, uses about 3.7 KiB (measured by
/// tests/js/residue.test.mjs, which fails if a call leaves stack unwiped).
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
#[inline(never)]
fn wipe_stack() {
    let mut area = [0u64; STACK_WIPE_BYTES / 8];
    area.zeroize(); // volatile writes: not optimised away
}
