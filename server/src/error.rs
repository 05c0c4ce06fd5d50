//! The domain's error type. The HTTP layer maps each variant to a status and
//! a stable code (`crate::api::ApiError`); nothing here carries secrets.

use crate::storage::StorageError;

/// What a PaySecure operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A missing or malformed field, or a value of the wrong form.
    #[error("{message}")]
    BadRequest {
        /// Stable code, e.g. `INVALID_PAN`.
        code: &'static str,
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
        /// Stable code.
        code: &'static str,
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
    pub fn bad_request(code: &'static str, message: &'static str) -> Self {
        Error::BadRequest { code, message }
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
