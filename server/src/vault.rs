//! The card vault's cryptography: a 256-bit master key, and from it (HKDF-SHA256)
//! an AES-256-GCM sealing key and an HMAC-SHA256 key for PAN look-ups.
//!
//! Every sealed value is bound by its AAD to the tenant, the subject (card
//! token, key id) and the field it belongs to, so a value copied into another
//! row or column does not open.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::{hkdf, hmac, rand};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Environment variable holding the base64 master key (overrides the file).
pub const MASTER_KEY_ENV: &str = "PAYSECURE_MASTER_KEY";
/// File in the data directory holding the base64 master key (mode 0600).
pub const MASTER_KEY_FILE: &str = "master.key";

/// What a sealed value belongs to.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    /// Tenant id, or `"-"` for server-wide values.
    pub tenant: &'a str,
    /// Card token, key id, ...
    pub subject: &'a str,
    /// Field name: `pan`, `pin_block`, `cvk`, `rsa_private_key`.
    pub field: &'a str,
}

impl Binding<'_> {
    fn aad(&self) -> Vec<u8> {
        let mut aad = b"paysecure-vault/v1".to_vec();
        for part in [self.tenant, self.subject, self.field] {
            aad.push(0);
            aad.extend_from_slice(part.as_bytes());
        }
        aad
    }
}

/// Where the master key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MasterKeySource {
    /// `PAYSECURE_MASTER_KEY`.
    Environment,
    /// An existing `master.key`.
    File,
    /// A `master.key` created now.
    Created,
}

/// The vault's keys. Never printed.
pub struct Vault {
    seal_key: LessSafeKey,
    pan_index_key: hmac::Key,
    analytics_key: hmac::Key,
    /// Fingerprints of unwrapped session and content keys (replay records).
    replay_key: hmac::Key,
    /// Root of the V1 implicit-rejection keys (one per RSA key).
    rejection_key: hmac::Key,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault(<redacted>)")
    }
}

fn derive(master: &[u8], info: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
    let mut out = Zeroizing::new([0u8; 32]);
    hkdf::Salt::new(hkdf::HKDF_SHA256, b"paysecure-vault-salt/v1")
        .extract(master)
        .expand(&[info], hkdf::HKDF_SHA256)
        .and_then(|okm| okm.fill(&mut out[..]))
        .map_err(|_| Error::Crypto("key derivation failed"))?;
    Ok(out)
}

impl Vault {
    /// The vault for a 32-byte master key.
    pub fn new(master: &[u8]) -> Result<Self> {
        if master.len() != 32 {
            return Err(Error::Crypto("the master key must be 32 bytes"));
        }
        let enc = derive(master, b"seal/aes-256-gcm")?;
        let mac = derive(master, b"pan-index/hmac-sha256")?;
        let analytics = derive(master, b"analytics-token/hmac-sha256")?;
        let replay = derive(master, b"replay-fingerprint/hmac-sha256")?;
        let rejection = derive(master, b"rsa-implicit-rejection/hmac-sha256")?;
        let unbound =
            UnboundKey::new(&AES_256_GCM, &enc[..]).map_err(|_| Error::Crypto("bad vault key"))?;
        Ok(Vault {
            seal_key: LessSafeKey::new(unbound),
            pan_index_key: hmac::Key::new(hmac::HMAC_SHA256, &mac[..]),
            analytics_key: hmac::Key::new(hmac::HMAC_SHA256, &analytics[..]),
            replay_key: hmac::Key::new(hmac::HMAC_SHA256, &replay[..]),
            rejection_key: hmac::Key::new(hmac::HMAC_SHA256, &rejection[..]),
        })
    }

    /// Reads the master key from `PAYSECURE_MASTER_KEY`, else from
    /// `<data_dir>/master.key`, creating that file (mode 0600) with a fresh
    /// random key on first start. Refuses a key file others can read.
    pub fn load_or_create(
        data_dir: &Path,
        env_value: Option<&str>,
    ) -> Result<(Self, MasterKeySource)> {
        if let Some(text) = env_value {
            let key = decode_master(text)?;
            return Ok((Vault::new(&key)?, MasterKeySource::Environment));
        }
        let path = data_dir.join(MASTER_KEY_FILE);
        match fs::read_to_string(&path) {
            Ok(text) => {
                let mode = fs::metadata(&path)
                    .map_err(|_| Error::Crypto("cannot stat the master key file"))?
                    .permissions()
                    .mode();
                if mode & 0o077 != 0 {
                    return Err(Error::Crypto(
                        "the master key file must not be readable by group or others (chmod 600)",
                    ));
                }
                let key = decode_master(&text)?;
                Ok((Vault::new(&key)?, MasterKeySource::File))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = Zeroizing::new([0u8; 32]);
                rand::fill(&mut key[..]).map_err(|_| Error::Crypto("no randomness"))?;
                let text = Zeroizing::new(paysecure_wasm::encoding::encode(&key[..]));
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                    .map_err(|_| Error::Crypto("cannot create the master key file"))?;
                file.write_all(text.as_bytes())
                    .and_then(|_| file.write_all(b"\n"))
                    .and_then(|_| file.sync_all())
                    .map_err(|_| Error::Crypto("cannot write the master key file"))?;
                Ok((Vault::new(&key[..])?, MasterKeySource::Created))
            }
            Err(_) => Err(Error::Crypto("cannot read the master key file")),
        }
    }

    /// Seals `plaintext`: `nonce (12) || ciphertext || tag (16)`.
    pub fn seal(&self, binding: Binding<'_>, plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce).map_err(|_| Error::Crypto("no randomness"))?;
        let mut buf = Zeroizing::new(plaintext.to_vec());
        self.seal_key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(binding.aad()),
                &mut *buf,
            )
            .map_err(|_| Error::Crypto("sealing failed"))?;
        let mut out = Vec::with_capacity(NONCE_LEN + buf.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Opens a sealed value; fails if it was sealed for another binding.
    pub fn open(&self, binding: Binding<'_>, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let (nonce, body) = sealed
            .split_at_checked(NONCE_LEN)
            .ok_or(Error::Crypto("sealed value too short"))?;
        let nonce =
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| Error::Crypto("bad nonce"))?;
        let mut buf = Zeroizing::new(body.to_vec());
        let len = self
            .seal_key
            .open_in_place(nonce, Aad::from(binding.aad()), &mut buf[..])
            .map_err(|_| Error::Crypto("a vault value failed authentication"))?
            .len();
        buf.truncate(len);
        Ok(buf)
    }

    /// The keyed look-up index of a PAN within a tenant (HMAC-SHA256).
    pub fn pan_index(&self, tenant: &str, pan: &str) -> Vec<u8> {
        let mut ctx = hmac::Context::with_key(&self.pan_index_key);
        ctx.update(tenant.as_bytes());
        ctx.update(&[0]);
        ctx.update(pan.as_bytes());
        ctx.sign().as_ref().to_vec()
    }
}

impl Vault {
    /// An irreversible, stable identifier of a card within a tenant and a
    /// token scope (HMAC-SHA256 under its own derived key, so it reveals
    /// nothing about the PAN index or any other scope's value).
    pub fn analytics_token(&self, tenant: &str, scope: &str, pan: &str) -> String {
        crate::keys::hex_lower(&self.keyed_mac(&[tenant, scope, pan]))
    }

    /// HMAC-SHA256 over the `parts`, each followed by a zero byte, under
    /// the analytics key: identifiers and verifiers that must never be
    /// reversible (callers put a domain name first).
    pub fn keyed_mac(&self, parts: &[&str]) -> Vec<u8> {
        let mut ctx = hmac::Context::with_key(&self.analytics_key);
        for part in parts {
            ctx.update(part.as_bytes());
            ctx.update(&[0]);
        }
        ctx.sign().as_ref().to_vec()
    }
}

impl Vault {
    /// The replay fingerprint of an unwrapped key: HMAC-SHA256 under a key
    /// of its own, over a domain name (`session-key`, `jwe-cek`) and the key
    /// bytes. Single use is enforced on this value, so every encoding of a
    /// session id, every RSA padding and every re-wrap of the same key maps
    /// to one record, and a database reader learns nothing about the key.
    pub fn replay_fingerprint(&self, domain: &str, key: &[u8]) -> Vec<u8> {
        let mut ctx = hmac::Context::with_key(&self.replay_key);
        ctx.update(domain.as_bytes());
        ctx.update(&[0]);
        ctx.update(key);
        ctx.sign().as_ref().to_vec()
    }

    /// The synthetic plaintext for a V1 (PKCS#1 v1.5) session id that does
    /// not decrypt: HMAC-SHA256 over the RSA key id and the ciphertext
    /// (implicit rejection, as in draft-irtf-cfrg-rsa-guidance). The same
    /// ciphertext always gives the same synthetic key, so a bad padding
    /// looks like a good one with an unknown key.
    pub fn implicit_rejection(&self, rsa_key_id: &str, ciphertext: &[u8]) -> Zeroizing<Vec<u8>> {
        let mut ctx = hmac::Context::with_key(&self.rejection_key);
        ctx.update(rsa_key_id.as_bytes());
        ctx.update(&[0]);
        ctx.update(ciphertext);
        Zeroizing::new(ctx.sign().as_ref().to_vec())
    }
}

fn decode_master(text: &str) -> Result<Zeroizing<Vec<u8>>> {
    let key = paysecure_wasm::encoding::decode(text, "master key")
        .map_err(|_| Error::Crypto("the master key is not base64"))?;
    if key.len() != 32 {
        return Err(Error::Crypto("the master key must be 32 bytes"));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> Vault {
        Vault::new(&[7u8; 32]).unwrap()
    }

    #[test]
    fn seal_open_round_trip_and_binding() {
        let v = vault();
        let b = Binding {
            tenant: "t1",
            subject: "tok_1",
            field: "pan",
        };
        let sealed = v.seal(b, b"4111111111111111").unwrap();
        assert_eq!(&v.open(b, &sealed).unwrap()[..], b"4111111111111111");
        assert!(!sealed.windows(4).any(|w| w == b"4111"));
        for other in [
            Binding { tenant: "t2", ..b },
            Binding {
                subject: "tok_2",
                ..b
            },
            Binding {
                field: "pin_block",
                ..b
            },
        ] {
            assert!(v.open(other, &sealed).is_err(), "{other:?}");
        }
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert!(v.open(b, &tampered).is_err());
        assert!(v.open(b, &sealed[..10]).is_err());
        assert!(Vault::new(&[8u8; 32]).unwrap().open(b, &sealed).is_err());
    }

    #[test]
    fn pan_index_is_keyed_and_tenant_scoped() {
        let v = vault();
        assert_eq!(
            v.pan_index("t1", "4111111111111111"),
            v.pan_index("t1", "4111111111111111")
        );
        assert_ne!(
            v.pan_index("t1", "4111111111111111"),
            v.pan_index("t2", "4111111111111111")
        );
        assert_ne!(
            v.pan_index("t1", "4111111111111111"),
            Vault::new(&[8u8; 32])
                .unwrap()
                .pan_index("t1", "4111111111111111")
        );
    }

    #[test]
    fn master_key_file_is_created_0600_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (v1, src) = Vault::load_or_create(dir.path(), None).unwrap();
        assert_eq!(src, MasterKeySource::Created);
        let mode = fs::metadata(dir.path().join(MASTER_KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = Binding {
            tenant: "t",
            subject: "s",
            field: "f",
        };
        let sealed = v1.seal(b, b"x").unwrap();
        let (v2, src) = Vault::load_or_create(dir.path(), None).unwrap();
        assert_eq!(src, MasterKeySource::File);
        assert_eq!(&v2.open(b, &sealed).unwrap()[..], b"x");
        fs::set_permissions(
            dir.path().join(MASTER_KEY_FILE),
            fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        assert!(Vault::load_or_create(dir.path(), None).is_err());
        let env = paysecure_wasm::encoding::encode(&[9u8; 32]);
        assert_eq!(
            Vault::load_or_create(dir.path(), Some(&env)).unwrap().1,
            MasterKeySource::Environment
        );
        assert!(Vault::load_or_create(dir.path(), Some("AAAA")).is_err());
        assert!(format!("{v2:?}").contains("redacted"));
    }
}
