//! The account payment-information API's encrypted bodies: hex of `nonce ||
//! ciphertext || tag`, opened with `paysecure_core::body::open` as
//! `Service::open_body` does (a path segment, or the `data=` field of a form
//! body), then read as a UUID path id or the request JSON.
//!
//! Properties: whatever opens is the canonical (lowercase) encoding of what
//! it opened to, so one body has one replay fingerprint; nothing the
//! fuzzer makes opens under a key no seed was sealed with; seal→open is the
//! identity for any plaintext and time.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paysecure_core::body;
use paysecure_core::SessionKey;
use paysecure_server::domain::account::{uuid, PaymentRequest};

/// The key the committed seeds are sealed with (the vectors' session key).
const KEY_A: [u8; 32] = [
    0x60, 0x3d, 0xeb, 0x10, 0x15, 0xca, 0x71, 0xbe, 0x2b, 0x73, 0xae, 0xf0, 0x85, 0x7d, 0x77, 0x81,
    0x1f, 0x35, 0x2c, 0x07, 0x3b, 0x61, 0x08, 0xd7, 0x2d, 0x98, 0x10, 0xa3, 0x09, 0x14, 0xdf, 0xf4,
];
/// A key nothing was sealed with.
const KEY_B: [u8; 16] = *b"fuzz-other-key!!";

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let a = SessionKey::from_bytes(&KEY_A).expect("key");
    let b = SessionKey::from_bytes(&KEY_B).expect("key");
    if mode & 1 == 0 {
        let text = if mode & 2 == 0 {
            String::from_utf8_lossy(rest).into_owned()
        } else {
            form_urlencoded::parse(rest)
                .find(|(k, _)| k == "data")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        if let Ok(opened) = body::open(&a, &text) {
            let again = body::seal_with_nonce(&a, &opened.plaintext, &opened.nonce).expect("seal");
            assert_eq!(again, text.trim().to_ascii_lowercase());
            if let Ok(s) = std::str::from_utf8(&opened.plaintext) {
                let _ = uuid(s);
            }
            let _ = serde_json::from_slice::<PaymentRequest>(&opened.plaintext);
        }
        assert!(
            body::open(&b, &text).is_err(),
            "opened under a key nobody used"
        );
    } else {
        // Any plaintext at any time between 1970 and 9999.
        let (when, plaintext) = rest.split_at(rest.len().min(5));
        let mut t = [0u8; 8];
        t[..when.len()].copy_from_slice(when);
        let now = u64::from_le_bytes(t) % 253_402_300_800;
        let sealed = body::seal(&a, plaintext, now).expect("seal");
        let opened = body::open(&a, &sealed).expect("what was sealed opens");
        assert_eq!(&opened.plaintext[..], plaintext);
        assert_eq!(opened.timestamp, now);
        assert!(body::open(&b, &sealed).is_err());
    }
});
