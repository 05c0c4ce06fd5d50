//! The two symmetric schemes of the protocol, over an explicit IV.
//!
//! * V2/V3: AES-GCM with a 16-byte IV (J0 derived through GHASH, as Java's
//!   `AES/GCM/NoPadding`, node-forge and WebCrypto do for non-96-bit IVs),
//!   no AAD in the protocol, 128-bit tag appended to the ciphertext.
//!   Decryption also takes 12-byte IVs.
//! * V1: AES-CBC with PKCS#7 padding and a 16-byte IV.
//!
//! These functions are primitives: the caller supplies the IV and must never
//! reuse one under the same key (for GCM a reused IV reveals the
//! authentication key). [`crate::Session`] draws a fresh random IV per message.

use aes::{Aes128, Aes192, Aes256};
use aes_gcm::aead::consts::{U12, U16, U26};
use aes_gcm::aead::{self, AeadInPlace, KeyInit};
use aes_gcm::AesGcm;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use core::mem::ManuallyDrop;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::secret::{KeySize, SessionKey};

/// Length of the GCM authentication tag appended to every V2/V3 ciphertext.
pub const TAG_LEN: usize = 16;
/// IV length the protocol uses for both schemes.
pub const IV_LEN: usize = 16;
/// The other GCM IV length accepted on decryption (NIST SP 800-38D's 96 bits).
pub const GCM_SHORT_IV_LEN: usize = 12;
/// The GCM nonce length of the account payment-information API's encrypted
/// bodies ([`crate::body`]): 14 timestamp digits and 12 hex digits.
pub const GCM_BODY_NONCE_LEN: usize = 26;

/// Runs `$body` with `$C` bound to the AES type of `$size`.
macro_rules! with_aes {
    ($size:expr, $C:ident => $body:expr) => {
        match $size {
            KeySize::Aes128 => {
                type $C = Aes128;
                $body
            }
            KeySize::Aes192 => {
                type $C = Aes192;
                $body
            }
            KeySize::Aes256 => {
                type $C = Aes256;
                $body
            }
        }
    };
}

#[derive(Clone, Copy)]
enum Direction {
    Seal,
    Open,
}

fn apply<A: AeadInPlace>(
    aead: &A,
    iv: &[u8],
    aad: &[u8],
    buf: &mut Vec<u8>,
    direction: Direction,
) -> Result<()> {
    let nonce = aead::Nonce::<A>::from_exact_iter(iv.iter().copied())
        .ok_or(Error::InvalidIv("wrong IV length"))?;
    match direction {
        Direction::Seal => aead
            .encrypt_in_place(&nonce, aad, buf)
            .map_err(|_| Error::EncryptionFailed),
        Direction::Open => aead
            .decrypt_in_place(&nonce, aad, buf)
            .map_err(|_| Error::DecryptionFailed),
    }
}

/// Types made of integers and arrays of them only, with no pointers and no
/// enums, so that all-zero bytes are a valid value.
///
/// # Safety
///
/// Implement only for such types: [`WipeOnDrop`] overwrites their storage
/// with zeros.
#[allow(unsafe_code)] // the crate's only unsafe code: this trait, its impls and the wipe
pub(crate) unsafe trait Flat {}

// An AES-GCM instance is the AES key schedule (round keys, fixsliced or
// AES-NI registers), the GHASH key and state (POLYVAL field elements) and
// zero-sized markers, in every backend of `aes` 0.8 and `polyval` 0.6.
// SAFETY: see above; no pointers, no enums, all-zero is a valid value.
#[allow(unsafe_code)]
unsafe impl<N> Flat for AesGcm<Aes128, N> {}
// SAFETY: as for AES-128.
#[allow(unsafe_code)]
unsafe impl<N> Flat for AesGcm<Aes192, N> {}
// SAFETY: as for AES-128.
#[allow(unsafe_code)]
unsafe impl<N> Flat for AesGcm<Aes256, N> {}

/// Holds a cipher and, when dropped, drops it and then overwrites every byte
/// of its storage with zeros, whatever its own `Drop` wipes: `aes-gcm`'s
/// `zeroize` feature wipes only a temporary, the GHASH/POLYVAL state is wiped
/// only by `polyval`'s software backend and not by its AES-NI/PMULL one, and
/// none of that is checked by the compiler.
pub(crate) struct WipeOnDrop<T: Flat>(ManuallyDrop<T>);

impl<T: Flat> WipeOnDrop<T> {
    fn new(value: T) -> Self {
        WipeOnDrop(ManuallyDrop::new(value))
    }
}

impl<T: Flat> core::ops::Deref for WipeOnDrop<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Flat> Drop for WipeOnDrop<T> {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: the value is dropped here, once, and never used again (this
        // is the wrapper's own drop); what is left is this wrapper's storage,
        // which `ManuallyDrop` keeps from being dropped a second time. `T` is
        // `Flat`, so the zeroed bytes are even a valid `T`.
        unsafe {
            ManuallyDrop::drop(&mut self.0);
            zeroize::zeroize_flat_type(&mut self.0 as *mut ManuallyDrop<T>);
        }
    }
}

/// AES-GCM with the protocol's 16-byte IV for one key, with the AES key
/// schedule and the GHASH key computed once: a [`crate::Session`] keeps one
/// for all its messages. Wiped on drop, every byte of it.
pub struct Gcm16(Gcm16Key);

enum Gcm16Key {
    A128(WipeOnDrop<AesGcm<Aes128, U16>>),
    A192(WipeOnDrop<AesGcm<Aes192, U16>>),
    A256(WipeOnDrop<AesGcm<Aes256, U16>>),
}

impl core::fmt::Debug for Gcm16 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Gcm16([REDACTED])")
    }
}

impl Gcm16 {
    /// Expands `key`.
    pub fn new(key: &SessionKey) -> Result<Self> {
        let k = key.expose_bytes();
        let bad = |_| Error::InvalidKeySize;
        Ok(Gcm16(match key.size() {
            KeySize::Aes128 => {
                Gcm16Key::A128(WipeOnDrop::new(AesGcm::new_from_slice(k).map_err(bad)?))
            }
            KeySize::Aes192 => {
                Gcm16Key::A192(WipeOnDrop::new(AesGcm::new_from_slice(k).map_err(bad)?))
            }
            KeySize::Aes256 => {
                Gcm16Key::A256(WipeOnDrop::new(AesGcm::new_from_slice(k).map_err(bad)?))
            }
        }))
    }

    fn apply(&self, iv: &[u8], aad: &[u8], buf: &mut Vec<u8>, direction: Direction) -> Result<()> {
        match &self.0 {
            Gcm16Key::A128(a) => apply(&**a, iv, aad, buf, direction),
            Gcm16Key::A192(a) => apply(&**a, iv, aad, buf, direction),
            Gcm16Key::A256(a) => apply(&**a, iv, aad, buf, direction),
        }
    }

    /// Encrypts under the 16-byte `iv`; returns `ciphertext || tag`.
    pub fn seal(&self, iv: &[u8; IV_LEN], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut buf = Zeroizing::new(Vec::with_capacity(plaintext.len() + TAG_LEN));
        buf.extend_from_slice(plaintext);
        self.apply(iv, aad, &mut buf, Direction::Seal)?;
        Ok(core::mem::take(&mut *buf))
    }

    /// Decrypts `ciphertext || tag` under the 16-byte `iv`; any failure is
    /// the opaque [`Error::DecryptionFailed`].
    pub fn open(
        &self,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        ciphertext_and_tag: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        if ciphertext_and_tag.len() < TAG_LEN {
            return Err(Error::DecryptionFailed);
        }
        let mut buf = Zeroizing::new(ciphertext_and_tag.to_vec());
        self.apply(iv, aad, &mut buf, Direction::Open)?;
        Ok(buf)
    }
}

/// AES-GCM in place over `buf`, for any key size and either IV length.
fn gcm(
    key: &SessionKey,
    iv: &[u8],
    aad: &[u8],
    buf: &mut Vec<u8>,
    direction: Direction,
) -> Result<()> {
    fn run<A: KeyInit + AeadInPlace + Flat>(
        key: &[u8],
        iv: &[u8],
        aad: &[u8],
        buf: &mut Vec<u8>,
        direction: Direction,
    ) -> Result<()> {
        let aead = WipeOnDrop::new(A::new_from_slice(key).map_err(|_| Error::InvalidKeySize)?);
        apply(&*aead, iv, aad, buf, direction)
    }
    let k = key.expose_bytes();
    if iv.len() == IV_LEN {
        return Gcm16::new(key)?.apply(iv, aad, buf, direction);
    }
    with_aes!(key.size(), C => match iv.len() {
        GCM_SHORT_IV_LEN => run::<AesGcm<C, U12>>(k, iv, aad, buf, direction),
        GCM_BODY_NONCE_LEN => run::<AesGcm<C, U26>>(k, iv, aad, buf, direction),
        _ => Err(Error::InvalidIv("an AES-GCM IV must be 16 bytes (or 12 bytes)")),
    })
}

/// AES-GCM encryption; returns `ciphertext || tag`.
///
/// `iv` must be 16 bytes (the protocol's size) or 12 bytes. The protocol
/// itself uses an empty `aad`.
pub fn gcm_encrypt(key: &SessionKey, iv: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let mut buf = Zeroizing::new(Vec::with_capacity(plaintext.len() + TAG_LEN));
    buf.extend_from_slice(plaintext);
    gcm(key, iv, aad, &mut buf, Direction::Seal)?;
    Ok(core::mem::take(&mut *buf))
}

/// AES-GCM decryption of `ciphertext || tag`.
///
/// Any failure after the IV check (short input, bad tag, wrong key) is the
/// single opaque [`Error::DecryptionFailed`].
pub fn gcm_decrypt(
    key: &SessionKey,
    iv: &[u8],
    aad: &[u8],
    ciphertext_and_tag: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    // Checked first so that a wrong IV size is reported as such, even for
    // inputs too short to hold a tag.
    if ![IV_LEN, GCM_SHORT_IV_LEN, GCM_BODY_NONCE_LEN].contains(&iv.len()) {
        return Err(Error::InvalidIv(
            "an AES-GCM IV must be 16 bytes (or 12 bytes)",
        ));
    }
    if ciphertext_and_tag.len() < TAG_LEN {
        return Err(Error::DecryptionFailed);
    }
    let mut buf = Zeroizing::new(ciphertext_and_tag.to_vec());
    gcm(key, iv, aad, &mut buf, Direction::Open)?;
    Ok(buf)
}

fn cbc_iv(iv: &[u8]) -> Result<[u8; IV_LEN]> {
    iv.try_into()
        .map_err(|_| Error::InvalidIv("an AES-CBC IV must be 16 bytes"))
}

/// AES-CBC encryption with PKCS#7 padding.
pub fn cbc_encrypt(key: &SessionKey, iv: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let iv = cbc_iv(iv)?;
    let k = key.expose_bytes();
    with_aes!(key.size(), C => cbc::Encryptor::<C>::new_from_slices(k, &iv)
        .map(|c| c.encrypt_padded_vec_mut::<Pkcs7>(plaintext)))
    .map_err(|_| Error::InvalidKeySize)
}

/// AES-CBC decryption with PKCS#7 unpadding.
///
/// Bad padding, a length that is not a positive multiple of 16 and a wrong
/// key all give the single opaque [`Error::DecryptionFailed`].
pub fn cbc_decrypt(key: &SessionKey, iv: &[u8], ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let iv = cbc_iv(iv)?;
    if ciphertext.is_empty() || ciphertext.len() % 16 != 0 {
        return Err(Error::DecryptionFailed);
    }
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    let k = key.expose_bytes();
    let len = with_aes!(key.size(), C => cbc::Decryptor::<C>::new_from_slices(k, &iv)
        .map_err(|_| Error::InvalidKeySize)?
        .decrypt_padded_mut::<Pkcs7>(&mut buf)
        .map(|pt| pt.len()))
    .map_err(|_| Error::DecryptionFailed)?;
    // `truncate` keeps the capacity, so the wipe on drop still covers the
    // padding bytes.
    buf.truncate(len);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::size_of;

    /// The bytes of `value`'s storage after it was dropped where it lies.
    #[allow(unsafe_code)]
    fn storage_after_drop<T>(value: T) -> Vec<u8> {
        let mut slot = ManuallyDrop::new(value);
        // SAFETY: dropped once, then only the slot's raw bytes are read, as
        // `u8` (the wipe under test initialises every one of them).
        unsafe {
            ManuallyDrop::drop(&mut slot);
            let at = (&slot as *const ManuallyDrop<T>).cast::<u8>();
            core::slice::from_raw_parts(at, size_of::<T>()).to_vec()
        }
    }

    /// The AES key schedule and the GHASH key and state are gone, every byte,
    /// whatever the backend: natively `polyval`'s AES-NI/PMULL backend has no
    /// `Drop` at all, so an unwrapped `AesGcm` keeps H after it is dropped.
    #[test]
    fn gcm_state_is_wiped_to_the_last_byte_on_drop() {
        fn check<A: KeyInit + AeadInPlace + Flat>(key_len: usize) {
            let aead = WipeOnDrop::new(A::new_from_slice(&vec![0x5a; key_len]).unwrap());
            let mut buf = b"used once, so the GHASH state is not empty".to_vec();
            let iv = aead::Nonce::<A>::default();
            apply(&*aead, &iv, b"aad", &mut buf, Direction::Seal).unwrap();
            let left = storage_after_drop(aead);
            assert!(left.len() >= 16 * 11, "{} bytes", left.len());
            assert!(
                left.iter().all(|&b| b == 0),
                "{key_len}-byte key: {left:02x?}"
            );
        }
        check::<AesGcm<Aes128, U16>>(16);
        check::<AesGcm<Aes192, U16>>(24);
        check::<AesGcm<Aes256, U16>>(32);
        check::<AesGcm<Aes256, U12>>(32);
    }
}
