//! ISO 9564 PIN blocks, formats 0-3, as `parsePinBlock(block, { pan })`
//! reads them. Input: the block, then optionally `\n` and the PAN. A block
//! that decodes re-encodes (same format and PAN) to one that decodes to the
//! same PIN.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paysecure_core::{pin_block, Error};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let (block, pan) = match text.split_once('\n') {
        Some((b, p)) => (b, Some(p)),
        None => (text, None),
    };
    let _ = pin_block::format_of(block);
    match pin_block::decode(block, pan) {
        Ok((pin, format)) => {
            let again = pin_block::encode(&pin, format, pan).unwrap();
            let (back, f) = pin_block::decode(&again, pan).unwrap();
            assert_eq!((back.expose(), f), (pin.expose(), format));
        }
        Err(Error::InvalidPinBlock(_) | Error::InvalidPin(_) | Error::InvalidPan(_)) => {}
        Err(e) => panic!("unexpected error {e:?}"),
    }
});
