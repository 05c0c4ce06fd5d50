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
    /// The stable, machine-readable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidPublicKey(_) => ErrorCode::InvalidPublicKey,
            Error::WeakPublicKey { .. } => ErrorCode::WeakPublicKey,
            Error::InvalidKeySize => ErrorCode::InvalidKeySize,
            Error::UnsupportedVersion => ErrorCode::UnsupportedVersion,
            Error::InvalidBase64(_) => ErrorCode::InvalidBase64,
            Error::InvalidIv(_) => ErrorCode::InvalidIv,
            Error::DecryptionFailed => ErrorCode::DecryptionFailed,
            Error::InvalidUtf8 => ErrorCode::InvalidUtf8,
            Error::InvalidPin(_) => ErrorCode::InvalidPin,
            Error::InvalidPinBlock(_) => ErrorCode::InvalidPinBlock,
            Error::InvalidPan(_) => ErrorCode::InvalidPan,
            Error::InvalidCard(_) => ErrorCode::InvalidCard,
            Error::InvalidInput(_) => ErrorCode::InvalidInput,
            Error::RandomUnavailable => ErrorCode::RandomUnavailable,
            Error::EncryptionFailed => ErrorCode::EncryptionFailed,
            Error::InputTooLarge(_) => ErrorCode::InputTooLarge,
            Error::PrivateJwk => ErrorCode::PrivateJwk,
            Error::LegacyCbcDisabled => ErrorCode::LegacyCbcDisabled,
        }
    }
}

/// The stable codes of [`Error`], one per variant: what the WebAssembly
/// package puts in a `PaySecureError`'s `code` and what callers branch on.
/// Compare these, never the text of [`ErrorCode::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `INVALID_PUBLIC_KEY`: [`Error::InvalidPublicKey`].
    InvalidPublicKey,
    /// `WEAK_PUBLIC_KEY`: [`Error::WeakPublicKey`].
    WeakPublicKey,
    /// `INVALID_KEY_SIZE`: [`Error::InvalidKeySize`].
    InvalidKeySize,
    /// `UNSUPPORTED_VERSION`: [`Error::UnsupportedVersion`].
    UnsupportedVersion,
    /// `INVALID_BASE64`: [`Error::InvalidBase64`].
    InvalidBase64,
    /// `INVALID_IV`: [`Error::InvalidIv`].
    InvalidIv,
    /// `DECRYPTION_FAILED`: [`Error::DecryptionFailed`].
    DecryptionFailed,
    /// `INVALID_UTF8`: [`Error::InvalidUtf8`].
    InvalidUtf8,
    /// `INVALID_PIN`: [`Error::InvalidPin`].
    InvalidPin,
    /// `INVALID_PIN_BLOCK`: [`Error::InvalidPinBlock`].
    InvalidPinBlock,
    /// `INVALID_PAN`: [`Error::InvalidPan`].
    InvalidPan,
    /// `INVALID_CARD`: [`Error::InvalidCard`].
    InvalidCard,
    /// `INVALID_INPUT`: [`Error::InvalidInput`].
    InvalidInput,
    /// `RANDOM_UNAVAILABLE`: [`Error::RandomUnavailable`].
    RandomUnavailable,
    /// `ENCRYPTION_FAILED`: [`Error::EncryptionFailed`].
    EncryptionFailed,
    /// `INPUT_TOO_LARGE`: [`Error::InputTooLarge`].
    InputTooLarge,
    /// `PRIVATE_JWK`: [`Error::PrivateJwk`].
    PrivateJwk,
    /// `LEGACY_CBC_DISABLED`: [`Error::LegacyCbcDisabled`].
    LegacyCbcDisabled,
}

impl ErrorCode {
    /// Every code, in the order of the [`Error`] variants.
    pub const ALL: [ErrorCode; 18] = [
        ErrorCode::InvalidPublicKey,
        ErrorCode::WeakPublicKey,
        ErrorCode::InvalidKeySize,
        ErrorCode::UnsupportedVersion,
        ErrorCode::InvalidBase64,
        ErrorCode::InvalidIv,
        ErrorCode::DecryptionFailed,
        ErrorCode::InvalidUtf8,
        ErrorCode::InvalidPin,
        ErrorCode::InvalidPinBlock,
        ErrorCode::InvalidPan,
        ErrorCode::InvalidCard,
        ErrorCode::InvalidInput,
        ErrorCode::RandomUnavailable,
        ErrorCode::EncryptionFailed,
        ErrorCode::InputTooLarge,
        ErrorCode::PrivateJwk,
        ErrorCode::LegacyCbcDisabled,
    ];

    /// The code as `SCREAMING_SNAKE_CASE` text, as JavaScript sees it.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidPublicKey => "INVALID_PUBLIC_KEY",
            ErrorCode::WeakPublicKey => "WEAK_PUBLIC_KEY",
            ErrorCode::InvalidKeySize => "INVALID_KEY_SIZE",
            ErrorCode::UnsupportedVersion => "UNSUPPORTED_VERSION",
            ErrorCode::InvalidBase64 => "INVALID_BASE64",
            ErrorCode::InvalidIv => "INVALID_IV",
            ErrorCode::DecryptionFailed => "DECRYPTION_FAILED",
            ErrorCode::InvalidUtf8 => "INVALID_UTF8",
            ErrorCode::InvalidPin => "INVALID_PIN",
            ErrorCode::InvalidPinBlock => "INVALID_PIN_BLOCK",
            ErrorCode::InvalidPan => "INVALID_PAN",
            ErrorCode::InvalidCard => "INVALID_CARD",
            ErrorCode::InvalidInput => "INVALID_INPUT",
            ErrorCode::RandomUnavailable => "RANDOM_UNAVAILABLE",
            ErrorCode::EncryptionFailed => "ENCRYPTION_FAILED",
            ErrorCode::InputTooLarge => "INPUT_TOO_LARGE",
            ErrorCode::PrivateJwk => "PRIVATE_JWK",
            ErrorCode::LegacyCbcDisabled => "LEGACY_CBC_DISABLED",
        }
    }
}

impl core::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
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
    fn every_error_has_its_own_listed_code() {
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
        let codes: Vec<ErrorCode> = all.iter().map(Error::code).collect();
        assert_eq!(codes, ErrorCode::ALL);
        // ... and no two codes share a text (the JavaScript side compares it).
        let mut texts: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        texts.sort_unstable();
        texts.dedup();
        assert_eq!(texts.len(), ErrorCode::ALL.len());
        assert!(texts.iter().all(|t| t
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')));
    }
}
