//! The PKCS#11 custody: keys inside an HSM, through the `cryptoki` crate
//! (SoftHSM2 in tests; Thales Luna, Utimaco, nShield, CloudHSM and YubiHSM
//! speak the same interface).
//!
//! - RSA key pairs are generated in the token: the private key with
//!   `CKA_TOKEN`, `CKA_PRIVATE`, `CKA_SENSITIVE`, not `CKA_EXTRACTABLE`,
//!   `CKA_DECRYPT` only; `CKA_ID` the key id (`rsa-…`), `CKA_LABEL`
//!   `paysecure <purpose> <key id>`. The database row keeps the public key
//!   and the reference `pkcs11:<key id>`.
//! - Decryption runs in the token: `CKM_RSA_PKCS_OAEP` (SHA-1 or SHA-256
//!   with the matching MGF1, empty label) and `CKM_RSA_PKCS` for V1. The
//!   process keeps V1's implicit rejection: it computes the synthetic key
//!   for every V1 session id, and a token error (bad padding) selects it,
//!   so the API answers alike for good and bad padding. A token without
//!   OAEP over SHA-256 (SoftHSM2 2.6 has SHA-1 only) does the raw RSA
//!   operation (`CKM_RSA_X_509`) and the process decodes the OAEP padding
//!   (`custody::oaep`, constant time): the private key still never leaves
//!   the token.
//! - The PIN key is an AES-256 key in the token (same attributes, `CKA_ID`
//!   `pin-…`); a format-4 PIN block is made and opened with `CKM_AES_ECB`
//!   on single blocks in the token, the XOR with the PAN field in process.
//! - The key-encryption key is an AES-256 key in the token (`CKA_ID`
//!   `kek-…`) with `CKA_WRAP`/`CKA_UNWRAP` only. A secret the process must
//!   use (the vault's master key) is wrapped with `CKM_AES_KEY_WRAP`
//!   (RFC 3394) through a session object that exists for the one call, and
//!   unwrapped the same way (an extractable session object, read, destroyed).
//!
//! Sessions: one login (the PIN is wiped once used) and a small pool of
//! sessions, each behind a mutex (a PKCS#11 session runs one operation at
//! a time). Object handles are valid in every session of the process.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::RvError;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use paysecure_core::pin_block4::{PinCipher, BLOCK_LEN};
use zeroize::Zeroizing;

use super::{
    CustodyKind, Cvk, Kek, KeyCustody, KeyWrapper, NewRsaKey, PinKey, RsaPadding, RsaPrivateKey,
};
use crate::crypto::cvv::{CvkCipher, CvkPair, CvvError};
use crate::crypto::keys::Purpose;
use crate::crypto::vault::{Binding, Vault};
use crate::crypto::{Error, Result};

/// How `rsa_keys.private_sealed` and `custody_keys.reference` name an
/// object in the token: this prefix, then its `CKA_ID`.
pub const STORED_PREFIX: &[u8] = b"pkcs11:";
/// The environment variable that may hold the token's user PIN (removed
/// from the environment once read, like the master key's).
pub const PIN_ENV: &str = "PAYSECURE_PKCS11_PIN";
/// Sessions kept open on the token.
const SESSIONS: usize = 4;

/// Where the token is and how to log in.
pub struct Pkcs11Config {
    /// The PKCS#11 module (e.g. `/usr/lib/softhsm/libsofthsm2.so`).
    pub module: std::path::PathBuf,
    /// The label of the token to use.
    pub token_label: String,
    /// The user PIN (wiped on drop).
    pub pin: Zeroizing<String>,
}

impl std::fmt::Debug for Pkcs11Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Config")
            .field("module", &self.module)
            .field("token_label", &self.token_label)
            .field("pin", &"<redacted>")
            .finish()
    }
}

struct Token {
    /// Dropped before the context (fields drop in order).
    sessions: Vec<Mutex<Session>>,
    /// Kept for the life of the sessions (finalized on drop).
    _context: Pkcs11,
    next: AtomicUsize,
    label: String,
    /// RSA private keys found so far: key id → (handle, modulus bytes).
    /// Handles stay valid for the process's life; a key destroyed here
    /// leaves the map. (Key rings reload every housekeeping run: without
    /// this, each reload would search the token.)
    rsa_handles: Mutex<std::collections::HashMap<String, (ObjectHandle, usize)>>,
    /// Set once the token refused `CKM_RSA_PKCS_OAEP` with SHA-256 as a
    /// mechanism it does not support (SoftHSM2 2.6 takes SHA-1 only).
    oaep_sha256_unsupported: std::sync::atomic::AtomicBool,
    /// CVK pairs found so far: `cvk-…` → (CVK-A handle, CVK-A‖B handle).
    cvk_handles: Mutex<std::collections::HashMap<String, (ObjectHandle, ObjectHandle)>>,
}

impl Token {
    /// Runs `f` on one of the pool's sessions.
    fn with_session<T>(&self, f: impl FnOnce(&Session) -> Result<T>) -> Result<T> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        // Take a free session if there is one, else wait for the next in turn.
        for i in 0..self.sessions.len() {
            if let Some(m) = self.sessions.get((start + i) % self.sessions.len()) {
                if let Ok(s) = m.try_lock() {
                    return f(&s);
                }
            }
        }
        let m = self
            .sessions
            .get(start % self.sessions.len().max(1))
            .ok_or(Error::Internal("no PKCS#11 session"))?;
        let s = m.lock().unwrap_or_else(|p| p.into_inner());
        f(&s)
    }

    /// [`Token::with_session`] for operations that create token objects
    /// (key generation), tried up to five times over about half a second:
    /// SoftHSM2's file store refuses a write now and then while another
    /// process (another node, the CLI) writes the same token. A failed
    /// generation creates nothing, so a retry cannot leave a second key.
    fn creating<T>(&self, f: impl Fn(&Session) -> Result<T>) -> Result<T> {
        let mut attempt: u64 = 0;
        loop {
            match self.with_session(&f) {
                Err(e) if attempt < 4 => {
                    attempt += 1;
                    tracing::debug!(attempt, "PKCS#11 object creation failed ({e}); retrying");
                    std::thread::sleep(std::time::Duration::from_millis(50 * attempt));
                }
                other => return other,
            }
        }
    }

    fn find(&self, class: ObjectClass, id: &[u8]) -> Result<Vec<ObjectHandle>> {
        self.with_session(|s| {
            s.find_objects(&[Attribute::Class(class), Attribute::Id(id.to_vec())])
                .map_err(|_| Error::Internal("PKCS#11 object search failed"))
        })
    }

    /// The object of `class` named `id`. One that another process (a
    /// node starting at the same time) has just made may not be visible
    /// yet (SoftHSM2's file store is re-read as it changes): looked for
    /// again a few times over about half a second before it is missing.
    fn find_one(&self, class: ObjectClass, id: &[u8]) -> Result<ObjectHandle> {
        for attempt in 0..5u64 {
            if let Some(handle) = self.find(class, id)?.into_iter().next() {
                return Ok(handle);
            }
            std::thread::sleep(std::time::Duration::from_millis(40 * (attempt + 1)));
        }
        Err(Error::Internal("a key is missing from the PKCS#11 token"))
    }
}

/// Keys in a PKCS#11 token. See the module documentation.
#[derive(Clone)]
pub struct Pkcs11Custody {
    token: Arc<Token>,
}

impl std::fmt::Debug for Pkcs11Custody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pkcs11Custody(token {:?})", self.token.label)
    }
}

/// Why [`Pkcs11Custody::open_once`] failed: a token not (yet) visible is
/// worth another look; anything else is final.
enum OpenError {
    TokenNotFound(String),
    Other(String),
}

impl From<String> for OpenError {
    fn from(e: String) -> Self {
        OpenError::Other(e)
    }
}

fn describe(what: &str, e: cryptoki::error::Error) -> String {
    // cryptoki's errors name the function and the CKR_ code: no secret.
    format!("PKCS#11: {what}: {e}")
}

impl Pkcs11Custody {
    /// Generates a non-extractable AES-256 secret key in the token, its id
    /// `prefix` + random, with the key-usage attributes `usage`; returns
    /// what the database stores to find it again.
    fn generate_aes256<const N: usize>(
        &self,
        prefix: &str,
        label: &str,
        usage: [Attribute; N],
    ) -> Result<Vec<u8>> {
        let id = crate::util::ids::random_id::<8>(prefix)?;
        let mut template = secret_key_template(label, id.as_bytes());
        template.extend([
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen(32u64.into()),
        ]);
        template.extend(usage);
        self.token.creating(|s| {
            s.generate_key(&Mechanism::AesKeyGen, &template)
                .map_err(|_| Error::Internal("PKCS#11 AES key generation failed"))
        })?;
        let mut stored = STORED_PREFIX.to_vec();
        stored.extend_from_slice(id.as_bytes());
        Ok(stored)
    }

    /// Loads the module, finds the token by label, opens the sessions and
    /// logs in. The PIN is wiped when `config` is dropped. Errors name the
    /// module, the label and the PKCS#11 return code, never the PIN.
    ///
    /// A token that is not found is looked for again (module reloaded) a
    /// few times over about two seconds: SoftHSM2's file store can be read
    /// half-written while another process (another node, the CLI) writes
    /// the token, and the token then looks absent for a moment.
    pub fn open(config: Pkcs11Config) -> std::result::Result<Self, String> {
        let mut attempt = 0;
        loop {
            match Self::open_once(&config) {
                Err(OpenError::TokenNotFound(e)) if attempt < 20 => {
                    attempt += 1;
                    tracing::debug!(attempt, "{e}; retrying");
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(OpenError::TokenNotFound(e) | OpenError::Other(e)) => return Err(e),
                Ok(custody) => return Ok(custody),
            }
        }
    }

    fn open_once(config: &Pkcs11Config) -> std::result::Result<Self, OpenError> {
        let context = Pkcs11::new(&config.module).map_err(|e| {
            describe(
                &format!("cannot load the module {}", config.module.display()),
                e,
            )
        })?;
        context
            .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .map_err(|e| describe("C_Initialize", e))?;
        let slot = context
            .get_slots_with_token()
            .map_err(|e| describe("C_GetSlotList", e))?
            .into_iter()
            .find(|slot| {
                context
                    .get_token_info(*slot)
                    .is_ok_and(|t| t.label().trim_end() == config.token_label)
            })
            .ok_or_else(|| {
                OpenError::TokenNotFound(format!(
                    "PKCS#11: no token labelled {:?} in {}",
                    config.token_label,
                    config.module.display()
                ))
            })?;
        let mut sessions = Vec::with_capacity(SESSIONS);
        for _ in 0..SESSIONS {
            let s = context
                .open_rw_session(slot)
                .map_err(|e| describe("C_OpenSession", e))?;
            sessions.push(s);
        }
        let pin = AuthPin::new(config.pin.as_str().into());
        if let Some(first) = sessions.first() {
            match first.login(UserType::User, Some(&pin)) {
                Ok(())
                | Err(cryptoki::error::Error::Pkcs11(
                    cryptoki::error::RvError::UserAlreadyLoggedIn,
                    _,
                )) => {}
                Err(e) => return Err(describe("C_Login", e).into()),
            }
        }
        drop(pin);
        Ok(Pkcs11Custody {
            token: Arc::new(Token {
                sessions: sessions.into_iter().map(Mutex::new).collect(),
                _context: context,
                next: AtomicUsize::new(0),
                label: config.token_label.clone(),
                oaep_sha256_unsupported: std::sync::atomic::AtomicBool::new(false),
                rsa_handles: Mutex::new(std::collections::HashMap::new()),
                cvk_handles: Mutex::new(std::collections::HashMap::new()),
            }),
        })
    }

    /// Puts a secret into the token as a new object described by
    /// `template`, through `C_UnwrapKey`: the secret is wrapped in process
    /// (`CKM_AES_KEY_WRAP_PAD`, RFC 5649) under a one-time AES-256 key,
    /// which enters the token as a session object for this one call and is
    /// destroyed after it. For a private key `secret` is its PKCS#8.
    fn import_wrapped(&self, secret: &[u8], template: &[Attribute]) -> Result<()> {
        use aws_lc_rs::key_wrap::{AesKek, KeyWrapPadded, AES_256};
        let one_time = Zeroizing::new(crate::util::ids::random_bytes::<32>()?);
        let kek = AesKek::new(&AES_256, &one_time[..])
            .map_err(|_| Error::Internal("import key setup failed"))?;
        let mut out = Zeroizing::new(vec![0u8; secret.len() + 16]);
        let len = kek
            .wrap_with_padding(secret, &mut out)
            .map_err(|_| Error::Internal("import wrapping failed"))?
            .len();
        let wrapped = out
            .get(..len)
            .ok_or(Error::Internal("import wrapping failed"))?;
        self.token.creating(|s| {
            let mut key_template = vec![
                Attribute::Token(false),
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Encrypt(false),
                Attribute::Decrypt(false),
                Attribute::Wrap(false),
                Attribute::Unwrap(true),
                Attribute::Value(one_time.to_vec()),
            ];
            let key = s.create_object(&key_template);
            for a in &mut key_template {
                if let Attribute::Value(v) = a {
                    zeroize::Zeroize::zeroize(v);
                }
            }
            let key = key.map_err(|_| Error::Internal("PKCS#11 import key creation failed"))?;
            let made = s.unwrap_key(&Mechanism::AesKeyWrapPad, key, wrapped, template);
            let _ = s.destroy_object(key);
            made.map(|_| ())
                .map_err(|_| Error::Internal("PKCS#11 key import (C_UnwrapKey) failed"))
        })
    }

    /// Destroys every object of `class` whose `CKA_ID` is `id`.
    fn destroy_by_id(&self, class: ObjectClass, id: &[u8]) -> Result<()> {
        for handle in self.token.find(class, id)? {
            self.token.with_session(|s| {
                s.destroy_object(handle)
                    .map_err(|_| Error::Internal("PKCS#11 key destruction failed"))
            })?;
        }
        Ok(())
    }

    /// Imports an RSA private key (its PKCS#8, from the software custody)
    /// under its key id, with the attributes of a key generated in the
    /// token (sensitive, not extractable, decrypt only). An object left
    /// with this id by an interrupted import is destroyed first. Returns
    /// what `rsa_keys.private_sealed` then holds.
    pub fn import_rsa(&self, key_id: &str, purpose: Purpose, pkcs8: &[u8]) -> Result<Vec<u8>> {
        self.destroy_by_id(ObjectClass::PRIVATE_KEY, key_id.as_bytes())?;
        self.token
            .rsa_handles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key_id);
        let label = format!("paysecure {} {key_id}", purpose.as_str());
        let mut template = secret_key_template(&label, key_id.as_bytes());
        template.extend([
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Decrypt(true),
            Attribute::Sign(false),
            Attribute::Unwrap(false),
        ]);
        self.import_wrapped(pkcs8, &template)?;
        let mut stored = STORED_PREFIX.to_vec();
        stored.extend_from_slice(key_id.as_bytes());
        Ok(stored)
    }

    /// Imports an AES-256 PIN key (from the software custody) as the
    /// token object `id` (`pin-…`), like a PIN key generated in the token.
    /// An object left with this id by an interrupted import is destroyed
    /// first. Returns what `custody_keys.reference` then holds.
    pub fn import_pin_key(&self, id: &str, key: &[u8]) -> Result<Vec<u8>> {
        self.destroy_by_id(ObjectClass::SECRET_KEY, id.as_bytes())?;
        let mut template = secret_key_template("paysecure pin key", id.as_bytes());
        template.extend([
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            Attribute::Wrap(false),
            Attribute::Unwrap(false),
        ]);
        self.import_wrapped(key, &template)?;
        let mut stored = STORED_PREFIX.to_vec();
        stored.extend_from_slice(id.as_bytes());
        Ok(stored)
    }

    /// Destroys the two objects of a CVK pair (`cvk-…`).
    fn destroy_cvk_objects(&self, id: &str) -> Result<()> {
        self.token
            .cvk_handles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        for suffix in ["a", "ab"] {
            for handle in self
                .token
                .find(ObjectClass::SECRET_KEY, format!("{id}-{suffix}").as_bytes())?
            {
                self.token.with_session(|s| {
                    s.destroy_object(handle)
                        .map_err(|_| Error::Internal("PKCS#11 key destruction failed"))
                })?;
            }
        }
        Ok(())
    }

    /// Whether the token refuses to give out the material of the key named
    /// `id` (`rsa-…`: the RSA private key; `pin-…`, `kek-…`: the AES PIN key
    /// or key-encryption key):
    /// `C_GetAttributeValue` answers `CKR_ATTRIBUTE_SENSITIVE` for every
    /// secret attribute (`CKA_VALUE` of the AES key; the private exponent,
    /// primes, CRT exponents and coefficient of the RSA key), and the key is
    /// `CKA_SENSITIVE` and not `CKA_EXTRACTABLE` (so it cannot be wrapped
    /// out either). An error if the token holds no such key. For tests and
    /// audits.
    pub fn refuses_key_material(&self, id: &str) -> Result<bool> {
        let (class, secret) = if id.starts_with("rsa-") {
            (
                ObjectClass::PRIVATE_KEY,
                vec![
                    AttributeType::PrivateExponent,
                    AttributeType::Prime1,
                    AttributeType::Prime2,
                    AttributeType::Exponent1,
                    AttributeType::Exponent2,
                    AttributeType::Coefficient,
                ],
            )
        } else {
            (ObjectClass::SECRET_KEY, vec![AttributeType::Value])
        };
        let handle = self.token.find_one(class, id.as_bytes())?;
        self.token.with_session(|s| {
            let info = s
                .get_attribute_info(handle, &secret)
                .map_err(|_| Error::Internal("C_GetAttributeValue failed"))?;
            let all_sensitive = info
                .iter()
                .all(|i| matches!(i, cryptoki::object::AttributeInfo::Sensitive));
            let flags = s
                .get_attributes(
                    handle,
                    &[AttributeType::Sensitive, AttributeType::Extractable],
                )
                .map_err(|_| Error::Internal("C_GetAttributeValue failed"))?;
            let sensitive = flags.contains(&Attribute::Sensitive(true));
            let not_extractable = flags.contains(&Attribute::Extractable(false));
            Ok(all_sensitive && sensitive && not_extractable)
        })
    }
}

fn stored_id(stored: &[u8]) -> Result<&[u8]> {
    stored.strip_prefix(STORED_PREFIX).ok_or(Error::Internal(
        "this key is sealed by the vault (software custody), not held in the PKCS#11 token",
    ))
}

struct TokenRsaKey {
    token: Arc<Token>,
    handle: ObjectHandle,
    size: usize,
}

impl TokenRsaKey {
    fn token_decrypt(
        &self,
        mechanism: &Mechanism<'_>,
        ciphertext: &[u8],
    ) -> std::result::Result<Zeroizing<Vec<u8>>, Option<RvError>> {
        let mut failure = None;
        let out = self.token.with_session(|s| {
            s.decrypt(mechanism, self.handle, ciphertext)
                .map(Zeroizing::new)
                .map_err(|e| {
                    if let cryptoki::error::Error::Pkcs11(rv, _) = e {
                        failure = Some(rv);
                    }
                    Error::InvalidSession
                })
        });
        out.map_err(|_| failure)
    }

    /// RSA-OAEP-256 where the token lacks it: the raw RSA operation
    /// (`CKM_RSA_X_509`) in the token, the OAEP decoding here.
    fn oaep_sha256_via_raw(&self, ciphertext: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let raw = self.token_decrypt(&Mechanism::RsaX509, ciphertext).ok()?;
        let mut em = Zeroizing::new(vec![0u8; self.size]);
        let start = self.size.checked_sub(raw.len())?;
        em.get_mut(start..)?.copy_from_slice(&raw);
        super::oaep::decode_sha256(&em)
    }
}

impl RsaPrivateKey for TokenRsaKey {
    fn size_bytes(&self) -> usize {
        self.size
    }

    fn decrypt(&self, padding: RsaPadding, ciphertext: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let mechanism = match padding {
            RsaPadding::OaepSha1 => Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
                MechanismType::SHA1,
                PkcsMgfType::MGF1_SHA1,
                PkcsOaepSource::empty(),
            )),
            RsaPadding::OaepSha256 => {
                if self.token.oaep_sha256_unsupported.load(Ordering::Relaxed) {
                    return self.oaep_sha256_via_raw(ciphertext);
                }
                Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
                    MechanismType::SHA256,
                    PkcsMgfType::MGF1_SHA256,
                    PkcsOaepSource::empty(),
                ))
            }
            RsaPadding::Pkcs1v15 => Mechanism::RsaPkcs,
        };
        match self.token_decrypt(&mechanism, ciphertext) {
            Ok(plain) => Some(plain),
            Err(Some(
                RvError::MechanismInvalid | RvError::MechanismParamInvalid | RvError::ArgumentsBad,
            )) if padding == RsaPadding::OaepSha256 => {
                // A limit of the token, not of the ciphertext: remembered.
                self.token
                    .oaep_sha256_unsupported
                    .store(true, Ordering::Relaxed);
                tracing::info!("the PKCS#11 token has no RSA-OAEP with SHA-256: raw RSA in the token, OAEP decoding in process");
                self.oaep_sha256_via_raw(ciphertext)
            }
            Err(_) => None,
        }
    }
}

/// A CVK pair in the token: CVK-A as a DES3 key (A, A, A), so that
/// `CKM_DES3_ECB` computes single DES under A (SoftHSM2 2.6 with OpenSSL 3
/// lists `CKM_DES_ECB` but refuses it: single DES is in OpenSSL's legacy
/// provider), and the pair as a DES2 key (A, B) for the EDE2 step.
struct TokenCvk {
    token: Arc<Token>,
    a: ObjectHandle,
    ab: ObjectHandle,
}

impl TokenCvk {
    fn run(&self, key: ObjectHandle, block: &mut [u8; 8]) -> std::result::Result<(), CvvError> {
        let out = self
            .token
            .with_session(|s| {
                s.encrypt(&Mechanism::Des3Ecb, key, &block[..])
                    .map(Zeroizing::new)
                    .map_err(|_| Error::Internal("PKCS#11 DES3 operation failed"))
            })
            .map_err(|_| CvvError::KeyStore)?;
        let out: &[u8; 8] = out.as_slice().try_into().map_err(|_| CvvError::KeyStore)?;
        block.copy_from_slice(out);
        Ok(())
    }
}

impl CvkCipher for TokenCvk {
    fn encrypt_a(&self, block: &mut [u8; 8]) -> std::result::Result<(), CvvError> {
        self.run(self.a, block)
    }

    fn encrypt_ab(&self, block: &mut [u8; 8]) -> std::result::Result<(), CvvError> {
        self.run(self.ab, block)
    }
}

struct TokenPinKey {
    token: Arc<Token>,
    handle: ObjectHandle,
}

impl TokenPinKey {
    fn run(&self, encrypt: bool, block: &mut [u8; BLOCK_LEN]) -> paysecure_core::Result<()> {
        let out = self
            .token
            .with_session(|s| {
                let r = if encrypt {
                    s.encrypt(&Mechanism::AesEcb, self.handle, &block[..])
                } else {
                    s.decrypt(&Mechanism::AesEcb, self.handle, &block[..])
                };
                r.map(Zeroizing::new)
                    .map_err(|_| Error::Internal("PKCS#11 AES operation failed"))
            })
            .map_err(|_| paysecure_core::Error::EncryptionFailed)?;
        if out.len() != BLOCK_LEN {
            return Err(paysecure_core::Error::EncryptionFailed);
        }
        block.copy_from_slice(&out);
        Ok(())
    }
}

impl PinCipher for TokenPinKey {
    fn encrypt_block(&self, block: &mut [u8; BLOCK_LEN]) -> paysecure_core::Result<()> {
        self.run(true, block)
    }

    fn decrypt_block(&self, block: &mut [u8; BLOCK_LEN]) -> paysecure_core::Result<()> {
        self.run(false, block)
    }
}

/// The token's key-encryption key: AES-256, `CKA_WRAP`/`CKA_UNWRAP` only.
/// Wrapping is `CKM_AES_KEY_WRAP` (RFC 3394: deterministic, with an
/// integrity check, for keys of 16 bytes or more in 8-byte steps).
struct TokenKek {
    token: Arc<Token>,
    handle: ObjectHandle,
}

/// A session object holding `value` for the time of one wrap or unwrap.
fn transient_secret(value: Option<&[u8]>) -> Vec<Attribute> {
    let mut t = vec![
        Attribute::Token(false),
        Attribute::Private(true),
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
        Attribute::Encrypt(false),
        Attribute::Decrypt(false),
        Attribute::Sign(false),
        Attribute::Verify(false),
        Attribute::Wrap(false),
        Attribute::Unwrap(false),
    ];
    if let Some(v) = value {
        t.push(Attribute::Value(v.to_vec()));
    }
    t
}

impl KeyWrapper for TokenKek {
    fn wrap(&self, secret: &[u8]) -> Result<Vec<u8>> {
        if secret.len() < 16 || secret.len() % 8 != 0 {
            return Err(Error::Internal(
                "a wrapped key must be 16 bytes or more, in 8-byte steps",
            ));
        }
        self.token.with_session(|s| {
            // The secret enters the token as a session object for the
            // wrap only (a template's copy is wiped as it drops).
            let mut template = transient_secret(Some(secret));
            let object = s.create_object(&template);
            for a in &mut template {
                if let Attribute::Value(v) = a {
                    zeroize::Zeroize::zeroize(v);
                }
            }
            let object =
                object.map_err(|_| Error::Internal("PKCS#11 key import for wrapping failed"))?;
            let wrapped = s.wrap_key(&Mechanism::AesKeyWrap, self.handle, object);
            let destroyed = s.destroy_object(object);
            let wrapped = wrapped.map_err(|_| Error::Internal("PKCS#11 key wrapping failed"))?;
            destroyed.map_err(|_| Error::Internal("PKCS#11 key destruction failed"))?;
            Ok(wrapped)
        })
    }

    fn unwrap(&self, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.token.with_session(|s| {
            let object = s
                .unwrap_key(
                    &Mechanism::AesKeyWrap,
                    self.handle,
                    wrapped,
                    &transient_secret(None),
                )
                .map_err(|_| Error::Internal("PKCS#11 key unwrapping failed"))?;
            let value = s.get_attributes(object, &[AttributeType::Value]);
            let destroyed = s.destroy_object(object);
            let mut value = value.map_err(|_| Error::Internal("PKCS#11 key read failed"))?;
            destroyed.map_err(|_| Error::Internal("PKCS#11 key destruction failed"))?;
            let mut out = None;
            for a in &mut value {
                if let Attribute::Value(v) = a {
                    out = Some(Zeroizing::new(std::mem::take(v)));
                }
            }
            out.ok_or(Error::Internal("PKCS#11 unwrapped key has no value"))
        })
    }
}

fn secret_key_template(label: &str, id: &[u8]) -> Vec<Attribute> {
    vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
    ]
}

impl KeyCustody for Pkcs11Custody {
    fn kind(&self) -> CustodyKind {
        CustodyKind::Pkcs11
    }

    fn generate_rsa(&self, _vault: &Vault, key_id: &str, purpose: Purpose) -> Result<NewRsaKey> {
        let label = format!("paysecure {} {key_id}", purpose.as_str());
        let public_template = vec![
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Encrypt(true),
            Attribute::Verify(false),
            Attribute::Wrap(false),
            Attribute::ModulusBits(2048u64.into()),
            Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(key_id.as_bytes().to_vec()),
        ];
        let mut private_template = secret_key_template(&label, key_id.as_bytes());
        private_template.extend([
            Attribute::Decrypt(true),
            Attribute::Sign(false),
            Attribute::Unwrap(false),
        ]);
        let (n, e) = self.token.creating(|s| {
            let (public, _private) = s
                .generate_key_pair(
                    &Mechanism::RsaPkcsKeyPairGen,
                    &public_template,
                    &private_template,
                )
                .map_err(|_| Error::Internal("PKCS#11 RSA key generation failed"))?;
            let attrs = s
                .get_attributes(
                    public,
                    &[AttributeType::Modulus, AttributeType::PublicExponent],
                )
                .map_err(|_| Error::Internal("PKCS#11 public key read failed"))?;
            let (mut n, mut e) = (None, None);
            for a in attrs {
                match a {
                    Attribute::Modulus(v) => n = Some(v),
                    Attribute::PublicExponent(v) => e = Some(v),
                    _ => {}
                }
            }
            Ok((n, e))
        })?;
        let (n, e) = n
            .zip(e)
            .ok_or(Error::Internal("PKCS#11 public key incomplete"))?;
        let components = aws_lc_rs::rsa::PublicKeyComponents { n, e };
        let spki = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(
            &components,
        )
        .map_err(|_| Error::Internal("RSA public key encoding failed"))?;
        let mut stored = STORED_PREFIX.to_vec();
        stored.extend_from_slice(key_id.as_bytes());
        Ok(NewRsaKey {
            public_spki: spki.as_ref().to_vec(),
            private_stored: stored,
        })
    }

    fn load_rsa(
        &self,
        _vault: &Vault,
        key_id: &str,
        stored: &[u8],
    ) -> Result<Box<dyn RsaPrivateKey>> {
        let id = stored_id(stored)?;
        if id != key_id.as_bytes() {
            return Err(Error::Internal("a stored key reference names another key"));
        }
        let known = self
            .token
            .rsa_handles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key_id)
            .copied();
        if let Some((handle, size)) = known {
            return Ok(Box::new(TokenRsaKey {
                token: Arc::clone(&self.token),
                handle,
                size,
            }));
        }
        let handle = self.token.find_one(ObjectClass::PRIVATE_KEY, id)?;
        let size = self.token.with_session(|s| {
            let attrs = s
                .get_attributes(handle, &[AttributeType::Modulus])
                .map_err(|_| Error::Internal("PKCS#11 key read failed"))?;
            Ok(attrs
                .into_iter()
                .find_map(|a| match a {
                    Attribute::Modulus(n) => Some(n.len()),
                    _ => None,
                })
                .unwrap_or(0))
        })?;
        self.token
            .rsa_handles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key_id.to_owned(), (handle, size));
        Ok(Box::new(TokenRsaKey {
            token: Arc::clone(&self.token),
            handle,
            size,
        }))
    }

    fn destroy_rsa(&self, key_id: &str) -> Result<()> {
        self.token
            .rsa_handles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key_id);
        for class in [ObjectClass::PRIVATE_KEY, ObjectClass::PUBLIC_KEY] {
            for handle in self.token.find(class, key_id.as_bytes())? {
                self.token.with_session(|s| {
                    s.destroy_object(handle)
                        .map_err(|_| Error::Internal("PKCS#11 key destruction failed"))
                })?;
            }
        }
        Ok(())
    }

    fn generate_pin_key(&self, _vault: &Vault) -> Result<Vec<u8>> {
        // Encrypts and decrypts PIN blocks; never wraps.
        self.generate_aes256(
            "pin-",
            "paysecure pin key",
            [
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
                Attribute::Wrap(false),
                Attribute::Unwrap(false),
            ],
        )
    }

    fn load_pin_key(&self, _vault: &Vault, stored: &[u8]) -> Result<PinKey> {
        let handle = self
            .token
            .find_one(ObjectClass::SECRET_KEY, stored_id(stored)?)?;
        Ok(Box::new(TokenPinKey {
            token: Arc::clone(&self.token),
            handle,
        }))
    }

    fn store_cvk(&self, _vault: &Vault, _binding: Binding<'_>, cvk: &CvkPair) -> Result<Vec<u8>> {
        let id = crate::util::ids::random_id::<8>("cvk-")?;
        let bytes = cvk.expose_bytes();
        let (a, b) = bytes
            .split_first_chunk::<8>()
            .ok_or(Error::Internal("stored CVK is invalid"))?;
        let mut value_a = Zeroizing::new(Vec::with_capacity(24));
        for _ in 0..3 {
            value_a.extend_from_slice(a);
        }
        let mut value_ab = Zeroizing::new(Vec::with_capacity(16));
        value_ab.extend_from_slice(a);
        value_ab.extend_from_slice(b);
        let object = |suffix: &str, key_type: KeyType, value: &[u8]| {
            let oid = format!("{id}-{suffix}");
            let mut template = secret_key_template("paysecure cvk", oid.as_bytes());
            template.extend([
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(key_type),
                Attribute::Encrypt(true),
                Attribute::Decrypt(false),
                Attribute::Sign(false),
                Attribute::Verify(false),
                Attribute::Wrap(false),
                Attribute::Unwrap(false),
                Attribute::Value(value.to_vec()),
            ]);
            let made = self.token.creating(|s| {
                s.create_object(&template)
                    .map_err(|_| Error::Internal("PKCS#11 CVK import failed"))
            });
            for a in &mut template {
                if let Attribute::Value(v) = a {
                    zeroize::Zeroize::zeroize(v);
                }
            }
            made
        };
        object("a", KeyType::DES3, &value_a)?;
        if let Err(e) = object("ab", KeyType::DES2, &value_ab) {
            let _ = self.destroy_cvk_objects(&id);
            return Err(e);
        }
        let mut stored = STORED_PREFIX.to_vec();
        stored.extend_from_slice(id.as_bytes());
        Ok(stored)
    }

    fn load_cvk(&self, vault: &Vault, binding: Binding<'_>, stored: &[u8]) -> Result<Cvk> {
        let Some(id) = stored.strip_prefix(STORED_PREFIX) else {
            // A tenant made before its CVKs moved into the token.
            return Ok(Box::new(super::open_sealed_cvk(vault, binding, stored)?));
        };
        let id = std::str::from_utf8(id).map_err(|_| Error::Internal("bad CVK reference"))?;
        let known = self
            .token
            .cvk_handles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .copied();
        let (a, ab) = match known {
            Some(h) => h,
            None => {
                let a = self
                    .token
                    .find_one(ObjectClass::SECRET_KEY, format!("{id}-a").as_bytes())?;
                let ab = self
                    .token
                    .find_one(ObjectClass::SECRET_KEY, format!("{id}-ab").as_bytes())?;
                self.token
                    .cvk_handles
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(id.to_owned(), (a, ab));
                (a, ab)
            }
        };
        Ok(Box::new(TokenCvk {
            token: Arc::clone(&self.token),
            a,
            ab,
        }))
    }

    fn discard_cvk(&self, stored: &[u8]) -> Result<()> {
        match stored.strip_prefix(STORED_PREFIX) {
            Some(id) => self.destroy_cvk_objects(
                std::str::from_utf8(id).map_err(|_| Error::Internal("bad CVK reference"))?,
            ),
            None => Ok(()),
        }
    }

    fn generate_kek(&self) -> Result<Vec<u8>> {
        // Only wraps and unwraps (the vault's master key).
        self.generate_aes256(
            "kek-",
            "paysecure key-encryption key",
            [
                Attribute::Encrypt(false),
                Attribute::Decrypt(false),
                Attribute::Sign(false),
                Attribute::Verify(false),
                Attribute::Wrap(true),
                Attribute::Unwrap(true),
            ],
        )
    }

    fn load_kek(&self, stored: &[u8]) -> Result<Kek> {
        let handle = self
            .token
            .find_one(ObjectClass::SECRET_KEY, stored_id(stored)?)?;
        Ok(Box::new(TokenKek {
            token: Arc::clone(&self.token),
            handle,
        }))
    }

    fn discard_kek(&self, stored: &[u8]) -> Result<()> {
        self.discard_pin_key(stored)
    }

    fn discard_pin_key(&self, stored: &[u8]) -> Result<()> {
        for handle in self
            .token
            .find(ObjectClass::SECRET_KEY, stored_id(stored)?)?
        {
            self.token.with_session(|s| {
                s.destroy_object(handle)
                    .map_err(|_| Error::Internal("PKCS#11 key destruction failed"))
            })?;
        }
        Ok(())
    }
}
