//! The key-custody boundary: where the issuer's private and PIN keys live
//! and where the operations on them run.
//!
//! One trait, [`KeyCustody`], two implementations chosen by configuration
//! (`--key-custody`):
//!
//! - [`software::SoftwareCustody`] (the default, the demo's): RSA private
//!   keys as PKCS#8 sealed by the vault in `rsa_keys.private_sealed`,
//!   decrypted in process with AWS-LC; the PIN key an AES-256 key sealed by
//!   the vault in `custody_keys`.
//! - [`pkcs11::Pkcs11Custody`]: an HSM through PKCS#11 (SoftHSM2 in tests).
//!   RSA key pairs are generated inside the token (`CKA_SENSITIVE`,
//!   not `CKA_EXTRACTABLE`); `rsa_keys.private_sealed` then holds only a
//!   reference (`pkcs11:` and the object's `CKA_ID`); RSA-OAEP (SHA-1 and
//!   SHA-256) and PKCS#1 v1.5 decryption run in the token. The PIN key is
//!   an AES-256 key in the token; format-4 PIN blocks are made and opened
//!   with AES-ECB on single blocks inside it. A key-encryption key (AES-256,
//!   wrap/unwrap only) in the token wraps the vault's master key, which the
//!   database then holds only wrapped ([`KeyWrapper`]; the domain records
//!   it, `domain::custody::open_token_vault`).
//!
//! The domain never sees which one it has: it asks for a key pair, a
//! decryption, a PIN cipher.

mod oaep;
pub mod pkcs11;
pub mod software;

use paysecure_core::pin_block4::PinCipher;
use zeroize::Zeroizing;

use super::cvv::{CvkCipher, CvkPair};
use super::keys::Purpose;
use super::vault::{Binding, Vault};
use super::Result;

/// Which custody a server runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustodyKind {
    /// Keys sealed by the vault, operations in process.
    Software,
    /// Keys inside a PKCS#11 token, operations in the token.
    Pkcs11,
}

impl CustodyKind {
    /// The name used in configuration and stored in `custody_keys.custody`.
    pub fn as_str(self) -> &'static str {
        match self {
            CustodyKind::Software => "software",
            CustodyKind::Pkcs11 => "pkcs11",
        }
    }
}

/// The RSA decryptions the protocols need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaPadding {
    /// RSA-OAEP, SHA-1, MGF1-SHA-1, empty label: V2/V3 session ids.
    OaepSha1,
    /// RSA-OAEP-256 (SHA-256, MGF1-SHA-256): JWE card captures.
    OaepSha256,
    /// RSAES-PKCS1-v1_5: V1 session ids (the caller adds implicit
    /// rejection).
    Pkcs1v15,
}

/// One RSA private key, wherever it lives.
pub trait RsaPrivateKey: Send + Sync {
    /// The modulus length in bytes.
    fn size_bytes(&self) -> usize;
    /// Decrypts `ciphertext`; `None` for every failure (one opaque result).
    fn decrypt(&self, padding: RsaPadding, ciphertext: &[u8]) -> Option<Zeroizing<Vec<u8>>>;
}

/// A new key pair: its public key, and what `rsa_keys.private_sealed`
/// stores for it (the sealed private key, or a reference into the token).
pub struct NewRsaKey {
    /// SubjectPublicKeyInfo DER.
    pub public_spki: Vec<u8>,
    /// What the custody needs to load the private key again.
    pub private_stored: Vec<u8>,
}

/// The PIN key (format-4 PIN blocks) as the domain uses it.
pub type PinKey = Box<dyn PinCipher + Send + Sync>;

/// A key-encryption key held by the custody (the token's KEK): wraps and
/// unwraps the secret keys the process itself must use (envelope
/// encryption), so the database holds them only wrapped.
pub trait KeyWrapper: Send + Sync {
    /// Wraps `secret` (a multiple of 8 bytes, at least 16) under the KEK.
    fn wrap(&self, secret: &[u8]) -> Result<Vec<u8>>;
    /// Unwraps a value made by [`KeyWrapper::wrap`]; an error if it was
    /// wrapped under another KEK or altered (the wrap's integrity check).
    fn unwrap(&self, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>>;
}

/// The KEK as the domain uses it.
pub type Kek = Box<dyn KeyWrapper>;

/// A tenant's CVK pair as the domain uses it (CVV2).
pub type Cvk = Box<dyn CvkCipher + Send + Sync>;

/// Where the keys are and what runs where. See the module documentation.
pub trait KeyCustody: Send + Sync + std::fmt::Debug {
    /// Which implementation this is.
    fn kind(&self) -> CustodyKind;

    /// Generates an RSA-2048 key pair for `purpose`, named `key_id`.
    fn generate_rsa(&self, vault: &Vault, key_id: &str, purpose: Purpose) -> Result<NewRsaKey>;

    /// Loads the private key of a stored key pair.
    fn load_rsa(
        &self,
        vault: &Vault,
        key_id: &str,
        stored: &[u8],
    ) -> Result<Box<dyn RsaPrivateKey>>;

    /// Destroys a revoked key pair where the custody can (the token's
    /// objects); the software custody keeps nothing outside the row.
    fn destroy_rsa(&self, key_id: &str) -> Result<()>;

    /// Makes a new PIN key; returns what `custody_keys.reference` stores.
    fn generate_pin_key(&self, vault: &Vault) -> Result<Vec<u8>>;

    /// Loads the PIN key from its stored reference.
    fn load_pin_key(&self, vault: &Vault, stored: &[u8]) -> Result<PinKey>;

    /// Discards a PIN key made by [`Self::generate_pin_key`] that lost the
    /// race to be recorded (another node recorded its own first).
    fn discard_pin_key(&self, stored: &[u8]) -> Result<()>;

    /// Stores a tenant's CVK pair; returns what `tenants.cvk_sealed` holds:
    /// the pair sealed by the vault under `binding` (software), or a
    /// reference to key objects in the token (PKCS#11).
    fn store_cvk(&self, vault: &Vault, binding: Binding<'_>, cvk: &CvkPair) -> Result<Vec<u8>>;

    /// Loads a tenant's CVK pair from what [`Self::store_cvk`] returned (a
    /// pair sealed by the vault is read by every custody: tenants made
    /// before the CVKs moved into the token).
    fn load_cvk(&self, vault: &Vault, binding: Binding<'_>, stored: &[u8]) -> Result<Cvk> {
        if stored.starts_with(pkcs11::STORED_PREFIX) {
            return Err(super::Error::Internal(
                "this CVK is held in a PKCS#11 token: start the server with --key-custody pkcs11",
            ));
        }
        Ok(Box::new(open_sealed_cvk(vault, binding, stored)?))
    }

    /// Discards a CVK pair stored by [`Self::store_cvk`] that was never
    /// recorded (the tenant's row was not written).
    fn discard_cvk(&self, _stored: &[u8]) -> Result<()> {
        Ok(())
    }

    /// Makes a new key-encryption key; returns what
    /// `custody_keys.reference` stores. Only a custody that keeps keys
    /// apart from the process has one (the software custody: an error).
    fn generate_kek(&self) -> Result<Vec<u8>> {
        Err(super::Error::Internal(
            "this key custody holds no key-encryption key",
        ))
    }

    /// Loads the key-encryption key from its stored reference.
    fn load_kek(&self, _stored: &[u8]) -> Result<Kek> {
        Err(super::Error::Internal(
            "this key custody holds no key-encryption key",
        ))
    }

    /// Discards a KEK made by [`Self::generate_kek`] that lost the race to
    /// be recorded.
    fn discard_kek(&self, _stored: &[u8]) -> Result<()> {
        Ok(())
    }
}

/// A CVK pair sealed by the vault (the software custody's form), opened.
pub fn open_sealed_cvk(vault: &Vault, binding: Binding<'_>, sealed: &[u8]) -> Result<CvkPair> {
    let raw = vault.open(binding, sealed)?;
    CvkPair::from_bytes(&raw).map_err(|_| super::Error::Internal("stored CVK is invalid"))
}
