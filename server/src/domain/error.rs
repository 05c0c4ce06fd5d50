//! The domain's error type. The HTTP layer maps each variant to a status and
//! a stable code; nothing here carries secrets.

use crate::storage::StorageError;

/// Declares [`Code`]: each variant and the text the APIs answer for it.
macro_rules! codes {
    ($($variant:ident = $text:literal,)*) => {
        /// The stable `code` of an error answer (the JSON envelope's
        /// `error.code`; `docs/api.md` lists when each is answered). Each
        /// variant is its text in CamelCase, so the variants need no docs of
        /// their own. Matched as a type, never as text: renaming one does
        /// not compile silently into another status.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            /// The code as the APIs send it (`INVALID_PAN`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $text,)*
                }
            }
        }
    };
}

codes! {
    BinExhausted = "BIN_EXHAUSTED",
    CaptureExpired = "CAPTURE_EXPIRED",
    CardAlreadyTokenised = "CARD_ALREADY_TOKENISED",
    CardAlreadyUsed = "CARD_ALREADY_USED",
    CardNotActive = "CARD_NOT_ACTIVE",
    CardNotFound = "CARD_NOT_FOUND",
    CertificateExpired = "CERTIFICATE_EXPIRED",
    ConcurrentUpdate = "CONCURRENT_UPDATE",
    Cvv2Blocked = "CVV2_BLOCKED",
    DuplicateApiKey = "DUPLICATE_API_KEY",
    EmptyUpdate = "EMPTY_UPDATE",
    ExidTaken = "EXID_TAKEN",
    ExpiryMismatch = "EXPIRY_MISMATCH",
    Forbidden = "FORBIDDEN",
    Internal = "INTERNAL",
    InvalidBin = "INVALID_BIN",
    InvalidCaptureTime = "INVALID_CAPTURE_TIME",
    InvalidCertificateChain = "INVALID_CERTIFICATE_CHAIN",
    InvalidCard = "INVALID_CARD",
    InvalidCardBrand = "INVALID_CARD_BRAND",
    InvalidCardExpiry = "INVALID_CARD_EXPIRY",
    InvalidCardHolderEmail = "INVALID_CARD_HOLDER_EMAIL",
    InvalidCardHolderName = "INVALID_CARD_HOLDER_NAME",
    InvalidCardNumber = "INVALID_CARD_NUMBER",
    InvalidCursor = "INVALID_CURSOR",
    InvalidCvv = "INVALID_CVV",
    InvalidCvv2 = "INVALID_CVV2",
    InvalidEncryptedCard = "INVALID_ENCRYPTED_CARD",
    InvalidExid = "INVALID_EXID",
    InvalidNonce = "INVALID_NONCE",
    InvalidNonceSignature = "INVALID_NONCE_SIGNATURE",
    InvalidPageSize = "INVALID_PAGE_SIZE",
    InvalidPan = "INVALID_PAN",
    InvalidPin = "INVALID_PIN",
    InvalidPinBlock = "INVALID_PIN_BLOCK",
    InvalidRequest = "INVALID_REQUEST",
    InvalidSchemeTokenAction = "INVALID_SCHEME_TOKEN_ACTION",
    InvalidScope = "INVALID_SCOPE",
    InvalidSessionId = "INVALID_SESSION_ID",
    InvalidSessionKey = "INVALID_SESSION_KEY",
    InvalidTokenExpiryDate = "INVALID_TOKEN_EXPIRY_DATE",
    InvalidTokenId = "INVALID_TOKEN_ID",
    InvalidTokenScope = "INVALID_TOKEN_SCOPE",
    KeyAliasMismatch = "KEY_ALIAS_MISMATCH",
    MethodNotAllowed = "METHOD_NOT_ALLOWED",
    NotFound = "NOT_FOUND",
    NotReady = "NOT_READY",
    NoExpiry = "NO_EXPIRY",
    PayloadTooLarge = "PAYLOAD_TOO_LARGE",
    PinBlocked = "PIN_BLOCKED",
    PinNotSet = "PIN_NOT_SET",
    RateLimited = "RATE_LIMITED",
    Timeout = "TIMEOUT",
    TokenExpired = "TOKEN_EXPIRED",
    TokenNotFound = "TOKEN_NOT_FOUND",
    TokenSuspended = "TOKEN_SUSPENDED",
    Unauthorized = "UNAUTHORIZED",
    UndecryptableValue = "UNDECRYPTABLE_VALUE",
    UnknownKeyAlias = "UNKNOWN_KEY_ALIAS",
    UnknownTarget = "UNKNOWN_TARGET",
    UnknownTenant = "UNKNOWN_TENANT",
    UnsupportedEncryption = "UNSUPPORTED_ENCRYPTION",
    UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE",
    UnsupportedReuseTokenType = "UNSUPPORTED_REUSE_TOKEN_TYPE",
    UnsupportedTokenType = "UNSUPPORTED_TOKEN_TYPE",
    UntrustedCertificateChain = "UNTRUSTED_CERTIFICATE_CHAIN",
    V1NotEnabled = "V1_NOT_ENABLED",
    WalletNotConfigured = "WALLET_NOT_CONFIGURED",
    WeakPin = "WEAK_PIN",
    MissingCaptureTime = "MISSING_CAPTURE_TIME",
    MissingCardNumber = "MISSING_CARD_NUMBER",
    UnknownCardTag = "UNKNOWN_CARD_TAG",
    CardBrandMismatch = "CARD_BRAND_MISMATCH",
}

/// What a PaySecure operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A missing or malformed field, or a value of the wrong form.
    #[error("{message}")]
    BadRequest {
        /// The stable code, e.g. [`Code::InvalidPan`].
        code: Code,
        /// Human-readable explanation (never contains input values).
        message: &'static str,
    },
    /// The session id could not be used: bad base64, wrong size, bad
    /// padding, unknown key id, or already used. Deliberately one variant.
    #[error("invalid session id")]
    InvalidSession,
    /// An encrypted value in the request did not decrypt (or, in V1, did not
    /// decrypt to what was expected). Deliberately one variant.
    #[error("an encrypted value could not be decrypted")]
    UndecryptableValue,
    /// No or unknown credential.
    #[error("missing or invalid credentials")]
    Unauthenticated,
    /// The credential may not do this (tenant-only call, scope, other card).
    #[error("{0}")]
    Forbidden(&'static str),
    /// No such card for this tenant.
    #[error("card not found")]
    CardNotFound,
    /// No such stored token (Verifone reuse token) for this tenant.
    #[error("token not found")]
    TokenNotFound,
    /// A state conflict, e.g. no PIN set.
    #[error("{message}")]
    Conflict {
        /// The stable code, e.g. [`Code::PinNotSet`].
        code: Code,
        /// Explanation.
        message: &'static str,
    },
    /// Too many wrong PINs: blocked until unblocked.
    #[error("the PIN is blocked after too many wrong attempts")]
    PinBlocked,
    /// Too many consecutive wrong CVV2s: CVV2 verification of the card is
    /// blocked until the tenant unblocks it.
    #[error("CVV2 verification is blocked after too many wrong attempts")]
    Cvv2Blocked,
    /// A request-rate limit (per credential or per card) is exhausted.
    #[error("too many requests")]
    RateLimited {
        /// Seconds to wait before retrying (`Retry-After`).
        retry_after: u64,
    },
    /// The storage layer failed.
    #[error("storage error")]
    Storage(#[from] StorageError),
    /// A server-side cryptographic failure (vault, key ring): a bug or
    /// corrupted data, never a client mistake.
    #[error("internal cryptographic failure: {0}")]
    Crypto(&'static str),
}

impl Error {
    /// A 400 with a code.
    pub fn bad_request(code: Code, message: &'static str) -> Self {
        Error::BadRequest { code, message }
    }
}

impl From<crate::crypto::Error> for Error {
    fn from(e: crate::crypto::Error) -> Self {
        match e {
            crate::crypto::Error::InvalidSession => Error::InvalidSession,
            crate::crypto::Error::UndecryptableValue => Error::UndecryptableValue,
            crate::crypto::Error::Internal(what) => Error::Crypto(what),
        }
    }
}

impl From<crate::util::ids::NoRandomness> for Error {
    fn from(_: crate::util::ids::NoRandomness) -> Self {
        Error::Crypto("no randomness")
    }
}

/// A request of an API with error answers of its own failed: `Api` is
/// answered in that API's format (the Paythru API's `errorCode`, the account
/// API's envelope); `Internal` is logged and answered as that API's 500.
#[derive(Debug)]
pub enum Failure<E> {
    /// An error the API answers as such.
    Api(E),
    /// Storage, vault or key ring: a bug or an outage, never the caller's.
    Internal(Error),
}

impl<E> From<Error> for Failure<E> {
    fn from(e: Error) -> Self {
        Failure::Internal(e)
    }
}

impl<E> From<crate::crypto::Error> for Failure<E> {
    fn from(e: crate::crypto::Error) -> Self {
        Failure::Internal(e.into())
    }
}

impl<E> From<crate::util::ids::NoRandomness> for Failure<E> {
    fn from(e: crate::util::ids::NoRandomness) -> Self {
        Failure::Internal(e.into())
    }
}

impl<E> From<StorageError> for Failure<E> {
    fn from(e: StorageError) -> Self {
        Failure::Internal(e.into())
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
