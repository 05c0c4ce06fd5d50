//! Captured cards (`encrypted_card`, a compact JWE from paysecure-wasm
//! `encryptCard`), as the Client POST capture and the Verifone API open
//! them: `Service::parse_encrypted_card` (split, base64url, header checks:
//! the step before the RSA operation), `jwe::decrypt_content` with the
//! content key, and `Service::check_captured_card` (the card JSON and its
//! checks). The RSA unwrap itself is aws-lc-rs and out of scope.
//!
//! The committed seeds are real JWEs whose content key is [`CEK`] (wrapped
//! for the test vectors' RSA key). Properties: an accepted header names
//! RSA-OAEP-256/A256GCM; nothing opens under a key no seed used; an
//! accepted card has a Luhn-valid 12-19 digit PAN and a valid expiry.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paysecure_core::{jwe, SessionKey};
use paysecure_server::domain::tokens::check_pan;
use paysecure_server::util::time::UnixTime;
use paysecure_server::Service;

/// The content key of the committed seeds.
const CEK: [u8; 32] = *b"paysecure-fuzz-jwe-content-key!!";
/// A content key nothing was encrypted with.
const OTHER: [u8; 32] = *b"paysecure-fuzz-some-other-key!!!";
/// 2026-01-01T00:00:00Z: a fixed "now" inside the seeds' capture window.
const NOW: UnixTime = UnixTime(1_767_225_600);

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        let Ok(text) = std::str::from_utf8(rest) else {
            return;
        };
        let alias = (mode & 2 != 0).then_some("rsa-fuzz");
        let Ok((parsed, kid)) = Service::parse_encrypted_card(text, alias) else {
            return;
        };
        assert!(alias.is_none_or(|a| a == kid));
        let header: serde_json::Value = serde_json::from_str(parsed.header()).expect("JSON");
        assert_eq!(header["alg"], jwe::ALG);
        assert_eq!(header["enc"], jwe::ENC);
        assert!(!parsed.encrypted_key().is_empty());
        let other = SessionKey::from_bytes(&OTHER).expect("key");
        assert!(jwe::decrypt_content(&parsed, &other).is_err());
        let cek = SessionKey::from_bytes(&CEK).expect("key");
        if let Ok(plain) = jwe::decrypt_content(&parsed, &cek) {
            check(&plain);
        }
    } else {
        // The decrypted card JSON directly.
        check(rest);
    }
});

fn check(plain: &[u8]) {
    if let Ok(card) = Service::check_captured_card(plain, NOW) {
        let digits = check_pan(&card.pan).expect("an accepted PAN passes the PAN check");
        assert_eq!(&digits[..], &card.pan[..]);
        assert!((1..=12).contains(&card.expiry_month));
        // Verifone allows expiry years up to 9999 (issue #19).
        assert!((2000..=9999).contains(&card.expiry_year));
    }
}
