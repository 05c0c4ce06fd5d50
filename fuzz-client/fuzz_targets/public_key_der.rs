//! `PublicKey::from_der`: SubjectPublicKeyInfo or PKCS#1 RSAPublicKey DER,
//! the bytes inside every PEM and base64 form. Differential: the core's own
//! DER reader (crates/core/src/der.rs) must give the same key or the same
//! error as the `spki` / `pkcs1` path it replaced, for every input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paysecure_core::{Error, PublicKey};
use pkcs1::der::Decode;
use spki::SubjectPublicKeyInfoRef;

/// The core's former `from_spki_der` / `from_pkcs1_der` / `from_der`.
fn reference_spki(der: &[u8]) -> Result<PublicKey, Error> {
    let spki = SubjectPublicKeyInfoRef::try_from(der)
        .map_err(|_| Error::InvalidPublicKey("the DER is not a SubjectPublicKeyInfo"))?;
    if spki.algorithm.oid != pkcs1::ALGORITHM_OID {
        return Err(Error::InvalidPublicKey("the key is not an RSA key"));
    }
    let inner = spki
        .subject_public_key
        .as_bytes()
        .ok_or(Error::InvalidPublicKey("malformed subjectPublicKey bit string"))?;
    reference_pkcs1(inner)
}

fn reference_pkcs1(der: &[u8]) -> Result<PublicKey, Error> {
    let key = pkcs1::RsaPublicKey::from_der(der)
        .map_err(|_| Error::InvalidPublicKey("the DER is not a PKCS#1 RSAPublicKey"))?;
    PublicKey::from_components(key.modulus.as_bytes(), key.public_exponent.as_bytes())
}

fn reference(der: &[u8]) -> Result<PublicKey, Error> {
    match reference_spki(der) {
        Err(Error::InvalidPublicKey(_)) => reference_pkcs1(der).map_err(|e| match e {
            Error::InvalidPublicKey(_) => Error::InvalidPublicKey(
                "the DER is neither an RSA SubjectPublicKeyInfo nor a PKCS#1 key",
            ),
            other => other,
        }),
        other => other,
    }
}

fuzz_target!(|data: &[u8]| {
    let ours = PublicKey::from_der(data);
    assert_eq!(ours, reference(data), "{data:02x?}");
    match ours {
        Ok(key) => {
            assert!(key.bits() >= 2048);
            let again = PublicKey::from_components(&key.modulus_be(), &key.exponent_be()).unwrap();
            assert_eq!(again, key);
        }
        Err(Error::InvalidPublicKey(_) | Error::WeakPublicKey { .. }) => {}
        Err(e) => panic!("unexpected error {e:?}"),
    }
});
