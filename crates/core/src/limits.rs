//! Size limits on every argument the JavaScript API takes.
//!
//! Each is what the protocol needs with room to spare; anything longer is
//! refused with [`crate::Error::InputTooLarge`]
//! (`INPUT_TOO_LARGE`) before it is copied into WebAssembly memory or
//! parsed, so a hostile or broken caller cannot grow the module's memory
//! (which never shrinks) or trap the instance. Text limits count what
//! JavaScript's `.length` counts (UTF-16 code units); byte limits count bytes.

use crate::error::{Error, Result};

/// A size limit and the message of the error that refuses a longer input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// The largest accepted length.
    pub max: usize,
    /// The `INPUT_TOO_LARGE` message (names the argument and the limit).
    pub message: &'static str,
}

impl Limit {
    /// `Ok` when `len` is within the limit, else [`Error::InputTooLarge`].
    pub fn check(self, len: usize) -> Result<()> {
        if len <= self.max {
            Ok(())
        } else {
            Err(Error::InputTooLarge(self.message))
        }
    }
}

const fn limit(max: usize, message: &'static str) -> Limit {
    Limit { max, message }
}

/// A public key: PEM, bare base64 DER or JWK JSON text, and each member of
/// a JWK object (an RSA-16384 key is about 3 KiB of PEM).
pub const PUBLIC_KEY: Limit = limit(
    16 * 1024,
    "a public key (and each JWK member) is limited to 16 KiB",
);
/// The `data` of an encrypted `{ data, iv }` value (base64).
pub const ENCRYPTED_DATA: Limit = limit(64 * 1024, "the data of a value is limited to 64 KiB");
/// The `iv` of an encrypted value (24 characters of base64 in practice).
pub const IV: Limit = limit(256, "the iv of a value is limited to 256 characters");
/// What `Session.encrypt` takes, text (in code units, and again in UTF-8
/// bytes) or bytes: small enough that the result always fits
/// [`ENCRYPTED_DATA`].
pub const PLAINTEXT: Limit = limit(32 * 1024, "a plaintext is limited to 32 KiB");
/// A body for `encryptBody` (code units, and again in UTF-8 bytes).
pub const BODY: Limit = limit(1024 * 1024, "a body is limited to 1 MiB");
/// A hex body for `decryptBody`: hex of the 26-byte nonce, a [`BODY`] and
/// the 16-byte tag.
pub const BODY_HEX: Limit = limit(
    2 * (26 + BODY.max + 16),
    "a hex body is limited to 2 MiB (a 1 MiB body)",
);
/// A session key in base64 (44 characters for AES-256).
pub const SESSION_KEY: Limit = limit(256, "a session key is limited to 256 characters");
/// Short text: a PIN, a PIN block, a PAN, a CVV, a cardholder name, a card
/// sequence number, a key alias, a version, an option's string value.
pub const SHORT_TEXT: Limit = limit(256, "this argument is limited to 256 characters");
/// Entries of a JWK's `key_ops` array.
pub const JWK_KEY_OPS: Limit = limit(16, "a JWK's key_ops is limited to 16 entries");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn limits_refuse_one_past_the_max_with_input_too_large() {
        for l in [
            PUBLIC_KEY,
            ENCRYPTED_DATA,
            IV,
            PLAINTEXT,
            BODY,
            BODY_HEX,
            SHORT_TEXT,
        ] {
            assert_eq!(l.check(l.max), Ok(()));
            assert_eq!(l.check(l.max + 1), Err(Error::InputTooLarge(l.message)));
        }
        assert_eq!(Error::InputTooLarge("x").code(), ErrorCode::InputTooLarge);
    }

    #[test]
    fn what_encrypt_accepts_decrypt_accepts() {
        // base64 of plaintext + GCM tag (or a full CBC padding block).
        let data_len = (PLAINTEXT.max + 16).div_ceil(3) * 4;
        assert!(data_len <= ENCRYPTED_DATA.max);
        // What encryptBody makes, decryptBody takes.
        assert_eq!(BODY_HEX.max, 2 * (26 + BODY.max + 16));
    }
}
