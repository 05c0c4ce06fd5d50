//! The card vault's cryptography: a 256-bit master key, and from it (HKDF-SHA256)
//! an AES-256-GCM sealing key and an HMAC-SHA256 key for PAN look-ups.
//!
//! Every sealed value is bound by its AAD to the tenant, the subject (card
//! token, key id) and the field it belongs to, so a value copied into another
//! row or column does not open.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::{hkdf, hmac, rand};
use zeroize::Zeroizing;

use super::{Error, Result};

/// Environment variable holding the base64 master key (overrides the file;
/// the server removes it from its environment as soon as it has read it).
pub const MASTER_KEY_ENV: &str = "PAYSECURE_MASTER_KEY";
/// Name of the master key file (base64, mode 0600): in the default
/// location (see [`default_master_key_path`]) or, before issue #13, in the
/// data directory.
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeySource {
    /// `PAYSECURE_MASTER_KEY`.
    Environment,
    /// An existing key file.
    File(PathBuf),
    /// A key file created now.
    Created(PathBuf),
    /// `<data-dir>/master.key`, beside the database (the location before
    /// issue #13): still read, but the operator should move it.
    DataDir(PathBuf),
}

/// Why the master key could not be loaded. The messages name files and
/// modes, never key material.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    /// Neither `XDG_CONFIG_HOME` nor `HOME` is set and no file was given.
    #[error("no default location for the master key (neither XDG_CONFIG_HOME nor HOME is set): give --master-key-file or PAYSECURE_MASTER_KEY")]
    NoLocation,
    /// The file belongs to another user.
    #[error("refusing the master key file {}: it is owned by uid {owner}, not by the user running the server (uid {uid})", path.display())]
    WrongOwner {
        /// The file.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// The effective uid of this process.
        uid: u32,
    },
    /// Group or others have some access to the file.
    #[error("refusing the master key file {}: its mode is {mode:o}, it must give group and others no access (chmod 600)", path.display())]
    WrongMode {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Not a regular file.
    #[error("refusing the master key file {}: not a regular file", .0.display())]
    NotAFile(PathBuf),
    /// Reading or creating the file (or its directory) failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A key given explicitly does not exist, but the data directory holds
    /// one: starting with a new key would leave the vault unreadable.
    #[error("no master key at {}, but {} exists: move that file there (or point --master-key-file at it)", wanted.display(), legacy.display())]
    ElsewhereInDataDir {
        /// Where the key was expected.
        wanted: PathBuf,
        /// The key in the data directory.
        legacy: PathBuf,
    },
    /// The key is not base64 of 32 bytes.
    #[error("{0}")]
    Invalid(Error),
}

/// The default master key file: `$XDG_CONFIG_HOME/paysecure/master.key`,
/// else `$HOME/.config/paysecure/master.key` (outside the data directory,
/// so a copy of the data directory or a database backup alone never holds
/// the key). `None` when neither variable is set (to an absolute path).
pub fn default_master_key_path() -> Option<PathBuf> {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    std::env::var_os("XDG_CONFIG_HOME")
        .and_then(absolute)
        .or_else(|| {
            std::env::var_os("HOME")
                .and_then(absolute)
                .map(|h| h.join(".config"))
        })
        .map(|dir| dir.join("paysecure").join(MASTER_KEY_FILE))
}

/// Whether a key file may be used by the user `uid`: a regular file owned
/// by `uid` that gives group and others no access.
fn check_key_file(
    path: &Path,
    meta: &fs::Metadata,
    uid: u32,
) -> std::result::Result<(), MasterKeyError> {
    use std::os::unix::fs::MetadataExt;
    if !meta.is_file() {
        return Err(MasterKeyError::NotAFile(path.to_owned()));
    }
    if meta.uid() != uid {
        return Err(MasterKeyError::WrongOwner {
            path: path.to_owned(),
            owner: meta.uid(),
            uid,
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(MasterKeyError::WrongMode {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Reads a key file after checking its owner and mode on the open handle.
/// `Ok(None)` if it does not exist.
fn read_key_file(path: &Path) -> std::result::Result<Option<Vault>, MasterKeyError> {
    match read_key_bytes(path)? {
        Some(key) => Vault::new(&key).map(Some).map_err(MasterKeyError::Invalid),
        None => Ok(None),
    }
}

/// The 32 bytes of a key file (owner and mode checked), `Ok(None)` if it
/// does not exist.
fn read_key_bytes(path: &Path) -> std::result::Result<Option<Zeroizing<Vec<u8>>>, MasterKeyError> {
    use std::io::Read;
    let mut file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(MasterKeyError::Io {
                action: "open",
                path: path.to_owned(),
                source,
            })
        }
    };
    let io = |action, source| MasterKeyError::Io {
        action,
        path: path.to_owned(),
        source,
    };
    let meta = file.metadata().map_err(|e| io("stat", e))?;
    check_key_file(path, &meta, effective_uid())?;
    let mut text = Zeroizing::new(String::new());
    file.read_to_string(&mut text).map_err(|e| io("read", e))?;
    decode_master(&text)
        .map(Some)
        .map_err(MasterKeyError::Invalid)
}

/// Creates a key file with a fresh random key: mode 0600, in a directory
/// created 0700 if missing. The file appears whole or not at all (written
/// aside, then hard-linked into place); if another process created it
/// first, that key is read instead.
fn create_key_file(path: &Path) -> std::result::Result<Vault, MasterKeyError> {
    use std::os::unix::fs::DirBuilderExt;
    let io = |action, source| MasterKeyError::Io {
        action,
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| io("create the directory of", e))?;
        }
    }
    let mut key = Zeroizing::new([0u8; 32]);
    rand::fill(&mut key[..])
        .map_err(|_| MasterKeyError::Invalid(Error::Internal("no randomness")))?;
    let text = Zeroizing::new(paysecure_core::encoding::encode(&key[..]));
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".new-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        fs::hard_link(&tmp, path)
    })();
    let _ = fs::remove_file(&tmp);
    match written {
        Ok(()) => Vault::new(&key[..]).map_err(MasterKeyError::Invalid),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            read_key_file(path)?.ok_or_else(|| io("read", std::io::ErrorKind::NotFound.into()))
        }
        Err(e) => Err(io("create", e)),
    }
}

/// Loads the vault's master key, in this order:
///
/// 1. `env_value` (`PAYSECURE_MASTER_KEY`), if set;
/// 2. `file` (`--master-key-file`), if given: read, or created on first
///    start;
/// 3. `default_file` ([`default_master_key_path`]) if it exists;
/// 4. `<data_dir>/master.key` if it exists (the old default:
///    [`MasterKeySource::DataDir`], the caller warns);
/// 5. else `default_file` is created.
///
/// A file must be owned by the effective user and give group and others
/// no access, else it is refused. A new key is never made while
/// `<data_dir>/master.key` exists (that would leave the vault unreadable).
pub fn load_master_key(
    env_value: Option<&str>,
    file: Option<&Path>,
    default_file: Option<&Path>,
    data_dir: &Path,
) -> std::result::Result<(Vault, MasterKeySource), MasterKeyError> {
    if let Some(text) = env_value {
        let key = decode_master(text).map_err(MasterKeyError::Invalid)?;
        return Ok((
            Vault::new(&key).map_err(MasterKeyError::Invalid)?,
            MasterKeySource::Environment,
        ));
    }
    let legacy = data_dir.join(MASTER_KEY_FILE);
    let wanted = match file {
        Some(f) => f.to_owned(),
        None => {
            let default = default_file.ok_or(MasterKeyError::NoLocation)?.to_owned();
            if let Some(v) = read_key_file(&default)? {
                return Ok((v, MasterKeySource::File(default)));
            }
            if let Some(v) = read_key_file(&legacy)? {
                return Ok((v, MasterKeySource::DataDir(legacy)));
            }
            default
        }
    };
    if let Some(v) = read_key_file(&wanted)? {
        return Ok((v, MasterKeySource::File(wanted)));
    }
    if legacy.exists() && !same_file(&legacy, &wanted) {
        return Err(MasterKeyError::ElsewhereInDataDir { wanted, legacy });
    }
    let v = create_key_file(&wanted)?;
    Ok((v, MasterKeySource::Created(wanted)))
}

/// A master key found by [`find_master_key`]: its 32 bytes (wiped on drop)
/// and where it came from.
pub type FoundMasterKey = (Zeroizing<Vec<u8>>, MasterKeySource);

/// The master key of a deployment, if one is given or found, never
/// creating one (the PKCS#11 custody keeps its own, wrapped by the token's
/// key-encryption key, and uses this only to import an existing one):
/// `env_value`; else `file` if given (`None` if it does not exist: no
/// other file is looked for); else `default_file` or `<data_dir>/master.key`
/// if present. The raw 32 bytes, wiped on drop. A file is refused as by
/// [`load_master_key`] (owner, mode).
pub fn find_master_key(
    env_value: Option<&str>,
    file: Option<&Path>,
    default_file: Option<&Path>,
    data_dir: &Path,
) -> std::result::Result<Option<FoundMasterKey>, MasterKeyError> {
    if let Some(text) = env_value {
        let key = decode_master(text).map_err(MasterKeyError::Invalid)?;
        return Ok(Some((key, MasterKeySource::Environment)));
    }
    if let Some(file) = file {
        return Ok(read_key_bytes(file)?.map(|k| (k, MasterKeySource::File(file.to_owned()))));
    }
    if let Some(default) = default_file {
        if let Some(k) = read_key_bytes(default)? {
            return Ok(Some((k, MasterKeySource::File(default.to_owned()))));
        }
    }
    let legacy = data_dir.join(MASTER_KEY_FILE);
    Ok(read_key_bytes(&legacy)?.map(|k| (k, MasterKeySource::DataDir(legacy))))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
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
        .map_err(|_| Error::Internal("key derivation failed"))?;
    Ok(out)
}

impl Vault {
    /// The vault for a 32-byte master key.
    pub fn new(master: &[u8]) -> Result<Self> {
        if master.len() != 32 {
            return Err(Error::Internal("the master key must be 32 bytes"));
        }
        let enc = derive(master, b"seal/aes-256-gcm")?;
        let mac = derive(master, b"pan-index/hmac-sha256")?;
        let analytics = derive(master, b"analytics-token/hmac-sha256")?;
        let replay = derive(master, b"replay-fingerprint/hmac-sha256")?;
        let rejection = derive(master, b"rsa-implicit-rejection/hmac-sha256")?;
        let unbound = UnboundKey::new(&AES_256_GCM, &enc[..])
            .map_err(|_| Error::Internal("bad vault key"))?;
        Ok(Vault {
            seal_key: LessSafeKey::new(unbound),
            pan_index_key: hmac::Key::new(hmac::HMAC_SHA256, &mac[..]),
            analytics_key: hmac::Key::new(hmac::HMAC_SHA256, &analytics[..]),
            replay_key: hmac::Key::new(hmac::HMAC_SHA256, &replay[..]),
            rejection_key: hmac::Key::new(hmac::HMAC_SHA256, &rejection[..]),
        })
    }

    /// Seals `plaintext`: `nonce (12) || ciphertext || tag (16)`.
    pub fn seal(&self, binding: Binding<'_>, plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce).map_err(|_| Error::Internal("no randomness"))?;
        let mut buf = Zeroizing::new(plaintext.to_vec());
        self.seal_key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(binding.aad()),
                &mut *buf,
            )
            .map_err(|_| Error::Internal("sealing failed"))?;
        let mut out = Vec::with_capacity(NONCE_LEN + buf.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Opens a sealed value; fails if it was sealed for another binding.
    pub fn open(&self, binding: Binding<'_>, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let (nonce, body) = sealed
            .split_at_checked(NONCE_LEN)
            .ok_or(Error::Internal("sealed value too short"))?;
        let nonce =
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| Error::Internal("bad nonce"))?;
        let mut buf = Zeroizing::new(body.to_vec());
        let len = self
            .seal_key
            .open_in_place(nonce, Aad::from(binding.aad()), &mut buf[..])
            .map_err(|_| Error::Internal("a vault value failed authentication"))?
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
        crate::util::codec::hex_lower(&self.keyed_mac(&[tenant, scope, pan]))
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
    let key = paysecure_core::encoding::decode(text, "master key")
        .map_err(|_| Error::Internal("the master key is not base64"))?;
    if key.len() != 32 {
        return Err(Error::Internal("the master key must be 32 bytes"));
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

    fn sealed_x(v: &Vault) -> Vec<u8> {
        v.seal(
            Binding {
                tenant: "t",
                subject: "s",
                field: "f",
            },
            b"x",
        )
        .unwrap()
    }

    fn opens_x(v: &Vault, sealed: &[u8]) -> bool {
        let b = Binding {
            tenant: "t",
            subject: "s",
            field: "f",
        };
        v.open(b, sealed).is_ok_and(|x| &x[..] == b"x")
    }

    #[test]
    fn master_key_file_is_created_0600_in_a_0700_dir_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let default = dir.path().join("config/paysecure/master.key");
        let (v1, src) = load_master_key(None, None, Some(&default), &data).unwrap();
        assert_eq!(src, MasterKeySource::Created(default.clone()));
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&default), 0o600);
        assert_eq!(mode(default.parent().unwrap()), 0o700);
        assert!(!data.join(MASTER_KEY_FILE).exists(), "not in the data dir");
        let sealed = sealed_x(&v1);
        let (v2, src) = load_master_key(None, None, Some(&default), &data).unwrap();
        assert_eq!(src, MasterKeySource::File(default.clone()));
        assert!(opens_x(&v2, &sealed));
        assert!(format!("{v2:?}").contains("redacted"));
        // An explicit file wins over the default.
        let explicit = dir.path().join("elsewhere/key");
        let (v3, src) = load_master_key(None, Some(&explicit), Some(&default), &data).unwrap();
        assert_eq!(src, MasterKeySource::Created(explicit.clone()));
        assert!(!opens_x(&v3, &sealed));
    }

    #[test]
    fn master_key_file_readable_by_group_or_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k/master.key");
        load_master_key(None, Some(&path), None, dir.path()).unwrap();
        for mode in [0o640, 0o604, 0o660, 0o610] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let e = load_master_key(None, Some(&path), None, dir.path()).unwrap_err();
            assert!(
                matches!(e, MasterKeyError::WrongMode { .. }),
                "{mode:o}: {e}"
            );
            assert!(e.to_string().contains("chmod 600"), "{e}");
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
        assert!(load_master_key(None, Some(&path), None, dir.path()).is_ok());
    }

    #[test]
    fn master_key_file_of_another_user_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        load_master_key(None, Some(&path), None, dir.path()).unwrap();
        let meta = fs::metadata(&path).unwrap();
        assert!(check_key_file(&path, &meta, effective_uid()).is_ok());
        let e = check_key_file(&path, &meta, effective_uid() + 1).unwrap_err();
        assert!(matches!(e, MasterKeyError::WrongOwner { .. }), "{e}");
        let e = check_key_file(
            dir.path(),
            &fs::metadata(dir.path()).unwrap(),
            effective_uid(),
        )
        .unwrap_err();
        assert!(matches!(e, MasterKeyError::NotAFile(_)), "{e}");
    }

    #[test]
    fn master_key_in_the_data_dir_is_still_used_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let legacy = data.join(MASTER_KEY_FILE);
        let (v1, _) = load_master_key(None, Some(&legacy), None, &data).unwrap();
        let sealed = sealed_x(&v1);
        let default = dir.path().join("config/paysecure/master.key");
        let (v2, src) = load_master_key(None, None, Some(&default), &data).unwrap();
        assert_eq!(src, MasterKeySource::DataDir(legacy.clone()));
        assert!(opens_x(&v2, &sealed));
        assert!(!default.exists(), "no second key made");
        // An explicit file that does not exist is not created while the
        // data dir holds a key.
        let e = load_master_key(None, Some(&default), None, &data).unwrap_err();
        assert!(
            matches!(e, MasterKeyError::ElsewhereInDataDir { .. }),
            "{e}"
        );
        assert!(!default.exists());
        // No location at all.
        let empty = dir.path().join("empty");
        assert!(matches!(
            load_master_key(None, None, None, &empty),
            Err(MasterKeyError::NoLocation)
        ));
    }

    #[test]
    fn find_master_key_never_creates_one() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let default = dir.path().join("config/paysecure/master.key");
        let explicit = dir.path().join("k/master.key");
        assert!(find_master_key(None, None, Some(&default), &data)
            .unwrap()
            .is_none());
        assert!(
            find_master_key(None, Some(&explicit), Some(&default), &data)
                .unwrap()
                .is_none()
        );
        assert!(!default.exists() && !explicit.exists(), "nothing made");
        load_master_key(None, Some(&explicit), None, &data).unwrap();
        let (k, src) = find_master_key(None, Some(&explicit), Some(&default), &data)
            .unwrap()
            .unwrap();
        assert_eq!(
            (k.len(), src),
            (32, MasterKeySource::File(explicit.clone()))
        );
        // The default file and the data directory's are found too.
        std::fs::create_dir_all(&data).unwrap();
        std::fs::copy(&explicit, data.join(MASTER_KEY_FILE)).unwrap();
        let (k2, src) = find_master_key(None, None, Some(&default), &data)
            .unwrap()
            .unwrap();
        assert_eq!(
            (&k2[..], src),
            (&k[..], MasterKeySource::DataDir(data.join(MASTER_KEY_FILE)))
        );
        let env = paysecure_core::encoding::encode(&[5u8; 32]);
        let (k3, src) = find_master_key(Some(&env), Some(&explicit), None, &data)
            .unwrap()
            .unwrap();
        assert_eq!(
            (&k3[..], src),
            (&[5u8; 32][..], MasterKeySource::Environment)
        );
    }

    #[test]
    fn master_key_from_the_environment_wins() {
        let dir = tempfile::tempdir().unwrap();
        let env = paysecure_core::encoding::encode(&[9u8; 32]);
        let (_, src) = load_master_key(Some(&env), None, None, dir.path()).unwrap();
        assert_eq!(src, MasterKeySource::Environment);
        assert!(load_master_key(Some("AAAA"), None, None, dir.path()).is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0, "no file made");
    }
}
