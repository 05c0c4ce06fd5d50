//! The PaySecure protocol, client side: versions, session ids, and the
//! `{ data, iv }` values exchanged under a session key.

use secrecy::{SecretSlice, SecretString};
use zeroize::Zeroizing;

use crate::cipher::{self, IV_LEN};
use crate::encoding;
use crate::error::{Error, Result};
use crate::pin_block::{self, PinBlockFormat};
use crate::public_key::{Padding, PublicKey};
use crate::secret::{KeySize, Pin, SessionKey};

/// PaySecure protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Version {
    /// RSAES-PKCS1-v1_5 session ids, AES-CBC/PKCS#7 data.
    V1,
    /// RSA-OAEP (SHA-1) session ids, AES-GCM data with 16-byte IVs.
    #[default]
    V2,
    /// The V2 scheme under the V3 endpoints.
    V3,
}

impl Version {
    /// Parses `"v1"`, `"v2"` or `"v3"` (case-insensitive); `"v1"` is
    /// [`Error::V1NotInEntry`] without the `v1` feature.
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            #[cfg(feature = "v1")]
            "v1" => Ok(Version::V1),
            #[cfg(not(feature = "v1"))]
            "v1" => Err(Error::V1NotInEntry),
            "v2" => Ok(Version::V2),
            "v3" => Ok(Version::V3),
            _ => Err(Error::UnsupportedVersion),
        }
    }

    /// `"v1"`, `"v2"` or `"v3"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1 => "v1",
            Version::V2 => "v2",
            Version::V3 => "v3",
        }
    }

    /// The RSA padding that wraps session keys in this version.
    pub fn padding(self) -> Padding {
        match self {
            Version::V1 => Padding::Pkcs1v15,
            Version::V2 | Version::V3 => Padding::OaepSha1,
        }
    }

    /// Whether data is authenticated (AES-GCM) rather than only encrypted (AES-CBC).
    pub fn is_authenticated(self) -> bool {
        !matches!(self, Version::V1)
    }
}

/// An encrypted value on the wire: `{ "data": base64, "iv": base64 }`.
///
/// For V2/V3 `data` is `ciphertext || 16-byte GCM tag`; for V1 it is the
/// AES-CBC ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedValue {
    /// Base64 ciphertext (with the tag appended for V2/V3).
    pub data: String,
    /// Base64 IV.
    pub iv: String,
}

/// Wraps `key` for `public_key` as the protocol's session id: RSA over the
/// UTF-8 bytes of the key's base64 text, then base64.
pub fn wrap_session_key(
    public_key: &PublicKey,
    key: &SessionKey,
    version: Version,
) -> Result<String> {
    let text = key.to_base64();
    let wrapped = public_key.encrypt(text.as_bytes(), version.padding())?;
    Ok(encoding::encode(&wrapped))
}

/// A per-thread pool of random bytes for AES-GCM IVs, refilled from the
/// platform CSPRNG in one call per [`iv_pool::POOL_LEN`] bytes instead of one
/// call per message (in a browser each call crosses from WebAssembly into
/// `crypto.getRandomValues`: the costliest step of a PIN encryption).
///
/// Why this keeps the protocol's guarantees:
/// - every IV is still 16 bytes straight from the CSPRNG, used once: each
///   byte of the pool is handed out at most once (the cursor only moves
///   forward and the bytes are zeroed as they are taken), so IVs stay fresh,
///   independent and uniformly random. GCM needs IVs that never repeat
///   under a key; 128 random bits give that whether drawn now or a moment
///   ago.
/// - IVs are public (sent next to the ciphertext); bytes not yet taken
///   reveal nothing about a key or a plaintext. Session keys and padding
///   randomness never come from the pool: [`SessionKey::generate`] and the
///   RSA padding call the CSPRNG directly.
/// - AES-CBC (V1) IVs must also be unpredictable, so they do not use it.
/// - A CSPRNG failure is reported as before ([`Error::RandomUnavailable`]),
///   at the refill, and nothing is handed out from a failed fill.
mod iv_pool {
    use core::cell::RefCell;
    use zeroize::Zeroize;

    use crate::error::{Error, Result};

    /// 16 IVs per refill.
    pub(super) const POOL_LEN: usize = 256;

    struct Pool {
        bytes: [u8; POOL_LEN],
        /// Bytes before `next` are taken (and zero).
        next: usize,
    }

    std::thread_local! {
        static POOL: RefCell<Pool> = const {
            RefCell::new(Pool { bytes: [0; POOL_LEN], next: POOL_LEN })
        };
    }

    /// Wipes the bytes not yet taken and empties the pool (when a session
    /// is dropped: no random bytes outlive the sessions that drew them).
    pub(super) fn clear() {
        POOL.with(|pool| {
            let mut pool = pool.borrow_mut();
            pool.bytes.zeroize();
            pool.next = POOL_LEN;
        });
    }

    /// Fills `out` (at most [`POOL_LEN`] bytes) with fresh random bytes.
    pub(super) fn take(out: &mut [u8]) -> Result<()> {
        if out.len() > POOL_LEN {
            getrandom::fill(out)?;
            return Ok(());
        }
        POOL.with(|pool| {
            let mut pool = pool.borrow_mut();
            if POOL_LEN - pool.next < out.len() {
                // Mark it empty first: a failed fill leaves nothing to hand out.
                pool.next = POOL_LEN;
                getrandom::fill(&mut pool.bytes)?;
                pool.next = 0;
            }
            let start = pool.next;
            let Some(taken) = pool.bytes.get_mut(start..start + out.len()) else {
                // Not reached: refilled above when fewer bytes remain.
                return Err(Error::RandomUnavailable);
            };
            out.copy_from_slice(taken);
            taken.zeroize();
            pool.next = start + out.len();
            Ok(())
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn hands_out_each_byte_once_and_wipes_it() {
            let mut seen = std::collections::HashSet::new();
            // Across several refills: no IV repeats, none is all zero.
            for _ in 0..(3 * POOL_LEN / 16 + 5) {
                let mut iv = [0u8; 16];
                take(&mut iv).unwrap();
                assert_ne!(iv, [0u8; 16]);
                assert!(seen.insert(iv), "an IV was handed out twice");
            }
            POOL.with(|pool| {
                let pool = pool.borrow();
                assert!(pool.next > 0 && pool.next <= POOL_LEN);
                assert!(pool.bytes[..pool.next].iter().all(|&b| b == 0));
                // What is left was not handed out and is still random.
                if pool.next <= POOL_LEN - 16 {
                    assert!(pool.bytes[pool.next..].iter().any(|&b| b != 0));
                }
            });
        }

        #[test]
        fn clear_wipes_what_was_not_taken() {
            let mut iv = [0u8; 16];
            take(&mut iv).unwrap();
            clear();
            POOL.with(|pool| {
                let pool = pool.borrow();
                assert_eq!(pool.next, POOL_LEN);
                assert!(pool.bytes.iter().all(|&b| b == 0));
            });
            // And it refills on the next take.
            let mut next = [0u8; 16];
            take(&mut next).unwrap();
            assert_ne!(next, [0u8; 16]);
            assert_ne!(next, iv);
        }

        #[test]
        fn larger_requests_bypass_the_pool() {
            let mut big = [0u8; POOL_LEN + 1];
            take(&mut big).unwrap();
            assert!(big.iter().any(|&b| b != 0));
        }
    }
}

/// One session: a version and a session key.
///
/// Drop wipes the key.
#[derive(Debug)]
pub struct Session {
    version: Version,
    key: SessionKey,
    /// The expanded AES-GCM key, made on first use (V2/V3).
    gcm: std::sync::OnceLock<cipher::Gcm16>,
}

impl Drop for Session {
    fn drop(&mut self) {
        // The key wipes itself; the IV pool is wiped with it, so that a
        // freed session leaves no random bytes behind (another live session
        // only pays one refill).
        iv_pool::clear();
    }
}

impl Session {
    /// A session over an existing key.
    pub fn new(version: Version, key: SessionKey) -> Self {
        Session {
            version,
            key,
            gcm: std::sync::OnceLock::new(),
        }
    }

    /// A session with a fresh random key of the given size.
    pub fn generate(version: Version, size: KeySize) -> Result<Self> {
        Ok(Session::new(version, SessionKey::generate(size)?))
    }

    /// The protocol version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The expanded GCM key, made once.
    fn gcm(&self) -> Result<&cipher::Gcm16> {
        if let Some(g) = self.gcm.get() {
            return Ok(g);
        }
        let g = cipher::Gcm16::new(&self.key)?;
        Ok(self.gcm.get_or_init(|| g))
    }

    /// The session key.
    pub fn key(&self) -> &SessionKey {
        &self.key
    }

    /// The session id to send for this session's key (fresh RSA randomness
    /// on every call).
    pub fn session_id(&self, public_key: &PublicKey) -> Result<String> {
        wrap_session_key(public_key, &self.key, self.version)
    }

    /// Encrypts `plaintext` under a fresh random 16-byte IV.
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<EncryptedValue> {
        let mut iv = [0u8; IV_LEN];
        if self.version.is_authenticated() {
            iv_pool::take(&mut iv)?;
        } else {
            // AES-CBC wants IVs that nobody can predict, not only unique
            // ones: straight from the CSPRNG, never drawn in advance.
            getrandom::fill(&mut iv)?;
        }
        let data = match self.version {
            Version::V2 | Version::V3 => self.gcm()?.seal(&iv, &[], plaintext)?,
            #[cfg(feature = "v1")]
            Version::V1 => cipher::cbc_encrypt(&self.key, &iv, plaintext)?,
            #[cfg(not(feature = "v1"))]
            Version::V1 => return Err(Error::V1NotInEntry),
        };
        Ok(EncryptedValue {
            data: encoding::encode(&data),
            iv: encoding::encode(&iv),
        })
    }

    /// Decrypts a value to bytes.
    ///
    /// In V1 (AES-CBC, unauthenticated) every failure, whether malformed
    /// base64, a bad IV, bad padding or a wrong length, is the one opaque
    /// [`Error::DecryptionFailed`]: nothing about a relayed value may be
    /// learnt from how it fails.
    pub fn decrypt(&self, value: &EncryptedValue) -> Result<SecretSlice<u8>> {
        self.decrypt_inner(value).map_err(|e| self.content_error(e))
    }

    fn decrypt_inner(&self, value: &EncryptedValue) -> Result<SecretSlice<u8>> {
        let data = encoding::decode(&value.data, "data")?;
        let iv = self.read_iv(&value.iv)?;
        let plain = match self.version {
            Version::V2 | Version::V3 => match <&[u8; IV_LEN]>::try_from(&iv[..]) {
                Ok(iv16) => self.gcm()?.open(iv16, &[], &data)?,
                Err(_) => cipher::gcm_decrypt(&self.key, &iv, &[], &data)?,
            },
            #[cfg(feature = "v1")]
            Version::V1 => cipher::cbc_decrypt(&self.key, &iv, &data)?,
            #[cfg(not(feature = "v1"))]
            Version::V1 => return Err(Error::V1NotInEntry),
        };
        // Copied into an allocation of the exact length: turning the Vec
        // itself into a boxed slice would shrink it in place or move it,
        // and the block it frees (the plaintext, e.g. a format-2 PIN block)
        // would not be wiped. `plain` is wiped as it drops.
        Ok(SecretSlice::new(Box::<[u8]>::from(&plain[..])))
    }

    /// Decrypts a value that holds UTF-8 text.
    ///
    /// Non-UTF-8 plaintext is [`Error::InvalidUtf8`] in V2/V3 (authenticated,
    /// so it truly is what the sender sent) but [`Error::DecryptionFailed`] in
    /// V1, where telling it apart from bad padding would hand an attacker a
    /// decryption oracle.
    pub fn decrypt_string(&self, value: &EncryptedValue) -> Result<SecretString> {
        use secrecy::ExposeSecret;
        let bytes = self.decrypt(value)?;
        let text = core::str::from_utf8(bytes.expose_secret())
            .map_err(|_| self.content_error(Error::InvalidUtf8))?;
        Ok(SecretString::from(text))
    }

    /// Builds the ISO 9564 format-2 block of `pin` (`"241432FFFFFFFFFF"`)
    /// and encrypts its 16 ASCII bytes.
    pub fn encrypt_pin(&self, pin: &Pin) -> Result<EncryptedValue> {
        let block = pin_block::encode(pin, PinBlockFormat::Iso2, None)?;
        self.encrypt(block.as_bytes())
    }

    /// Decrypts a format-2 PIN block and returns the PIN.
    ///
    /// A malformed block is [`Error::InvalidPinBlock`] in V2/V3 and, for the
    /// reason given at [`Session::decrypt_string`], [`Error::DecryptionFailed`] in V1.
    pub fn decrypt_pin(&self, value: &EncryptedValue) -> Result<Pin> {
        use secrecy::ExposeSecret;
        let bytes = self.decrypt(value)?;
        let bad_block =
            || self.content_error(Error::InvalidPinBlock("the PIN block is not ISO format 2"));
        let block = core::str::from_utf8(bytes.expose_secret()).map_err(|_| bad_block())?;
        match pin_block::decode(block, None) {
            Ok((pin, PinBlockFormat::Iso2)) => Ok(pin),
            Ok(_) => Err(bad_block()),
            Err(e) => Err(self.content_error(e)),
        }
    }

    /// In V1 nothing about a plaintext may be reported beyond "failed".
    fn content_error(&self, e: Error) -> Error {
        if self.version.is_authenticated() {
            e
        } else {
            Error::DecryptionFailed
        }
    }

    /// Reads an IV: base64 of 16 bytes (or 12 for GCM); in V1 also the
    /// 16-character text form of the V1 documentation, whose UTF-8 bytes are
    /// the IV (e.g. `"Xb6qbV2L6d1F92YU"`).
    fn read_iv(&self, iv: &str) -> Result<Zeroizing<Vec<u8>>> {
        let decoded = encoding::decode(iv, "iv");
        match (self.version, decoded) {
            (_, Ok(bytes)) if bytes.len() == IV_LEN => Ok(bytes),
            (Version::V2 | Version::V3, Ok(bytes)) if bytes.len() == cipher::GCM_SHORT_IV_LEN => {
                Ok(bytes)
            }
            (Version::V1, _) if iv.len() == IV_LEN => Ok(Zeroizing::new(iv.as_bytes().to_vec())),
            (Version::V1, _) => Err(Error::InvalidIv(
                "a V1 IV must be base64 of 16 bytes or a 16-character text",
            )),
            (_, Ok(_)) => Err(Error::InvalidIv(
                "an AES-GCM IV must be 16 bytes (or 12 bytes)",
            )),
            (_, Err(e)) => Err(e),
        }
    }
}
