//! `{ data, iv }` values decrypted under a fixed session key, as
//! `Session.decrypt` / `decryptBytes` / `decryptPin` do, in every version and
//! key size. Input: one selector byte (version, key size), then `data`, `\n`,
//! `iv`. In V1 (unauthenticated CBC) every failure must be the one opaque
//! `DecryptionFailed`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paysecure_core::{EncryptedValue, Error, Session, SessionKey, Version};

/// The README's example key (AES-256); its first 16 / 24 bytes for the others.
const KEY: [u8; 32] = [
    0x60, 0x3d, 0xeb, 0x10, 0x15, 0xca, 0x71, 0xbe, 0x2b, 0x73, 0xae, 0xf0, 0x85, 0x7d, 0x77, 0x81,
    0x1f, 0x35, 0x2c, 0x07, 0x3b, 0x61, 0x08, 0xd7, 0x2d, 0x98, 0x10, 0xa3, 0x09, 0x14, 0xdf, 0xf4,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = core::str::from_utf8(rest) else {
        return;
    };
    let (d, iv) = text.split_once('\n').unwrap_or((text, ""));
    let version = [Version::V1, Version::V2, Version::V3][usize::from(selector % 3)];
    let len = [32, 16, 24][usize::from(selector / 3 % 3)];
    let session = Session::new(version, SessionKey::from_bytes(&KEY[..len]).unwrap());
    let value = EncryptedValue {
        data: d.to_owned(),
        iv: iv.to_owned(),
    };
    let results = [
        session.decrypt(&value).map(|_| ()),
        session.decrypt_string(&value).map(|_| ()),
        session.decrypt_pin(&value).map(|_| ()),
    ];
    for r in results {
        match (version, r) {
            (_, Ok(())) | (Version::V1, Err(Error::DecryptionFailed)) => {}
            (Version::V1, Err(e)) => panic!("V1 must fail opaquely, got {e:?}"),
            (
                _,
                Err(
                    Error::DecryptionFailed
                    | Error::InvalidBase64(_)
                    | Error::InvalidIv(_)
                    | Error::InvalidUtf8
                    | Error::InvalidPinBlock(_)
                    | Error::InvalidPin(_),
                ),
            ) => {}
            (_, Err(e)) => panic!("unexpected error {e:?}"),
        }
    }
});
