//! The issuer's RSA key pairs: created on first start, private keys sealed
//! by the vault, rotation keeping the previous key decrypting until retired.
//!
//! Session ids are unwrapped with AWS-LC (constant-time RSA), never with the
//! RustCrypto `rsa` crate (RUSTSEC-2023-0071). Every way a session id can be
//! bad gives the same [`Error::InvalidSession`].

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::{
    KeySize, OaepPrivateDecryptingKey, Pkcs1PrivateDecryptingKey, PrivateDecryptingKey,
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256,
};
use paysecure_wasm::{PublicKey, SessionKey, Version};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::storage::{RsaKeyRow, Storage};
use crate::vault::{Binding, Vault};

/// How long a key is published as valid (informational `expiresAt`).
pub const KEY_LIFETIME_SECS: i64 = 365 * 24 * 3600;

fn binding(key_id: &str) -> Binding<'_> {
    Binding {
        tenant: "-",
        subject: key_id,
        field: "rsa_private_key",
    }
}

/// One usable key pair.
pub struct LoadedKey {
    /// Key id.
    pub key_id: String,
    /// `active` or `previous`.
    pub status: String,
    /// SPKI DER.
    pub public_spki: Vec<u8>,
    /// Parsed public key (for PEM/JWK output).
    pub public: PublicKey,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    oaep: OaepPrivateDecryptingKey,
    pkcs1: Pkcs1PrivateDecryptingKey,
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
    fn from_row(row: &RsaKeyRow, vault: &Vault) -> Result<Self> {
        let der = vault.open(binding(&row.key_id), &row.private_sealed)?;
        let load = || {
            PrivateDecryptingKey::from_pkcs8(&der)
                .map_err(|_| Error::Crypto("stored RSA key is invalid"))
        };
        let oaep = OaepPrivateDecryptingKey::new(load()?)
            .map_err(|_| Error::Crypto("RSA key unusable for OAEP"))?;
        let pkcs1 = Pkcs1PrivateDecryptingKey::new(load()?)
            .map_err(|_| Error::Crypto("RSA key unusable"))?;
        let public = PublicKey::from_der(&row.public_spki)
            .map_err(|_| Error::Crypto("stored public key is invalid"))?;
        Ok(LoadedKey {
            key_id: row.key_id.clone(),
            status: row.status.clone(),
            public_spki: row.public_spki.clone(),
            public,
            created_at: row.created_at,
            expires_at: row.expires_at,
            oaep,
            pkcs1,
        })
    }

    /// The public key as SPKI PEM.
    pub fn public_pem(&self) -> String {
        let b64 = paysecure_wasm::encoding::encode(&self.public_spki);
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(chunk));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }

    /// RSA decryption of a session id's bytes, for `version`'s padding.
    fn decrypt(&self, ciphertext: &[u8], version: Version) -> Option<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(vec![0u8; self.oaep.key_size_bytes()]);
        let len = match version {
            Version::V1 => self.pkcs1.decrypt(ciphertext, &mut out).ok()?.len(),
            Version::V2 | Version::V3 => self
                .oaep
                .decrypt(&OAEP_SHA1_MGF1SHA1, ciphertext, &mut out, None)
                .ok()?
                .len(),
        };
        out.truncate(len);
        Some(out)
    }
}

/// The keys that decrypt session ids: the active one first.
#[derive(Debug)]
pub struct KeyRing {
    keys: Vec<LoadedKey>,
}

impl KeyRing {
    /// Loads the usable keys, creating the first key pair if there is none.
    pub async fn load_or_create(storage: &Storage, vault: &Vault, now: i64) -> Result<Self> {
        let mut rows = storage.usable_rsa_keys().await?;
        if !rows.iter().any(|r| r.status == "active") {
            let row = generate(vault, now)?;
            match storage.rotate_in_rsa_key(&row, now).await {
                // Another node created the first key at the same moment.
                Ok(()) | Err(crate::storage::StorageError::Duplicate) => {}
                Err(e) => return Err(e.into()),
            }
            rows = storage.usable_rsa_keys().await?;
        }
        let keys = rows
            .iter()
            .map(|r| LoadedKey::from_row(r, vault))
            .collect::<Result<Vec<_>>>()?;
        Ok(KeyRing { keys })
    }

    /// The key new sessions should use.
    pub fn active(&self) -> Result<&LoadedKey> {
        self.keys.first().ok_or(Error::Crypto("no active RSA key"))
    }

    /// All usable keys, active first.
    pub fn keys(&self) -> &[LoadedKey] {
        &self.keys
    }

    /// Unwraps the content key of a captured card's JWE (`RSA-OAEP-256`)
    /// with the usable key named `kid`. `None` if there is no such usable
    /// key (unknown or retired); `Some(Err)` if it does not decrypt to a
    /// 256-bit key, one opaque error.
    pub fn unwrap_content_key(
        &self,
        kid: &str,
        encrypted_key: &[u8],
    ) -> Option<Result<SessionKey>> {
        let key = self.keys.iter().find(|k| k.key_id == kid)?;
        let mut out = Zeroizing::new(vec![0u8; key.oaep.key_size_bytes()]);
        let opened = key
            .oaep
            .decrypt(&OAEP_SHA256_MGF1SHA256, encrypted_key, &mut out, None)
            .ok()
            .and_then(|plain| (plain.len() == 32).then(|| SessionKey::from_bytes(plain)))
            .and_then(|k| k.ok());
        Some(opened.ok_or(Error::UndecryptableValue))
    }

    /// Unwraps a session id to its session key. With `key_id`, only that key
    /// is tried; otherwise the active key, then the previous one. Returns the
    /// session key and the id of the key that opened it.
    pub fn unwrap_session_id(
        &self,
        session_id: &str,
        key_id: Option<&str>,
        version: Version,
    ) -> Result<(SessionKey, String)> {
        let ciphertext = paysecure_wasm::encoding::decode(session_id, "session id")
            .map_err(|_| Error::InvalidSession)?;
        let candidates = self
            .keys
            .iter()
            .filter(|k| key_id.is_none_or(|id| id == k.key_id));
        for key in candidates {
            if ciphertext.len() != key.oaep.key_size_bytes() {
                continue;
            }
            if let Some(plain) = key.decrypt(&ciphertext, version) {
                if let Ok(session_key) = SessionKey::from_session_id_plaintext(&plain) {
                    return Ok((session_key, key.key_id.clone()));
                }
            }
        }
        Err(Error::InvalidSession)
    }
}

/// Makes a new RSA-2048 key pair row (private key sealed).
pub fn generate(vault: &Vault, now: i64) -> Result<RsaKeyRow> {
    let private = PrivateDecryptingKey::generate(KeySize::Rsa2048)
        .map_err(|_| Error::Crypto("RSA key generation failed"))?;
    let pkcs8 = AsDer::<Pkcs8V1Der>::as_der(&private)
        .map_err(|_| Error::Crypto("RSA key export failed"))?;
    let spki = AsDer::<PublicKeyX509Der>::as_der(&private.public_key())
        .map_err(|_| Error::Crypto("RSA key export failed"))?;
    let mut id = [0u8; 8];
    aws_lc_rs::rand::fill(&mut id).map_err(|_| Error::Crypto("no randomness"))?;
    let key_id = format!("rsa-{}", hex_lower(&id));
    let private_sealed = vault.seal(binding(&key_id), pkcs8.as_ref())?;
    Ok(RsaKeyRow {
        key_id,
        status: "active".into(),
        public_spki: spki.as_ref().to_vec(),
        private_sealed,
        created_at: now,
        expires_at: now + KEY_LIFETIME_SECS,
    })
}

/// Rotates: a new active key; the old active key keeps decrypting as
/// `previous`; the key before it retires. Returns the new key id.
pub async fn rotate(storage: &Storage, vault: &Vault, now: i64) -> Result<String> {
    let row = generate(vault, now)?;
    storage.rotate_in_rsa_key(&row, now).await?;
    Ok(row.key_id)
}

pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
