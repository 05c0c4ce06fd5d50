//! The `{ data, iv }` values of the card API (PAN, CVV2, PIN block), as the
//! handlers open them under a session key (`Session::decrypt_string`,
//! `Session::decrypt_pin`), and ISO 9564 PIN blocks (`pin_block::decode`).
//!
//! The committed seeds are the shared test vectors (their session key is
//! [`KEY`]). Properties: nothing opens under a key no seed used in V2/V3
//! (authenticated); an accepted format-2 block is the canonical block of
//! its PIN; encrypt→decrypt is the identity.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paysecure_core::pin_block::{self, PinBlockFormat};
use paysecure_core::{EncryptedValue, Pin, Session, SessionKey, Version};
use secrecy::ExposeSecret;

/// The test vectors' session key.
const KEY: [u8; 32] = [
    0x60, 0x3d, 0xeb, 0x10, 0x15, 0xca, 0x71, 0xbe, 0x2b, 0x73, 0xae, 0xf0, 0x85, 0x7d, 0x77, 0x81,
    0x1f, 0x35, 0x2c, 0x07, 0x3b, 0x61, 0x08, 0xd7, 0x2d, 0x98, 0x10, 0xa3, 0x09, 0x14, 0xdf, 0xf4,
];
const OTHER: [u8; 24] = *b"fuzz-other-key-192-bits!";

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let version = match mode % 3 {
        0 => Version::V1,
        1 => Version::V2,
        _ => Version::V3,
    };
    let session = Session::new(version, SessionKey::from_bytes(&KEY).expect("key"));
    let other = Session::new(version, SessionKey::from_bytes(&OTHER).expect("key"));
    let text = String::from_utf8_lossy(rest);
    match (mode / 3) % 4 {
        // `data` and `iv` as a JSON body carries them: split at the first '|'.
        0 | 1 => {
            let (data, iv) = text.split_once('|').unwrap_or((&text, ""));
            let value = EncryptedValue {
                data: data.into(),
                iv: iv.into(),
            };
            let _ = session.decrypt_string(&value);
            if let Ok(pin) = session.decrypt_pin(&value) {
                assert!((4..=12).contains(&pin.len()));
            }
            if version.is_authenticated() {
                assert!(
                    other.decrypt(&value).is_err(),
                    "opened under a key nobody used"
                );
            }
        }
        // A PIN block, with and without a PAN.
        2 => {
            let (block, pan) = text.split_once('|').unwrap_or((&text, ""));
            let pan = (!pan.is_empty()).then_some(pan);
            if let Ok((pin, format)) = pin_block::decode(block, pan) {
                if format == PinBlockFormat::Iso2 || format == PinBlockFormat::Iso0 {
                    let again = pin_block::encode(&pin, format, pan).expect("encode");
                    assert_eq!(again.as_str(), block.to_ascii_uppercase());
                }
            }
        }
        // Round trips.
        _ => {
            let sent = session.encrypt(rest).expect("encrypt");
            let back = session.decrypt(&sent).expect("decrypt");
            assert_eq!(back.expose_secret(), rest);
            let digits: String = rest
                .iter()
                .map(|b| char::from(b'0' + b % 10))
                .take(12)
                .collect();
            if let Ok(pin) = Pin::new(&digits) {
                let sent = session.encrypt_pin(&pin).expect("encrypt");
                assert_eq!(
                    session.decrypt_pin(&sent).expect("decrypt").expose(),
                    digits
                );
            }
        }
    }
});
