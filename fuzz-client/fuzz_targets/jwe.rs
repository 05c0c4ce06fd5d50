//! Compact JWE (`encryptCard`'s output format): `parse_compact`, then the
//! content opened under a fixed content key. Malformed input is only ever
//! `InvalidInput`; a wrong key or a changed byte only `DecryptionFailed`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paysecure_core::{jwe, Error, SessionKey};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    match jwe::parse_compact(text) {
        Ok(parsed) => {
            assert!(!parsed.encrypted_key().is_empty());
            let _ = parsed.header().len();
            let cek = SessionKey::from_bytes(&[7; 32]).unwrap();
            match jwe::decrypt_content(&parsed, &cek) {
                Ok(_) | Err(Error::DecryptionFailed) => {}
                Err(e) => panic!("unexpected error {e:?}"),
            }
        }
        Err(Error::InvalidInput(_)) => {}
        Err(e) => panic!("unexpected error {e:?}"),
    }
});
