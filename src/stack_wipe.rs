//! `StackWipe`: zeroes the shadow stack an exported function's callees used,
//! when the function returns (see the crate documentation).

use core::mem::MaybeUninit;
use core::sync::atomic::{compiler_fence, Ordering};

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
///
/// The array starts uninitialised: a `[0u64; N]` was first filled with
/// zeros by a `memory.fill` and then zeroed again by the volatile writes,
/// twice the work (about a tenth of a PIN encryption). The volatile writes
/// alone (`MaybeUninit::zeroize`: one `write_volatile` of a zeroed `u64` per
/// element, never optimised away) store the same zeros to the same bytes.
#[inline(never)]
fn wipe_stack() {
    let mut area = [MaybeUninit::<u64>::uninit(); STACK_WIPE_BYTES / 8];
    for word in &mut area {
        word.zeroize(); // a volatile write: not optimised away
    }
    // As `zeroize` does after a slice: keep later code from moving before it.
    compiler_fence(Ordering::SeqCst);
}
