//! The crate's one error type.
//!
//! Every message is a `&'static str` or a public number: no input, plaintext,
//! key byte or PIN digit can ever end up in an error message.

/// Everything that can go wrong in the PaySecure client core.
///
/// Each variant has a stable machine-readable [`code`](Error::code), which the
/// WebAssembly boundary exposes as `error.code` on a JavaScript `Error` whose
/// `name` is `"PaySecureError"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The RSA public key could not be read (wrong format, bad DER, bad JWK).
    #[error("invalid RSA public key: {0}")]
    InvalidPublicKey(&'static str),
    /// The RSA public key is smaller than 2048 bits.
    #[error("RSA public key has {bits} bits; at least 2048 are required")]
    WeakPublicKey {
        /// Size of the rejected modulus in bits.
        bits: usize,
    },
    /// A session key that is not 16, 24 or 32 bytes (AES-128/192/256).
    #[error("session key must be 128, 192 or 256 bits (16, 24 or 32 bytes)")]
    InvalidKeySize,
    /// A protocol version other than `v1`, `v2` or `v3`.
    #[error("unsupported protocol version (expected \"v1\", \"v2\" or \"v3\")")]
    UnsupportedVersion,
    /// A field that must be base64 is not.
    #[error("{0} is not valid base64")]
    InvalidBase64(&'static str),
    /// An IV of the wrong size or form.
    #[error("invalid IV: {0}")]
    InvalidIv(&'static str),
    /// Decryption failed. Deliberately opaque: a wrong key, a bad GCM tag, bad
    /// CBC padding and a truncated ciphertext all look exactly alike.
    #[error("decryption failed")]
    DecryptionFailed,
    /// Authenticated plaintext that should be UTF-8 text is not.
    #[error("decrypted data is not valid UTF-8 text")]
    InvalidUtf8,
    /// A PIN that is not 4 to 12 decimal digits.
    #[error("invalid PIN: {0}")]
    InvalidPin(&'static str),
    /// A PIN block that does not follow its ISO 9564 format.
    #[error("invalid PIN block: {0}")]
    InvalidPinBlock(&'static str),
    /// A PAN that is not 12 to 19 decimal digits.
    #[error("invalid PAN: {0}")]
    InvalidPan(&'static str),
    /// Card data that cannot be captured: a bad expiry, CVV or name, or an
    /// expired card.
    #[error("invalid card: {0}")]
    InvalidCard(&'static str),
    /// An argument of the wrong type or shape (mostly at the JavaScript boundary).
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// The platform's random number generator failed.
    #[error("the platform random number generator is unavailable")]
    RandomUnavailable,
    /// RSA encryption failed (cannot happen for valid keys of 2048 bits or more).
    #[error("RSA encryption failed")]
    EncryptionFailed,
    /// An argument longer than its documented limit (see [`crate::limits`]),
    /// refused before it is copied or parsed.
    #[error("input too large: {0}")]
    InputTooLarge(&'static str),
    /// A JWK that carries private-key members (`d`, `p`, `q`, `dp`, `dq`,
    /// `qi`, `oth`) or a symmetric key (`k`): refused, since a page must never
    /// hold the issuer's private key.
    #[error("the JWK contains private key material")]
    PrivateJwk,
    /// V1 (AES-CBC, no MAC) decryption was not explicitly enabled. V1 values
    /// are unauthenticated; a session opts in with `allowLegacyCbc: true`.
    #[error("V1 (unauthenticated AES-CBC) decryption is disabled; opt in with allowLegacyCbc")]
    LegacyCbcDisabled,
}

impl Error {
    /// The stable, machine-readable code of this error (`SCREAMING_SNAKE_CASE`).
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidPublicKey(_) => "INVALID_PUBLIC_KEY",
            Error::WeakPublicKey { .. } => "WEAK_PUBLIC_KEY",
            Error::InvalidKeySize => "INVALID_KEY_SIZE",
            Error::UnsupportedVersion => "UNSUPPORTED_VERSION",
            Error::InvalidBase64(_) => "INVALID_BASE64",
            Error::InvalidIv(_) => "INVALID_IV",
            Error::DecryptionFailed => "DECRYPTION_FAILED",
            Error::InvalidUtf8 => "INVALID_UTF8",
            Error::InvalidPin(_) => "INVALID_PIN",
            Error::InvalidPinBlock(_) => "INVALID_PIN_BLOCK",
            Error::InvalidPan(_) => "INVALID_PAN",
            Error::InvalidCard(_) => "INVALID_CARD",
            Error::InvalidInput(_) => "INVALID_INPUT",
            Error::RandomUnavailable => "RANDOM_UNAVAILABLE",
            Error::EncryptionFailed => "ENCRYPTION_FAILED",
            Error::InputTooLarge(_) => "INPUT_TOO_LARGE",
            Error::PrivateJwk => "PRIVATE_JWK",
            Error::LegacyCbcDisabled => "LEGACY_CBC_DISABLED",
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

impl From<getrandom::Error> for Error {
    fn from(_: getrandom::Error) -> Self {
        Error::RandomUnavailable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_one_the_javascript_guard_knows() {
        let all = [
            Error::InvalidPublicKey(""),
            Error::WeakPublicKey { bits: 1 },
            Error::InvalidKeySize,
            Error::UnsupportedVersion,
            Error::InvalidBase64(""),
            Error::InvalidIv(""),
            Error::DecryptionFailed,
            Error::InvalidUtf8,
            Error::InvalidPin(""),
            Error::InvalidPinBlock(""),
            Error::InvalidPan(""),
            Error::InvalidCard(""),
            Error::InvalidInput(""),
            Error::RandomUnavailable,
            Error::EncryptionFailed,
            Error::InputTooLarge(""),
            Error::PrivateJwk,
            Error::LegacyCbcDisabled,
        ];
        for e in &all {
            assert!(crate::wasm::ERROR_CODES.contains(&e.code()), "{e:?}");
        }
        // ... and the list has nothing else but the glue's OBJECT_FREED.
        assert_eq!(crate::wasm::ERROR_CODES.len(), all.len() + 1);
        assert!(crate::wasm::ERROR_CODES.contains(&"OBJECT_FREED"));
    }
}
