//! `PublicKey::parse`: SPKI PEM, PKCS#1 PEM (one or many lines, CRLF, text
//! around the armor) and bare base64 DER, as a page passes them to
//! `Session.create` / `PublicKey.parse`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paysecure_core::{Error, Padding, PublicKey};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    match PublicKey::parse(text) {
        Ok(key) => {
            assert!(key.bits() >= 2048);
            // What was read is what the components say.
            let again = PublicKey::from_components(&key.modulus_be(), &key.exponent_be()).unwrap();
            assert_eq!(again, key);
            // And the Montgomery kernel takes the fuzzed modulus.
            let c = key.encrypt(&[0x41; 16], Padding::OaepSha1).unwrap();
            assert_eq!(c.len(), key.size());
        }
        Err(Error::InvalidPublicKey(_) | Error::WeakPublicKey { .. }) => {}
        Err(e) => panic!("unexpected error {e:?}"),
    }
});
