//! The account payment-information API's encrypted bodies (`decryptBody`):
//! hex of a 26-byte time nonce, ciphertext and tag, opened under a fixed key.
//! Anything that is not such a body is the one `DecryptionFailed`; what opens
//! re-seals to the same text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paysecure_core::{body, Error, SessionKey};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let key = SessionKey::from_bytes(&[0x42; 32]).unwrap();
    match body::open(&key, text) {
        Ok(opened) => {
            let again = body::seal_with_nonce(&key, &opened.plaintext, &opened.nonce).unwrap();
            assert_eq!(again, text.trim().to_ascii_lowercase());
        }
        Err(Error::DecryptionFailed) => {}
        Err(e) => panic!("unexpected error {e:?}"),
    }
});
