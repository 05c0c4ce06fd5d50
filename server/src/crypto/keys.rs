//! The issuer's RSA key pairs: created on first start, private keys sealed
//! by the vault, one set per [`Purpose`], rotation keeping the previous key
//! decrypting for an overlap window, revocation, enforced expiry.
//!
//! The private keys live in the key custody ([`super::custody`]): sealed
//! by the vault and used with AWS-LC (constant-time RSA, never the
//! RustCrypto `rsa` crate, RUSTSEC-2023-0071), or inside a PKCS#11 token.
//! Every way a session id can be bad gives the same
//! [`Error::InvalidSession`]. V1 (PKCS#1 v1.5) session
//! ids use keys of their own and implicit rejection: a bad padding unwraps
//! to a synthetic key instead of failing, so there is no padding oracle.

use paysecure_core::{PublicKey, SessionKey};

use super::custody::{KeyCustody, RsaPadding, RsaPrivateKey};
use super::vault::Vault;
use super::{Error, Result};
use crate::util::ids::random_id;
use crate::util::time::UnixTime;
use zeroize::Zeroizing;

/// What a key pair is for. Keys are never shared between purposes: a
/// PKCS#1 v1.5 decryption oracle on a key lets an attacker invert RSA on it
/// (Bleichenbacher), which would open every OAEP session id made for the
/// same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// V2/V3 session ids (RSA-OAEP SHA-1). Published at `/v2/public-key`.
    Session,
    /// V1 session ids (RSAES-PKCS1-v1_5). Created when the first tenant
    /// enables V1; published at `/v1/public-key`.
    V1,
    /// JWE card captures (`RSA-OAEP-256`): the Verifone encrypted card and
    /// the Paythru Client POST capture. A key of its own, so one RSA key is
    /// never used under two paddings/hashes (NIST SP 800-57: one key, one
    /// purpose). Published at `/v2/capture-key`.
    Capture,
}

impl Purpose {
    /// Every purpose.
    pub const ALL: [Purpose; 3] = [Purpose::Session, Purpose::V1, Purpose::Capture];

    /// The name stored in `rsa_keys.purpose`.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Session => "session",
            Purpose::V1 => "v1",
            Purpose::Capture => "capture",
        }
    }

    /// The purpose stored as `name` (`None` for an unknown one).
    pub fn of(name: &str) -> Option<Self> {
        Purpose::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// How long a key decrypts: it is published with this `expiresAt`, and no
/// session id opens with it afterwards. Housekeeping rotates the active key
/// [`ROTATION_OVERLAP_SECS`] before it expires.
pub const KEY_LIFETIME_SECS: i64 = 365 * 24 * 3600;
/// How long a rotated-out key keeps decrypting (clients holding the old
/// public key finish their sessions), at most until its own expiry.
pub const ROTATION_OVERLAP_SECS: i64 = 24 * 3600;

/// One usable key pair.
pub struct LoadedKey {
    /// `rsa-` and 16 hex digits.
    pub key_id: String,
    /// What the key is for.
    pub purpose: Purpose,
    /// `active` or `previous`.
    pub status: String,
    /// SPKI DER.
    pub public_spki: Vec<u8>,
    /// Parsed public key (for PEM/JWK output).
    pub public: PublicKey,
    /// When the row was written.
    pub created_at: UnixTime,
    /// When it stops being accepted.
    pub expires_at: UnixTime,
    private: Box<dyn RsaPrivateKey>,
}

impl std::fmt::Debug for LoadedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "LoadedKey({}, {}, <private key redacted>)",
            self.key_id, self.status
        )
    }
}

impl LoadedKey {
    fn from_row(row: &KeyRecord, vault: &Vault, custody: &dyn KeyCustody) -> Result<Self> {
        let private = custody.load_rsa(vault, &row.key_id, &row.private_sealed)?;
        let public = PublicKey::from_der(&row.public_spki)
            .map_err(|_| Error::Internal("stored public key is invalid"))?;
        let purpose = Purpose::of(&row.purpose).ok_or(Error::Internal("unknown key purpose"))?;
        Ok(LoadedKey {
            key_id: row.key_id.clone(),
            purpose,
            status: row.status.clone(),
            public_spki: row.public_spki.clone(),
            public,
            created_at: row.created_at,
            expires_at: row.expires_at,
            private,
        })
    }

    /// The public key as SPKI PEM.
    pub fn public_pem(&self) -> String {
        let b64 = paysecure_core::encoding::encode(&self.public_spki);
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(chunk));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }

    /// RSA-OAEP (SHA-1) decryption of a V2/V3 session id.
    fn decrypt_oaep(&self, ciphertext: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        self.private.decrypt(RsaPadding::OaepSha1, ciphertext)
    }

    /// PKCS#1 v1.5 decryption of a V1 session id to a session key, with
    /// implicit rejection: a ciphertext that does not decrypt to a session
    /// key (bad padding, or a plaintext that is no key) gives a synthetic
    /// AES-256 key derived from the ciphertext instead. Both are always
    /// computed. The flag (whether the key is real) stays inside the ring.
    fn decrypt_v1(&self, ciphertext: &[u8], vault: &Vault) -> Result<(SessionKey, bool)> {
        let synthetic = vault.implicit_rejection(&self.key_id, ciphertext);
        let synthetic = SessionKey::from_bytes(&synthetic[..32])
            .map_err(|_| Error::Internal("implicit rejection key"))?;
        let real = self
            .private
            .decrypt(RsaPadding::Pkcs1v15, ciphertext)
            .and_then(|plain| SessionKey::from_session_id_plaintext(&plain).ok());
        Ok(match real {
            Some(key) => (key, true),
            None => (synthetic, false),
        })
    }
}

/// An RSA key pair as stored (the `rsa_keys` table): what the key ring
/// loads and what [`generate`] makes. The domain moves it between the
/// database and the ring.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    /// `rsa-` and 16 hex digits.
    pub key_id: String,
    /// [`Purpose::as_str`] of the key.
    pub purpose: String,
    /// `active`, `previous` or `retired`.
    pub status: String,
    /// SubjectPublicKeyInfo DER.
    pub public_spki: Vec<u8>,
    /// What the key custody stores for the private key: the PKCS#8 DER
    /// sealed by the vault (bound to the key id), or `pkcs11:` and the key
    /// id of a key held in a PKCS#11 token.
    pub private_sealed: Vec<u8>,
    /// When the row was written.
    pub created_at: UnixTime,
    /// After this no session id or capture opens with it.
    pub expires_at: UnixTime,
    /// When `keys revoke` retired it.
    pub revoked_at: Option<UnixTime>,
}

/// The keys that decrypt: per purpose, the active one first.
#[derive(Debug)]
pub struct KeyRing {
    keys: Vec<LoadedKey>,
}

impl KeyRing {
    /// The ring of these stored keys (the usable ones, as the domain read
    /// them), each private key loaded by the key custody.
    pub fn from_records(
        records: &[KeyRecord],
        vault: &Vault,
        custody: &dyn KeyCustody,
    ) -> Result<Self> {
        let keys = records
            .iter()
            .map(|r| LoadedKey::from_row(r, vault, custody))
            .collect::<Result<Vec<_>>>()?;
        Ok(KeyRing { keys })
    }

    /// The key new sessions of `purpose` should use.
    pub fn active(&self, purpose: Purpose) -> Result<&LoadedKey> {
        self.keys
            .iter()
            .find(|k| k.purpose == purpose && k.status == "active")
            .ok_or(Error::Internal("no active RSA key"))
    }

    /// Whether there is an active key for `purpose`.
    pub fn has_active(&self, purpose: Purpose) -> bool {
        self.active(purpose).is_ok()
    }

    /// All usable keys, active first.
    pub fn keys(&self) -> &[LoadedKey] {
        &self.keys
    }

    /// Whether a usable key has this id.
    pub fn knows(&self, key_id: &str) -> bool {
        self.keys.iter().any(|k| k.key_id == key_id)
    }

    fn candidates<'a>(
        &'a self,
        purpose: Purpose,
        key_id: Option<&'a str>,
        ciphertext_len: usize,
    ) -> impl Iterator<Item = &'a LoadedKey> + 'a {
        self.keys.iter().filter(move |k| {
            k.purpose == purpose
                && key_id.is_none_or(|id| id == k.key_id)
                && k.private.size_bytes() == ciphertext_len
        })
    }

    /// Unwraps the content key of a captured card's JWE (`RSA-OAEP-256`)
    /// with the usable capture key named `kid`. `None` if there is no such
    /// usable capture key (unknown, retired, revoked, expired, or a key of
    /// another purpose: a session key's id is refused exactly like an
    /// unknown one); `Some(Err)` if it does not decrypt to a 256-bit key,
    /// one opaque error.
    pub fn unwrap_content_key(
        &self,
        kid: &str,
        encrypted_key: &[u8],
    ) -> Option<Result<SessionKey>> {
        let key = self
            .keys
            .iter()
            .find(|k| k.key_id == kid && k.purpose == Purpose::Capture)?;
        let opened = key
            .private
            .decrypt(RsaPadding::OaepSha256, encrypted_key)
            .and_then(|plain| (plain.len() == 32).then(|| SessionKey::from_bytes(&plain)))
            .and_then(|k| k.ok());
        Some(opened.ok_or(Error::UndecryptableValue))
    }

    /// Unwraps a V2/V3 session id (its bytes) to its session key with the
    /// session keys (only `key_id` when given; else the active key, then
    /// the previous one). Returns the key and the id of the RSA key.
    pub fn unwrap_oaep(
        &self,
        ciphertext: &[u8],
        key_id: Option<&str>,
    ) -> Result<(SessionKey, String)> {
        for key in self.candidates(Purpose::Session, key_id, ciphertext.len()) {
            if let Some(plain) = key.decrypt_oaep(ciphertext) {
                if let Ok(session_key) = SessionKey::from_session_id_plaintext(&plain) {
                    return Ok((session_key, key.key_id.clone()));
                }
            }
        }
        Err(Error::InvalidSession)
    }

    /// Unwraps a V1 session id with the V1 keys (only `key_id` when given).
    /// Every candidate key is tried (the work does not depend on which one
    /// decrypts); the first real key wins, else the first key's synthetic
    /// key. Fails only when no V1 key has this id and length: public facts.
    pub fn unwrap_v1(
        &self,
        ciphertext: &[u8],
        key_id: Option<&str>,
        vault: &Vault,
    ) -> Result<(SessionKey, String)> {
        let mut first: Option<(SessionKey, String)> = None;
        let mut real: Option<(SessionKey, String)> = None;
        for key in self.candidates(Purpose::V1, key_id, ciphertext.len()) {
            let (opened, is_real) = key.decrypt_v1(ciphertext, vault)?;
            if real.is_none() && is_real {
                real = Some((opened, key.key_id.clone()));
            } else if first.is_none() {
                first = Some((opened, key.key_id.clone()));
            }
        }
        real.or(first).ok_or(Error::InvalidSession)
    }
}

/// Makes a new RSA-2048 key pair row for `purpose`, its private key made
/// and kept by the key custody.
pub fn generate(
    vault: &Vault,
    custody: &dyn KeyCustody,
    purpose: Purpose,
    now: UnixTime,
) -> Result<KeyRecord> {
    let key_id = random_id::<8>("rsa-")?;
    let new = custody.generate_rsa(vault, &key_id, purpose)?;
    Ok(KeyRecord {
        key_id,
        purpose: purpose.as_str().to_owned(),
        status: "active".into(),
        public_spki: new.public_spki,
        private_sealed: new.private_stored,
        created_at: now,
        expires_at: now + KEY_LIFETIME_SECS,
        revoked_at: None,
    })
}
