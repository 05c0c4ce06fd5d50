//! `PublicKey::from_der`: SubjectPublicKeyInfo or PKCS#1 RSAPublicKey DER,
//! the bytes inside every PEM and base64 form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paysecure_core::{Error, PublicKey};

fuzz_target!(|data: &[u8]| {
    match PublicKey::from_der(data) {
        Ok(key) => {
            assert!(key.bits() >= 2048);
            let again = PublicKey::from_components(&key.modulus_be(), &key.exponent_be()).unwrap();
            assert_eq!(again, key);
        }
        Err(Error::InvalidPublicKey(_) | Error::WeakPublicKey { .. }) => {}
        Err(e) => panic!("unexpected error {e:?}"),
    }
});
