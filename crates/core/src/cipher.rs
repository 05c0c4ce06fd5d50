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

use aes::cipher::consts::{U16, U8};
use aes::cipher::inout::{InOut, InOutBuf};
// `InnerIvInit` is AES-CBC's (the `v1` feature).
#[cfg_attr(not(feature = "v1"), allow(unused_imports))]
use aes::cipher::{
    Block, BlockBackend, BlockCipher, BlockClosure, BlockDecrypt, BlockEncrypt, BlockSizeUser,
    InnerIvInit, KeyInit, ParBlocks, ParBlocksSizeUser,
};
use aes::{Aes128, Aes192, Aes256};
#[cfg(feature = "v1")]
use cbc::cipher::block_padding::Pkcs7;
#[cfg(feature = "v1")]
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut};
use core::mem::ManuallyDrop;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};
use crate::ghash_ct64::Ghash;
use crate::secret::{KeySize, SessionKey};

/// Length of the GCM authentication tag appended to every V2/V3 ciphertext.
pub const TAG_LEN: usize = 16;
/// IV length the protocol uses for both schemes.
pub const IV_LEN: usize = 16;
/// The other GCM IV length accepted on decryption (NIST SP 800-38D's 96 bits).
pub const GCM_SHORT_IV_LEN: usize = 12;
/// The GCM nonce length of the account payment-information API's encrypted
/// bodies (`crate::body`): 14 timestamp digits and 12 hex digits.
pub const GCM_BODY_NONCE_LEN: usize = 26;

#[derive(Clone, Copy)]
enum Direction {
    Seal,
    Open,
}

/// Types made of integers and arrays of them only, with no pointers, and
/// `repr(C)` structs and `repr(C, u8)` enums of them whose variant 0 is such
/// a type, so that all-zero bytes are a valid value.
///
/// # Safety
///
/// Implement only for such types: [`WipeOnDrop`] overwrites their storage
/// with zeros.
#[allow(unsafe_code)] // the crate's only unsafe code: this trait, its impls and the wipe
pub(crate) unsafe trait Flat {}

// An AES key schedule is round keys (fixsliced words, or AES-NI registers
// and the CPU-feature token) in every backend of `aes` 0.8; the GHASH key
// and state are four `u64`s (`ghash_ct64`).
// SAFETY: see above; no pointers, no enums, all-zero is a valid value.
#[allow(unsafe_code)]
unsafe impl Flat for Aes128 {}
// SAFETY: as for AES-128.
#[allow(unsafe_code)]
unsafe impl Flat for Aes192 {}
// SAFETY: as for AES-128.
#[allow(unsafe_code)]
unsafe impl Flat for Aes256 {}
// SAFETY: as for AES-128.
#[allow(unsafe_code)]
unsafe impl Flat for Ghash {}
// SAFETY: `repr(C, u8)`, variant 0 (tag 0) is AES-128, itself `Flat`: the
// all-zero bytes are AES-128 with an all-zero key schedule. No pointers.
#[allow(unsafe_code)]
unsafe impl Flat for AnyAes {}
// SAFETY: `repr(C)` of two `Flat` fields.
#[allow(unsafe_code)]
unsafe impl Flat for GcmState {}

/// Holds a cipher and, when dropped, drops it and then overwrites every byte
/// of its storage with zeros, whatever its own `Drop` wipes: `aes`'s
/// `zeroize` feature wipes the round keys and [`Ghash`] its key and state,
/// but no `Drop` of a field wipes an enum's tag or the padding, and none of
/// that is checked by the compiler.
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

/// AES with its key size chosen at run time. One type for the three key
/// sizes, so that the GCM, CTR and CBC code above it is compiled once, not
/// once per key size (and, for GCM, once per IV length): the block
/// functions of each size are all that is per size. Hold it in a
/// [`WipeOnDrop`]: that wipes the tag and the padding after it too (a move
/// copies padding bytes as they were, stale stack bytes included), which the
/// key schedules' own `Drop` does not.
#[repr(C, u8)]
pub(crate) enum AnyAes {
    A128(Aes128) = 0,
    A192(Aes192) = 1,
    A256(Aes256) = 2,
}

impl AnyAes {
    /// Expands `key` (16, 24 or 32 bytes; its size is already checked).
    pub(crate) fn new(key: &SessionKey) -> Result<Self> {
        let k = key.expose_bytes();
        let bad = |_| Error::InvalidKeySize;
        Ok(match key.size() {
            KeySize::Aes128 => AnyAes::A128(Aes128::new_from_slice(k).map_err(bad)?),
            KeySize::Aes192 => AnyAes::A192(Aes192::new_from_slice(k).map_err(bad)?),
            KeySize::Aes256 => AnyAes::A256(Aes256::new_from_slice(k).map_err(bad)?),
        })
    }
}

impl BlockSizeUser for AnyAes {
    type BlockSize = U16;
}

impl BlockCipher for AnyAes {}

/// The one block backend of [`AnyAes`], for either direction: single blocks
/// and runs of blocks go to the key size's own (constant-time) AES, which
/// splits runs into its own parallel width.
struct AnyAesBackend<'a> {
    aes: &'a AnyAes,
    /// The inverse cipher: V1's CBC decryption only (GCM and CTR run AES
    /// forwards), so a build without V1 has no call of it here.
    #[cfg(feature = "v1")]
    inverse: bool,
}

impl BlockSizeUser for AnyAesBackend<'_> {
    type BlockSize = U16;
}

impl ParBlocksSizeUser for AnyAesBackend<'_> {
    // A multiple of every backend's width (soft: 2 or 4; AES-NI: 8).
    type ParBlocksSize = U8;
}

/// Runs `$body` with `$c` bound to the key schedule of `$aes`.
macro_rules! with_key {
    ($aes:expr, $c:ident => $body:expr) => {
        match $aes {
            AnyAes::A128($c) => $body,
            AnyAes::A192($c) => $body,
            AnyAes::A256($c) => $body,
        }
    };
}

impl BlockBackend for AnyAesBackend<'_> {
    fn proc_block(&mut self, block: InOut<'_, '_, Block<Self>>) {
        #[cfg(feature = "v1")]
        if self.inverse {
            return with_key!(self.aes, c => c.decrypt_block_inout(block));
        }
        with_key!(self.aes, c => c.encrypt_block_inout(block))
    }

    fn proc_par_blocks(&mut self, blocks: InOut<'_, '_, ParBlocks<Self>>) {
        self.proc_tail_blocks(blocks.into_buf());
    }

    fn proc_tail_blocks(&mut self, blocks: InOutBuf<'_, '_, Block<Self>>) {
        #[cfg(feature = "v1")]
        if self.inverse {
            return with_key!(self.aes, c => c.decrypt_blocks_inout(blocks));
        }
        with_key!(self.aes, c => c.encrypt_blocks_inout(blocks))
    }
}

impl BlockEncrypt for AnyAes {
    fn encrypt_with_backend(&self, f: impl BlockClosure<BlockSize = U16>) {
        f.call(&mut AnyAesBackend {
            aes: self,
            #[cfg(feature = "v1")]
            inverse: false,
        })
    }
}

#[cfg(feature = "v1")]
impl BlockDecrypt for AnyAes {
    fn decrypt_with_backend(&self, f: impl BlockClosure<BlockSize = U16>) {
        f.call(&mut AnyAesBackend {
            aes: self,
            inverse: true,
        })
    }
}

/// NIST SP 800-38D's bounds on plaintext and AAD, in bytes (as `aes-gcm`).
const P_MAX: u64 = (1 << 36) - 32;
const A_MAX: u64 = (1 << 36) - 1;

/// AES-GCM (NIST SP 800-38D) for one key, any key size and any IV length,
/// composed as `aes-gcm` composes it, of RustCrypto's AES, the GCTR counter
/// mode (`Keystream`, which makes the tag mask in the same AES call as the
/// first counter blocks) and the constant-time GHASH of `ghash_ct64`, with
/// the AES key schedule and the GHASH key computed once: a
/// [`crate::Session`] keeps one for all its messages. The tag is checked in
/// constant time before anything is decrypted. Wiped on
/// drop, every byte of it.
pub struct Gcm16(WipeOnDrop<GcmState>);

/// What a [`Gcm16`] holds: the key schedule and the GHASH key and state.
#[repr(C)]
pub(crate) struct GcmState {
    aes: AnyAes,
    ghash: Ghash,
}

impl core::fmt::Debug for Gcm16 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Gcm16([REDACTED])")
    }
}

/// Counter blocks per call of the key size's AES: one call of its parallel
/// code (soft compact: two blocks a pass; soft fixsliced: four).
const PAR: usize = 4;

/// GCTR's keystream for one message (SP 800-38D §6.5 and §7): block `i` is
/// `E(K, inc32^i(J0))`, the counter the low 32 bits of the block,
/// big-endian, wrapping. Block 0 is the tag mask `E(K, J0)`, made in the
/// same call of the AES as the first data blocks: a PIN block or a PAN
/// (one or two blocks) costs one call, not one for the mask and one for the
/// data. Wiped on drop.
struct Keystream<'a> {
    aes: &'a AnyAes,
    /// J0, its low 32 bits the counter of the next block to make.
    next: [u8; 16],
    /// Blocks made by the last call, then (at `PAR`) the mask, kept apart:
    /// the first `PAR` are refilled for messages of over `PAR - 1` blocks.
    blocks: [Block<AnyAes>; PAR + 1],
}

impl<'a> Keystream<'a> {
    /// The keystream of `j0` for a message of `len` bytes, with the mask
    /// and the message's first blocks (up to `PAR - 1`) made.
    fn start(aes: &'a AnyAes, j0: &Block<AnyAes>, len: usize) -> Self {
        let mut ks = Keystream {
            aes,
            next: (*j0).into(),
            blocks: Default::default(),
        };
        ks.fill(1 + Self::head(len).div_ceil(16));
        ks.blocks[PAR] = ks.blocks[0];
        ks
    }

    /// How many of a message's first bytes [`start`](Keystream::start)'s
    /// blocks cover.
    fn head(len: usize) -> usize {
        len.min(16 * (PAR - 1))
    }

    /// Makes the next `n` (at most `PAR`) blocks into `blocks[..n]`. Out of
    /// line: one copy of the dispatch to the key size's AES.
    #[inline(never)]
    fn fill(&mut self, n: usize) -> &[Block<AnyAes>] {
        let blocks = self.blocks.get_mut(..n.min(PAR)).unwrap_or_default();
        for block in blocks.iter_mut() {
            block.copy_from_slice(&self.next);
            let (_, counter) = self.next.split_at_mut(12);
            let mut c = [0u8; 4];
            c.copy_from_slice(counter);
            counter.copy_from_slice(&u32::from_be_bytes(c).wrapping_add(1).to_be_bytes());
        }
        self.aes.encrypt_blocks(blocks);
        blocks
    }

    /// The tag mask `E(K, J0)`.
    fn mask(&self) -> &Block<AnyAes> {
        &self.blocks[PAR]
    }

    /// XORs the keystream from block 1 into `data`: the blocks [`start`]
    /// made first, then `PAR` at a time.
    ///
    /// [`start`]: Keystream::start
    fn apply(&mut self, data: &mut [u8]) {
        let (first, rest) = data.split_at_mut(Self::head(data.len()));
        for (d, k) in first.iter_mut().zip(self.blocks.iter().skip(1).flatten()) {
            *d ^= k;
        }
        for chunk in rest.chunks_mut(16 * PAR) {
            let keystream = self.fill(chunk.len().div_ceil(16));
            for (d, k) in chunk.iter_mut().zip(keystream.iter().flatten()) {
                *d ^= k;
            }
        }
    }
}

impl Drop for Keystream<'_> {
    fn drop(&mut self) {
        self.next.zeroize();
        for block in self.blocks.iter_mut() {
            block.as_mut_slice().zeroize();
        }
    }
}

/// The GHASH block `[8a]_64 || [8b]_64`: two lengths in bits.
fn bit_lengths(a: usize, b: usize) -> [u8; 16] {
    let bits = |n: usize| u128::from(n as u64 * 8);
    ((bits(a) << 64) | bits(b)).to_be_bytes()
}

impl Gcm16 {
    /// Expands `key`.
    pub fn new(key: &SessionKey) -> Result<Self> {
        let aes = AnyAes::new(key)?;
        let mut h = Block::<AnyAes>::default();
        aes.encrypt_block(&mut h);
        let ghash = Ghash::new(&h.into());
        h.as_mut_slice().zeroize();
        Ok(Gcm16(WipeOnDrop::new(GcmState { aes, ghash })))
    }

    /// The counter at J0 (SP 800-38D §7.1: `IV || 0^31 || 1` for a 96-bit
    /// IV, `GHASH(IV || 0^s+64 || [len(IV)]_64)` for any other length).
    fn j0(&self, iv: &[u8]) -> Block<AnyAes> {
        if iv.len() == GCM_SHORT_IV_LEN {
            let mut j0 = [0u8; 16];
            let (head, counter) = j0.split_at_mut(GCM_SHORT_IV_LEN);
            head.copy_from_slice(iv);
            counter.copy_from_slice(&[0, 0, 0, 1]);
            Block::<AnyAes>::from(j0)
        } else {
            let mut ghash = self.0.ghash.clone();
            ghash.update_padded(iv);
            ghash.update_block(&bit_lengths(0, iv.len()));
            Block::<AnyAes>::from(ghash.finalize())
        }
    }

    /// `GHASH(A || 0^v || C || 0^u || [len(A)]_64 || [len(C)]_64) XOR mask`.
    fn tag(&self, mask: &Block<AnyAes>, aad: &[u8], ciphertext: &[u8]) -> [u8; TAG_LEN] {
        let mut ghash = self.0.ghash.clone();
        ghash.update_padded(aad);
        ghash.update_padded(ciphertext);
        ghash.update_block(&bit_lengths(aad.len(), ciphertext.len()));
        let mut tag = [0u8; TAG_LEN];
        for ((t, g), m) in tag.iter_mut().zip(ghash.finalize()).zip(mask) {
            *t = g ^ m;
        }
        tag
    }

    /// Seals `buf` in place and appends the tag, or checks the tag at its
    /// end, removes it and opens the rest in place. `iv` is 16, 12 or 26
    /// bytes (checked by the callers).
    fn apply(&self, iv: &[u8], aad: &[u8], buf: &mut Vec<u8>, direction: Direction) -> Result<()> {
        let j0 = self.j0(iv);
        match direction {
            Direction::Seal => {
                if buf.len() as u64 > P_MAX || aad.len() as u64 > A_MAX {
                    return Err(Error::EncryptionFailed);
                }
                let mut keystream = Keystream::start(&self.0.aes, &j0, buf.len());
                keystream.apply(buf);
                let tag = self.tag(keystream.mask(), aad, buf);
                buf.extend_from_slice(&tag);
                Ok(())
            }
            Direction::Open => {
                let body_len = buf
                    .len()
                    .checked_sub(TAG_LEN)
                    .ok_or(Error::DecryptionFailed)?;
                let (body, received) = buf.split_at_mut(body_len);
                if body.len() as u64 > P_MAX + 16 || aad.len() as u64 > A_MAX {
                    return Err(Error::DecryptionFailed);
                }
                // The first keystream blocks are made with the mask (one
                // AES call) but used only once the tag is found good.
                let mut keystream = Keystream::start(&self.0.aes, &j0, body.len());
                let mut expected = self.tag(keystream.mask(), aad, body);
                let ok: bool = expected.ct_eq(&*received).into();
                expected.zeroize();
                if !ok {
                    return Err(Error::DecryptionFailed);
                }
                keystream.apply(body);
                buf.truncate(body_len);
                Ok(())
            }
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

/// The IV lengths AES-GCM takes here.
fn gcm_iv_len_ok(iv: &[u8]) -> Result<()> {
    if [IV_LEN, GCM_SHORT_IV_LEN, GCM_BODY_NONCE_LEN].contains(&iv.len()) {
        Ok(())
    } else {
        Err(Error::InvalidIv(
            "an AES-GCM IV must be 16 bytes (or 12 bytes)",
        ))
    }
}

/// AES-GCM encryption; returns `ciphertext || tag`.
///
/// `iv` must be 16 bytes (the protocol's size) or 12 bytes. The protocol
/// itself uses an empty `aad`.
pub fn gcm_encrypt(key: &SessionKey, iv: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    gcm_iv_len_ok(iv)?;
    let mut buf = Zeroizing::new(Vec::with_capacity(plaintext.len() + TAG_LEN));
    buf.extend_from_slice(plaintext);
    Gcm16::new(key)?.apply(iv, aad, &mut buf, Direction::Seal)?;
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
    gcm_iv_len_ok(iv)?;
    if ciphertext_and_tag.len() < TAG_LEN {
        return Err(Error::DecryptionFailed);
    }
    let mut buf = Zeroizing::new(ciphertext_and_tag.to_vec());
    Gcm16::new(key)?.apply(iv, aad, &mut buf, Direction::Open)?;
    Ok(buf)
}

#[cfg(feature = "v1")]
fn cbc_iv(iv: &[u8]) -> Result<[u8; IV_LEN]> {
    iv.try_into()
        .map_err(|_| Error::InvalidIv("an AES-CBC IV must be 16 bytes"))
}

#[cfg(feature = "v1")]
/// AES-CBC encryption with PKCS#7 padding.
pub fn cbc_encrypt(key: &SessionKey, iv: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let iv = cbc_iv(iv)?;
    let aes = WipeOnDrop::new(AnyAes::new(key)?);
    Ok(cbc::Encryptor::inner_iv_init(&*aes, &iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plaintext))
}

#[cfg(feature = "v1")]
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
    let aes = WipeOnDrop::new(AnyAes::new(key)?);
    let len = cbc::Decryptor::inner_iv_init(&*aes, &iv.into())
        .decrypt_padded_mut::<Pkcs7>(&mut buf)
        .map(|pt| pt.len())
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

    /// The AES key schedule, the GHASH key and state, the key size's tag and
    /// every padding byte are gone, every byte of the `Gcm16`, whatever the
    /// backend: no `Drop` of a field wipes an enum's tag or padding (which a
    /// move fills with whatever was on the stack).
    #[test]
    fn gcm_state_is_wiped_to_the_last_byte_on_drop() {
        for size in KeySize::ALL {
            let key = SessionKey::from_bytes(&vec![0x5a; size.len()]).unwrap();
            let gcm = Gcm16::new(&key).unwrap();
            gcm.seal(&[7; IV_LEN], b"aad", b"used once").unwrap();
            let left = storage_after_drop(gcm);
            assert!(left.len() >= 16 * 15 + 32, "{} bytes", left.len());
            assert!(left.iter().all(|&b| b == 0), "{size:?}: {left:02x?}");
        }
    }
}
