//! The crate's one error type.
//!
//! Every message is a `&'static str` or a public number: no input, plaintext,
//! key byte or PIN digit can ever end up in an error message.

/// Everything that can go wrong in the PaySecure client core.
///
/// Each variant has a stable machine-readable [`code`](Error::code), which the
/// WebAssembly boundary exposes as `error.code` on a JavaScript `Error` whose
/// `name` is `"PaySecureError"`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The RSA public key could not be read (wrong format, bad DER, bad JWK).
    InvalidPublicKey(&'static str),
    /// The RSA public key is smaller than 2048 bits.
    WeakPublicKey {
        /// Size of the rejected modulus in bits.
        bits: usize,
    },
    /// A session key that is not 16, 24 or 32 bytes (AES-128/192/256).
    InvalidKeySize,
    /// A protocol version other than `v1`, `v2` or `v3`.
    UnsupportedVersion,
    /// A field that must be base64 is not.
    InvalidBase64(&'static str),
    /// An IV of the wrong size or form.
    InvalidIv(&'static str),
    /// Decryption failed. Deliberately opaque: a wrong key, a bad GCM tag, bad
    /// CBC padding and a truncated ciphertext all look exactly alike.
    DecryptionFailed,
    /// Authenticated plaintext that should be UTF-8 text is not.
    InvalidUtf8,
    /// A PIN that is not 4 to 12 decimal digits.
    InvalidPin(&'static str),
    /// A PIN block that does not follow its ISO 9564 format.
    InvalidPinBlock(&'static str),
    /// A PAN that is not 12 to 19 decimal digits.
    InvalidPan(&'static str),
    /// Card data that cannot be captured: a bad expiry, CVV or name, or an
    /// expired card.
    InvalidCard(&'static str),
    /// An argument of the wrong type or shape (mostly at the JavaScript boundary).
    InvalidInput(&'static str),
    /// The platform's random number generator failed.
    RandomUnavailable,
    /// RSA encryption failed (cannot happen for valid keys of 2048 bits or more).
    EncryptionFailed,
    /// An argument longer than its documented limit (see [`crate::limits`]),
    /// refused before it is copied or parsed.
    InputTooLarge(&'static str),
    /// A JWK that carries private-key members (`d`, `p`, `q`, `dp`, `dq`,
    /// `qi`, `oth`) or a symmetric key (`k`): refused, since a page must never
    /// hold the issuer's private key.
    PrivateJwk,
    /// V1 (AES-CBC, no MAC) decryption was not explicitly enabled. V1 values
    /// are unauthenticated; a session opts in with `allowLegacyCbc: true`.
    LegacyCbcDisabled,
    /// A V1 session (RSAES-PKCS1-v1_5 session ids, AES-CBC values) asked of
    /// a build without V1: the npm package's `paysecure-wasm/reveal` entry
    /// point, or this crate without its `v1` feature. The full entry point
    /// (`paysecure-wasm`) has V1.
    V1NotInEntry,
}

/// The message of [`Error::V1NotInEntry`].
const V1_NOT_IN_ENTRY: &str =
    "V1 (PKCS#1 v1.5 session ids, AES-CBC values) is not in this entry point \
     (paysecure-wasm/reveal has V2 and V3 only); use the full entry point 'paysecure-wasm' for V1";

/// The text before and after each code's detail (if it has one), in the
/// order of [`ErrorCode::ALL`]. `WEAK_PUBLIC_KEY`'s is built around its bit
/// count in [`Error::message`].
const MESSAGES: [(&str, &str); ErrorCode::ALL.len()] = [
    ("invalid RSA public key: ", ""),
    ("", ""),
    (
        "session key must be 128, 192 or 256 bits (16, 24 or 32 bytes)",
        "",
    ),
    (
        "unsupported protocol version (expected \"v1\", \"v2\" or \"v3\")",
        "",
    ),
    ("", " is not valid base64"),
    ("invalid IV: ", ""),
    ("decryption failed", ""),
    ("decrypted data is not valid UTF-8 text", ""),
    ("invalid PIN: ", ""),
    ("invalid PIN block: ", ""),
    ("invalid PAN: ", ""),
    ("invalid card: ", ""),
    ("invalid input: ", ""),
    ("the platform random number generator is unavailable", ""),
    ("RSA encryption failed", ""),
    ("input too large: ", ""),
    ("the JWK contains private key material", ""),
    (
        "V1 (unauthenticated AES-CBC) decryption is disabled; opt in with allowLegacyCbc",
        "",
    ),
    (V1_NOT_IN_ENTRY, ""),
];

impl Error {
    /// The error's message: a fixed text, or a fixed text around a
    /// `&'static str` detail or a bit count. The same text as `Display`,
    /// built without `core::fmt` (it is the `message` of a `PaySecureError`
    /// in the browser module).
    pub fn message(&self) -> String {
        let detail = match self {
            Error::WeakPublicKey { bits } => {
                let mut out = String::from("RSA public key has ");
                crate::text::push_decimal(&mut out, *bits as u64, 1);
                out.push_str(" bits; at least 2048 are required");
                return out;
            }
            Error::InvalidPublicKey(d)
            | Error::InvalidBase64(d)
            | Error::InvalidIv(d)
            | Error::InvalidPin(d)
            | Error::InvalidPinBlock(d)
            | Error::InvalidPan(d)
            | Error::InvalidCard(d)
            | Error::InvalidInput(d)
            | Error::InputTooLarge(d) => d,
            _ => "",
        };
        // One table of texts, in the order of `ErrorCode::ALL`: a lookup
        // instead of a branch per variant.
        let (head, tail) = MESSAGES
            .get(self.code() as usize)
            .copied()
            .unwrap_or(("", ""));
        let mut out = String::with_capacity(head.len() + detail.len() + tail.len());
        out.push_str(head);
        out.push_str(detail);
        out.push_str(tail);
        out
    }

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
            Error::V1NotInEntry => ErrorCode::V1NotInEntry,
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
    /// `V1_NOT_IN_ENTRY`: [`Error::V1NotInEntry`].
    V1NotInEntry,
}

impl ErrorCode {
    /// Every code, in the order of the [`Error`] variants.
    pub const ALL: [ErrorCode; 19] = [
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
        ErrorCode::V1NotInEntry,
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
            ErrorCode::V1NotInEntry => "V1_NOT_IN_ENTRY",
        }
    }
}

impl core::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for Error {}

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

    /// The texts are those the `thiserror` attributes gave before `message`
    /// replaced them, word for word (JavaScript callers see them), and
    /// `Display` is `message`.
    #[test]
    fn messages_are_the_former_texts() {
        let d = "the detail";
        let cases = [
            (
                Error::InvalidPublicKey(d),
                format!("invalid RSA public key: {d}"),
            ),
            (
                Error::WeakPublicKey { bits: 1024 },
                "RSA public key has 1024 bits; at least 2048 are required".to_owned(),
            ),
            (
                Error::WeakPublicKey { bits: 0 },
                "RSA public key has 0 bits; at least 2048 are required".to_owned(),
            ),
            (
                Error::InvalidKeySize,
                "session key must be 128, 192 or 256 bits (16, 24 or 32 bytes)".to_owned(),
            ),
            (
                Error::UnsupportedVersion,
                "unsupported protocol version (expected \"v1\", \"v2\" or \"v3\")".to_owned(),
            ),
            (Error::InvalidBase64(d), format!("{d} is not valid base64")),
            (Error::InvalidIv(d), format!("invalid IV: {d}")),
            (Error::DecryptionFailed, "decryption failed".to_owned()),
            (
                Error::InvalidUtf8,
                "decrypted data is not valid UTF-8 text".to_owned(),
            ),
            (Error::InvalidPin(d), format!("invalid PIN: {d}")),
            (Error::InvalidPinBlock(d), format!("invalid PIN block: {d}")),
            (Error::InvalidPan(d), format!("invalid PAN: {d}")),
            (Error::InvalidCard(d), format!("invalid card: {d}")),
            (Error::InvalidInput(d), format!("invalid input: {d}")),
            (
                Error::RandomUnavailable,
                "the platform random number generator is unavailable".to_owned(),
            ),
            (Error::EncryptionFailed, "RSA encryption failed".to_owned()),
            (Error::InputTooLarge(d), format!("input too large: {d}")),
            (
                Error::PrivateJwk,
                "the JWK contains private key material".to_owned(),
            ),
            (
                Error::LegacyCbcDisabled,
                "V1 (unauthenticated AES-CBC) decryption is disabled; opt in with allowLegacyCbc"
                    .to_owned(),
            ),
            (
                Error::V1NotInEntry,
                "V1 (PKCS#1 v1.5 session ids, AES-CBC values) is not in this entry point \
                 (paysecure-wasm/reveal has V2 and V3 only); use the full entry point \
                 'paysecure-wasm' for V1"
                    .to_owned(),
            ),
        ];
        let mut seen: Vec<ErrorCode> = cases.iter().map(|(e, _)| e.code()).collect();
        seen.dedup();
        assert_eq!(seen, ErrorCode::ALL, "one case per variant, in order");
        for (e, text) in cases {
            assert_eq!(e.message(), text);
            assert_eq!(e.to_string(), text);
        }
    }

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
            Error::V1NotInEntry,
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
