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
use aes_gcm::aead::consts::{U12, U16};
use aes_gcm::aead::{self, AeadInPlace, KeyInit};
use aes_gcm::AesGcm;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::secret::{KeySize, SessionKey};

/// Length of the GCM authentication tag appended to every V2/V3 ciphertext.
pub const TAG_LEN: usize = 16;
/// IV length the protocol uses for both schemes.
pub const IV_LEN: usize = 16;
/// The other GCM IV length accepted on decryption (NIST SP 800-38D's 96 bits).
pub const GCM_SHORT_IV_LEN: usize = 12;

/// Dispatches on (key size, IV length) to a concrete `AesGcm` type.
macro_rules! with_gcm {
    ($key:expr, $iv:expr, $f:ident ( $($arg:expr),* )) => {
        match ($key.size(), $iv.len()) {
            (KeySize::Aes128, IV_LEN) => $f::<AesGcm<Aes128, U16>>($key.expose_bytes(), $iv, $($arg),*),
            (KeySize::Aes192, IV_LEN) => $f::<AesGcm<Aes192, U16>>($key.expose_bytes(), $iv, $($arg),*),
            (KeySize::Aes256, IV_LEN) => $f::<AesGcm<Aes256, U16>>($key.expose_bytes(), $iv, $($arg),*),
            (KeySize::Aes128, GCM_SHORT_IV_LEN) => $f::<AesGcm<Aes128, U12>>($key.expose_bytes(), $iv, $($arg),*),
            (KeySize::Aes192, GCM_SHORT_IV_LEN) => $f::<AesGcm<Aes192, U12>>($key.expose_bytes(), $iv, $($arg),*),
            (KeySize::Aes256, GCM_SHORT_IV_LEN) => $f::<AesGcm<Aes256, U12>>($key.expose_bytes(), $iv, $($arg),*),
            _ => Err(Error::InvalidIv("an AES-GCM IV must be 16 bytes (or 12 bytes)")),
        }
    };
}

fn seal<A: KeyInit + AeadInPlace>(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    buf: &mut Vec<u8>,
) -> Result<()> {
    let aead = A::new_from_slice(key).map_err(|_| Error::InvalidKeySize)?;
    let nonce = aead::Nonce::<A>::from_exact_iter(iv.iter().copied())
        .ok_or(Error::InvalidIv("wrong IV length"))?;
    aead.encrypt_in_place(&nonce, aad, buf)
        .map_err(|_| Error::EncryptionFailed)
}

fn open<A: KeyInit + AeadInPlace>(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    buf: &mut Vec<u8>,
) -> Result<()> {
    let aead = A::new_from_slice(key).map_err(|_| Error::InvalidKeySize)?;
    let nonce = aead::Nonce::<A>::from_exact_iter(iv.iter().copied())
        .ok_or(Error::InvalidIv("wrong IV length"))?;
    aead.decrypt_in_place(&nonce, aad, buf)
        .map_err(|_| Error::DecryptionFailed)
}

/// AES-GCM encryption; returns `ciphertext || tag`.
///
/// `iv` must be 16 bytes (the protocol's size) or 12 bytes. The protocol
/// itself uses an empty `aad`.
pub fn gcm_encrypt(key: &SessionKey, iv: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let mut buf = Zeroizing::new(Vec::with_capacity(plaintext.len() + TAG_LEN));
    buf.extend_from_slice(plaintext);
    with_gcm!(key, iv, seal(aad, &mut buf))?;
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
    if iv.len() != IV_LEN && iv.len() != GCM_SHORT_IV_LEN {
        return Err(Error::InvalidIv(
            "an AES-GCM IV must be 16 bytes (or 12 bytes)",
        ));
    }
    if ciphertext_and_tag.len() < TAG_LEN {
        return Err(Error::DecryptionFailed);
    }
    let mut buf = Zeroizing::new(ciphertext_and_tag.to_vec());
    with_gcm!(key, iv, open(aad, &mut buf))?;
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
    let out = match key.size() {
        KeySize::Aes128 => cbc::Encryptor::<Aes128>::new_from_slices(k, &iv)
            .map(|c| c.encrypt_padded_vec_mut::<Pkcs7>(plaintext)),
        KeySize::Aes192 => cbc::Encryptor::<Aes192>::new_from_slices(k, &iv)
            .map(|c| c.encrypt_padded_vec_mut::<Pkcs7>(plaintext)),
        KeySize::Aes256 => cbc::Encryptor::<Aes256>::new_from_slices(k, &iv)
            .map(|c| c.encrypt_padded_vec_mut::<Pkcs7>(plaintext)),
    };
    out.map_err(|_| Error::InvalidKeySize)
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
    let len = match key.size() {
        KeySize::Aes128 => cbc::Decryptor::<Aes128>::new_from_slices(k, &iv)
            .map_err(|_| Error::InvalidKeySize)?
            .decrypt_padded_mut::<Pkcs7>(&mut buf)
            .map(|pt| pt.len()),
        KeySize::Aes192 => cbc::Decryptor::<Aes192>::new_from_slices(k, &iv)
            .map_err(|_| Error::InvalidKeySize)?
            .decrypt_padded_mut::<Pkcs7>(&mut buf)
            .map(|pt| pt.len()),
        KeySize::Aes256 => cbc::Decryptor::<Aes256>::new_from_slices(k, &iv)
            .map_err(|_| Error::InvalidKeySize)?
            .decrypt_padded_mut::<Pkcs7>(&mut buf)
            .map(|pt| pt.len()),
    }
    .map_err(|_| Error::DecryptionFailed)?;
    // `truncate` keeps the capacity, so the wipe on drop still covers the
    // padding bytes.
    buf.truncate(len);
    Ok(buf)
}
