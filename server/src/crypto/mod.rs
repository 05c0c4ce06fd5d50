//! Server-side cryptography: the vault that seals stored secrets
//! ([`vault`]), the issuer's RSA key ring ([`keys`]) and the CVV2 algorithm
//! ([`cvv`]), wallet provisioning ([`wallet`]), and the key custody
//! ([`custody`]: software or PKCS#11) that holds the private and PIN keys.
//! Nothing here reads the database: the domain loads the rows
//! and hands them over.

pub mod custody;
pub mod cvv;
pub mod keys;
pub mod vault;
pub mod wallet;

/// What the vault and the key ring fail with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A session id did not unwrap with any usable key. Deliberately one
    /// variant for every cause (base64, size, padding, key id).
    #[error("invalid session id")]
    InvalidSession,
    /// A captured card's content key did not unwrap.
    #[error("an encrypted value could not be decrypted")]
    UndecryptableValue,
    /// A bug or corrupted data (a sealed value that does not open, a stored
    /// key that does not load), never a client mistake.
    #[error("internal cryptographic failure: {0}")]
    Internal(&'static str),
}

impl From<crate::util::ids::NoRandomness> for Error {
    fn from(_: crate::util::ids::NoRandomness) -> Self {
        Error::Internal("no randomness")
    }
}

/// The result of a cryptographic operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;
