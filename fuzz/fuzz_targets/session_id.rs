//! The `Session-Id` and `Key-Id` headers: what the server parses before
//! any RSA operation (`paysecure_server::http::extract::session_id_header`, over
//! `paysecure_core::encoding::decode_canonical`), and the RSA plaintext a
//! session id wraps, which is attacker-chosen too: anyone can encrypt to
//! the public key.
//!
//! Properties: the canonical decoder accepts exactly one text per byte
//! string (what it accepts is the encoder's output, byte for byte), so no
//! re-encoding of a used id parses as another id; the header parser never
//! panics and accepts only what the canonical decoder accepts, with a
//! well-formed key id; an accepted session-id plaintext is an AES key of
//! 16, 24 or 32 bytes that round-trips.
#![no_main]

use axum::http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use paysecure_core::encoding::{decode_canonical, encode};
use paysecure_core::SessionKey;
use paysecure_server::http::extract::session_id_header;

fuzz_target!(|data: &[u8]| {
    // Bytes → base64 → the same bytes.
    let text = encode(data);
    let back = decode_canonical(&text, "session id").expect("the encoder's output decodes");
    assert_eq!(&back[..], data);

    // Any text the canonical decoder accepts is the encoding of its bytes.
    if let Ok(header) = std::str::from_utf8(data) {
        if let Ok(bytes) = decode_canonical(header, "session id") {
            assert_eq!(encode(&bytes), header, "one text per value");
        }
    }

    // The headers as a request carries them: the first byte splits the
    // input into a Session-Id and a Key-Id value.
    let (sid, kid) = data.split_at(data.len() / 2);
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_bytes(sid) {
        headers.insert("session-id", v);
    }
    if let Ok(v) = HeaderValue::from_bytes(kid) {
        if !kid.is_empty() {
            headers.insert("key-id", v);
        }
    }
    if let Ok(Some(_)) = session_id_header(&headers) {
        let text = std::str::from_utf8(sid).expect("an accepted id is ASCII");
        assert!(decode_canonical(text, "session id").is_ok());
    }

    // The RSA plaintext of a session id: the key's base64 text.
    if let Ok(key) = SessionKey::from_session_id_plaintext(data) {
        assert!(matches!(key.expose_bytes().len(), 16 | 24 | 32));
        let again = SessionKey::from_base64(&key.to_base64()).expect("round trip");
        assert_eq!(again.expose_bytes(), key.expose_bytes());
    }
});
