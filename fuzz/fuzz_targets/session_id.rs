//! The `Session-Id` header: the text the server decodes before any RSA
//! operation (`paysecure_wasm::encoding::decode`, as
//! `KeyRing::unwrap_session_id` calls it, after the extractor's trim and
//! 4096-byte bound), and the RSA plaintext a session id wraps, which is
//! attacker-chosen too: anyone can encrypt to the public key.
//!
//! Properties: encode→decode is the identity; anything decode accepts is
//! the canonical encoding of what it decoded to (whitespace and missing
//! padding aside), so one id has one decoded form; an accepted session-id
//! plaintext is an AES key of 16, 24 or 32 bytes that round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paysecure_wasm::encoding::{decode, encode};
use paysecure_wasm::SessionKey;

fuzz_target!(|data: &[u8]| {
    // Bytes → base64 → the same bytes.
    let text = encode(data);
    let back = decode(&text, "session id").expect("the encoder's output decodes");
    assert_eq!(&back[..], data);

    // The header text as the server sees it.
    if let Ok(header) = std::str::from_utf8(data) {
        if header.len() <= 4096 {
            // `Service::open_session` trims (Unicode whitespace), the
            // decoder drops ASCII whitespace anywhere.
            let trimmed = header.trim();
            if let Ok(bytes) = decode(trimmed, "session id") {
                let compact: String = trimmed
                    .chars()
                    .filter(|c| !c.is_ascii_whitespace())
                    .collect();
                assert_eq!(
                    encode(&bytes).trim_end_matches('='),
                    compact.trim_end_matches('='),
                    "an accepted session id is the canonical encoding of its bytes"
                );
            }
        }
    }

    // The RSA plaintext of a session id: the key's base64 text.
    if let Ok(key) = SessionKey::from_session_id_plaintext(data) {
        assert!(matches!(key.expose_bytes().len(), 16 | 24 | 32));
        let again = SessionKey::from_base64(&key.to_base64()).expect("round trip");
        assert_eq!(again.expose_bytes(), key.expose_bytes());
    }
});
