//! Visa Card Verification Value (CVV, CVV2, iCVV) generation and verification.
//!
//! This is the standard "CVV algorithm" implemented by payment HSMs (for
//! example the Thales `CW`/`CY` host commands or IBM CCA `CSNBCSG`/`CSNBCSV`).
//! Mastercard's CVC1/CVC2 use the same computation.
//!
//! # Algorithm
//!
//! Inputs: a CVK pair (two single-length DES keys, CVK-A and CVK-B), the PAN,
//! the expiry date as `YYMM` and a three-digit service code.
//!
//! 1. `Data = PAN || YYMM || service code`. The service code selects the
//!    variant: magnetic-stripe CVV uses the card's own service code (e.g.
//!    `101`, `201`), CVV2 (printed on the card) uses `000`, and iCVV (the
//!    chip's track-2 equivalent data) uses `999`.
//! 2. Right-pad `Data` with `'0'` to 32 decimal digits (the longest possible
//!    input is 19 + 4 + 3 = 26 digits) and read the 32 digits as 32 hex
//!    nibbles, i.e. two 8-byte blocks `B1 || B2`.
//! 3. `R = DES_encrypt(CVK-A, B1) XOR B2`, then
//!    `R = DES_encrypt(CVK-A, DES_decrypt(CVK-B, DES_encrypt(CVK-A, R)))`,
//!    which is two-key triple DES (EDE2) with the key `CVK-A || CVK-B`.
//! 4. Decimalise the 16 hex digits of `R`: first every digit `0`-`9` from left
//!    to right, then every digit `A`-`F` from left to right minus 10. The CVV
//!    is the leftmost 3 digits of that string (3 to 5 digits may be requested;
//!    16 hex digits always yield 16 decimal digits).
//!
//! Worked example (published test data, keys `0123456789ABCDEF` /
//! `FEDCBA9876543210`): PAN `4123456789012345`, expiry `8701`, service code
//! `101` gives CVV `561`. The known-answer vectors used by the tests live in
//! `server/tests/data/cvv_vectors.json`, together with their sources.
//!
//! # Security notes
//!
//! * [`CvkPair`] zeroizes its key material on drop and its `Debug` output is
//!   redacted. The DES key schedules (the `des` crate's `zeroize` feature) and
//!   the buffers holding the PAN-derived blocks are zeroized as well.
//! * [`verify`] compares in constant time ([`subtle::ConstantTimeEq`]).
//! * [`CvvError`] messages are static and never echo PANs, dates, codes,
//!   keys or candidate values.
//! * No function here panics on any input.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

use core::fmt;

use des::cipher::{BlockEncrypt, KeyInit};
use des::{Des, TdesEde2};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Length in bytes of a CVK pair (CVK-A || CVK-B).
const CVK_PAIR_LEN: usize = 16;
/// Default CVV length.
const DEFAULT_DIGITS: usize = 3;
/// Shortest CVV that can be requested.
const MIN_DIGITS: usize = 3;
/// Longest CVV that can be requested.
const MAX_DIGITS: usize = 5;
/// Shortest accepted PAN.
const MIN_PAN_LEN: usize = 12;
/// Longest accepted PAN.
const MAX_PAN_LEN: usize = 19;
/// Number of decimal digits in the padded data field (two 8-byte blocks).
const DATA_DIGITS: usize = 32;
/// Service code used for CVV2.
const CVV2_SERVICE_CODE: &str = "000";

/// Errors from CVV computation and verification.
///
/// Messages are fixed strings: they never contain the values that were
/// rejected.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum CvvError {
    /// The PAN is not 12 to 19 ASCII decimal digits.
    #[error("invalid PAN: expected 12 to 19 decimal digits")]
    InvalidPan,
    /// The expiry is not 4 ASCII decimal digits `YYMM` with a month 01-12.
    #[error("invalid expiry: expected 4 decimal digits YYMM with month 01-12")]
    InvalidExpiry,
    /// The service code is not exactly 3 ASCII decimal digits.
    #[error("invalid service code: expected 3 decimal digits")]
    InvalidServiceCode,
    /// The key material is not exactly 16 bytes.
    #[error("invalid CVK: expected 16 bytes (two single-length DES keys)")]
    InvalidKey,
    /// The requested CVV length is outside 3..=5.
    #[error("invalid CVV length: expected 3 to 5 digits")]
    InvalidLength,
    /// The CVV presented for verification is not 3 to 5 ASCII decimal digits.
    #[error("invalid CVV candidate: expected 3 to 5 decimal digits")]
    InvalidCandidate,
    /// The operating system's random number generator failed.
    #[error("random number generator failure")]
    Rng,
    /// The device holding the CVK (a PKCS#11 token) failed the operation.
    #[error("the CVK's key store failed")]
    KeyStore,
}

/// The two DES operations of the CVV algorithm on a CVK pair, wherever the
/// keys are: [`CvkPair`] in process, or key objects in a PKCS#11 token
/// (`crypto::custody::pkcs11`).
pub trait CvkCipher {
    /// `DES_encrypt(CVK-A, block)` (single DES).
    ///
    /// # Errors
    ///
    /// [`CvvError::KeyStore`] if the device fails.
    fn encrypt_a(&self, block: &mut [u8; 8]) -> Result<(), CvvError>;
    /// Two-key triple DES (EDE2, `CVK-A || CVK-B`) of `block`.
    ///
    /// # Errors
    ///
    /// [`CvvError::KeyStore`] if the device fails.
    fn encrypt_ab(&self, block: &mut [u8; 8]) -> Result<(), CvvError>;
}

impl CvkCipher for CvkPair {
    fn encrypt_a(&self, block: &mut [u8; 8]) -> Result<(), CvvError> {
        Des::new(self.key_a()?.into()).encrypt_block(block.into());
        Ok(())
    }

    fn encrypt_ab(&self, block: &mut [u8; 8]) -> Result<(), CvvError> {
        TdesEde2::new((&self.bytes).into()).encrypt_block(block.into());
        Ok(())
    }
}

/// A CVK pair: two single-length DES keys (CVK-A, CVK-B), 16 bytes total.
///
/// The key bytes are zeroized when the value is dropped, and `Debug` never
/// prints them. DES parity bits are ignored by the cipher, so keys with any
/// parity are accepted by [`CvkPair::from_bytes`]; [`CvkPair::generate`]
/// produces keys with odd parity on every byte.
pub struct CvkPair {
    bytes: [u8; CVK_PAIR_LEN],
}

impl CvkPair {
    /// Builds a CVK pair from `CVK-A || CVK-B` (exactly 16 bytes).
    ///
    /// # Errors
    ///
    /// [`CvvError::InvalidKey`] if `bytes` is not exactly 16 bytes long.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CvvError> {
        let bytes: [u8; CVK_PAIR_LEN] = bytes.try_into().map_err(|_| CvvError::InvalidKey)?;
        Ok(Self { bytes })
    }

    /// Generates a random CVK pair from the operating system's CSPRNG, with
    /// DES odd parity set on every byte.
    ///
    /// # Errors
    ///
    /// [`CvvError::Rng`] if the random number generator fails.
    pub fn generate() -> Result<Self, CvvError> {
        let mut buf = Zeroizing::new([0u8; CVK_PAIR_LEN]);
        getrandom::getrandom(buf.as_mut_slice()).map_err(|_| CvvError::Rng)?;
        for byte in buf.iter_mut() {
            *byte = with_odd_parity(*byte);
        }
        Ok(Self { bytes: *buf })
    }

    /// The raw key bytes, `CVK-A || CVK-B` (16 bytes). Handle with care.
    #[must_use]
    pub fn expose_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// CVK-A, the first 8 bytes.
    fn key_a(&self) -> Result<&[u8; 8], CvvError> {
        self.bytes
            .split_first_chunk::<8>()
            .map(|(a, _)| a)
            .ok_or(CvvError::InvalidKey)
    }
}

impl Drop for CvkPair {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl ZeroizeOnDrop for CvkPair {}

impl fmt::Debug for CvkPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CvkPair { <redacted> }")
    }
}

/// Computes a CVV of `digits` (3..=5) digits for the given PAN, expiry
/// (`YYMM`) and service code.
///
/// Use the card's service code for magnetic-stripe CVV, `"000"` for CVV2 and
/// `"999"` for iCVV.
///
/// # Errors
///
/// [`CvvError::InvalidPan`], [`CvvError::InvalidExpiry`],
/// [`CvvError::InvalidServiceCode`] for malformed card data, and
/// [`CvvError::InvalidLength`] if `digits` is not in 3..=5.
pub fn compute(
    cvk: &(impl CvkCipher + ?Sized),
    pan: &str,
    expiry_yymm: &str,
    service_code: &str,
    digits: usize,
) -> Result<String, CvvError> {
    validate_pan(pan)?;
    validate_expiry(expiry_yymm)?;
    validate_service_code(service_code)?;
    if !(MIN_DIGITS..=MAX_DIGITS).contains(&digits) {
        return Err(CvvError::InvalidLength);
    }
    let r = cvv_block(cvk, pan, expiry_yymm, service_code)?;
    Ok(decimalise(&r, digits))
}

/// Computes the 3-digit CVV2 (service code `"000"`).
///
/// # Errors
///
/// As [`compute`]: [`CvvError::InvalidPan`] or [`CvvError::InvalidExpiry`].
pub fn cvv2(
    cvk: &(impl CvkCipher + ?Sized),
    pan: &str,
    expiry_yymm: &str,
) -> Result<String, CvvError> {
    compute(cvk, pan, expiry_yymm, CVV2_SERVICE_CODE, DEFAULT_DIGITS)
}

/// Verifies a presented CVV (3 to 5 ASCII digits; its length selects the
/// CVV length) in constant time.
///
/// Returns `Ok(false)` for a well-formed but wrong value, and an error for a
/// malformed candidate or malformed card data.
///
/// # Errors
///
/// [`CvvError::InvalidCandidate`] if `candidate` is not 3 to 5 ASCII digits,
/// otherwise the errors of [`compute`] for malformed card data.
pub fn verify(
    cvk: &(impl CvkCipher + ?Sized),
    pan: &str,
    expiry_yymm: &str,
    service_code: &str,
    candidate: &str,
) -> Result<bool, CvvError> {
    let len = candidate.len();
    if !(MIN_DIGITS..=MAX_DIGITS).contains(&len) || !is_ascii_digits(candidate) {
        return Err(CvvError::InvalidCandidate);
    }
    let expected = Zeroizing::new(compute(cvk, pan, expiry_yymm, service_code, len)?);
    Ok(bool::from(expected.as_bytes().ct_eq(candidate.as_bytes())))
}

fn is_ascii_digits(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

fn validate_pan(pan: &str) -> Result<(), CvvError> {
    if (MIN_PAN_LEN..=MAX_PAN_LEN).contains(&pan.len()) && is_ascii_digits(pan) {
        Ok(())
    } else {
        Err(CvvError::InvalidPan)
    }
}

fn validate_expiry(expiry_yymm: &str) -> Result<(), CvvError> {
    match expiry_yymm.as_bytes() {
        [y1, y2, b'0', b'1'..=b'9'] | [y1, y2, b'1', b'0'..=b'2']
            if y1.is_ascii_digit() && y2.is_ascii_digit() =>
        {
            Ok(())
        }
        _ => Err(CvvError::InvalidExpiry),
    }
}

fn validate_service_code(service_code: &str) -> Result<(), CvvError> {
    if service_code.len() == 3 && is_ascii_digits(service_code) {
        Ok(())
    } else {
        Err(CvvError::InvalidServiceCode)
    }
}

/// Returns `byte` with its least significant bit set so that the byte has an
/// odd number of one bits (DES key parity).
fn with_odd_parity(byte: u8) -> u8 {
    let high = byte & 0xFE;
    if high.count_ones() & 1 == 0 {
        high | 1
    } else {
        high
    }
}

/// Steps 1-3: builds the padded data blocks and returns the 8-byte result `R`
/// before decimalisation. Inputs must already be validated as ASCII digits.
fn cvv_block(
    cvk: &(impl CvkCipher + ?Sized),
    pan: &str,
    expiry_yymm: &str,
    service_code: &str,
) -> Result<Zeroizing<[u8; 8]>, CvvError> {
    let data = || {
        pan.bytes()
            .chain(expiry_yymm.bytes())
            .chain(service_code.bytes())
    };
    if data().count() > DATA_DIGITS {
        // Unreachable after validation (at most 26 digits), kept as a guard.
        return Err(CvvError::InvalidPan);
    }

    let mut padded = Zeroizing::new([b'0'; DATA_DIGITS]);
    for (slot, digit) in padded.iter_mut().zip(data()) {
        *slot = digit;
    }

    // Pack the 32 ASCII digits as 32 nibbles: B1 = first 8 bytes, B2 = last 8.
    let mut r = Zeroizing::new([0u8; 8]);
    let mut b2 = Zeroizing::new([0u8; 8]);
    for (out, pair) in r
        .iter_mut()
        .chain(b2.iter_mut())
        .zip(padded.chunks_exact(2))
    {
        if let [hi, lo] = pair {
            *out = ((hi & 0x0F) << 4) | (lo & 0x0F);
        }
    }

    // R = DES_A(B1)
    cvk.encrypt_a(&mut r)?;
    // R = R XOR B2
    for (byte, mask) in r.iter_mut().zip(b2.iter()) {
        *byte ^= *mask;
    }
    // R = DES_A(DES^-1_B(DES_A(R))), two-key triple DES with CVK-A || CVK-B.
    cvk.encrypt_ab(&mut r)?;
    Ok(r)
}

/// Step 4: decimalises the 16 hex digits of `r` and keeps the first `digits`.
// `r` stays behind a reference so that no unzeroized copy is made.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn decimalise(r: &[u8; 8], digits: usize) -> String {
    let nibbles = || r.iter().flat_map(|b| [b >> 4, b & 0x0F]);
    let decimal = nibbles().filter(|n| *n < 10);
    let letters = nibbles().filter_map(|n| n.checked_sub(10));
    decimal
        .chain(letters)
        .take(digits)
        .filter_map(|n| char::from_digit(u32::from(n), 10))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use des::cipher::generic_array::GenericArray;
    use des::cipher::BlockDecrypt;
    use serde::Deserialize;

    const VECTORS_JSON: &str = include_str!("../../tests/data/cvv_vectors.json");

    #[derive(Deserialize)]
    struct VectorFile {
        description: String,
        sources: Vec<String>,
        cases: Vec<Case>,
    }

    #[derive(Deserialize)]
    struct Case {
        id: String,
        cvk_a_hex: String,
        cvk_b_hex: String,
        pan: String,
        expiry_yymm: String,
        service_code: String,
        digits: usize,
        expected: String,
        source: String,
    }

    fn vectors() -> VectorFile {
        serde_json::from_str(VECTORS_JSON).unwrap()
    }

    fn cvk(a_hex: &str, b_hex: &str) -> CvkPair {
        let mut bytes = hex::decode(a_hex).unwrap();
        bytes.extend(hex::decode(b_hex).unwrap());
        CvkPair::from_bytes(&bytes).unwrap()
    }

    fn classic_cvk() -> CvkPair {
        cvk("0123456789ABCDEF", "FEDCBA9876543210")
    }

    /// Same-length candidate that differs from `value` in every position.
    fn wrong_candidates(value: &str) -> Vec<String> {
        let bump =
            |c: char, by: u32| char::from_digit((c.to_digit(10).unwrap() + by) % 10, 10).unwrap();
        let mut out: Vec<String> = (0..value.len())
            .map(|pos| {
                value
                    .chars()
                    .enumerate()
                    .map(|(i, c)| if i == pos { bump(c, 1) } else { c })
                    .collect()
            })
            .collect();
        out.push(value.chars().map(|c| bump(c, 5)).collect());
        out
    }

    #[test]
    fn vector_file_is_well_formed() {
        let v = vectors();
        assert!(!v.description.is_empty());
        assert!(!v.sources.is_empty());
        assert!(v.cases.len() >= 20, "expected at least 20 vectors");
        let mut ids: Vec<&str> = v.cases.iter().map(|c| c.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), v.cases.len(), "duplicate vector ids");
        for c in &v.cases {
            assert!(!c.source.is_empty(), "{} has no source", c.id);
            assert_eq!(c.expected.len(), c.digits, "{}", c.id);
        }
        // The classic published example must be present.
        assert!(v.cases.iter().any(|c| c.pan == "4123456789012345"
            && c.expiry_yymm == "8701"
            && c.service_code == "101"
            && c.digits == 3
            && c.expected == "561"
            && c.cvk_a_hex == "0123456789ABCDEF"
            && c.cvk_b_hex == "FEDCBA9876543210"));
    }

    #[test]
    fn all_vectors_compute() {
        for c in vectors().cases {
            let key = cvk(&c.cvk_a_hex, &c.cvk_b_hex);
            let got = compute(&key, &c.pan, &c.expiry_yymm, &c.service_code, c.digits).unwrap();
            assert_eq!(got, c.expected, "vector {}", c.id);
            if c.service_code == "000" && c.digits == 3 {
                assert_eq!(
                    cvv2(&key, &c.pan, &c.expiry_yymm).unwrap(),
                    c.expected,
                    "{}",
                    c.id
                );
            }
        }
    }

    #[test]
    fn all_vectors_verify() {
        for c in vectors().cases {
            let key = cvk(&c.cvk_a_hex, &c.cvk_b_hex);
            assert_eq!(
                verify(&key, &c.pan, &c.expiry_yymm, &c.service_code, &c.expected),
                Ok(true),
                "vector {}",
                c.id
            );
            for wrong in wrong_candidates(&c.expected) {
                assert_eq!(
                    verify(&key, &c.pan, &c.expiry_yymm, &c.service_code, &wrong),
                    Ok(false),
                    "vector {} candidate {}",
                    c.id,
                    wrong
                );
            }
        }
    }

    #[test]
    fn classic_published_example() {
        let key = classic_cvk();
        assert_eq!(
            compute(&key, "4123456789012345", "8701", "101", 3).unwrap(),
            "561"
        );
        assert_eq!(
            verify(&key, "4123456789012345", "8701", "101", "561"),
            Ok(true)
        );
        assert_eq!(
            verify(&key, "4123456789012345", "8701", "101", "562"),
            Ok(false)
        );
        // Different service code / expiry / PAN must not verify.
        assert_eq!(
            verify(&key, "4123456789012345", "8701", "201", "561"),
            Ok(false)
        );
        assert_eq!(
            verify(&key, "4123456789012345", "8702", "101", "561"),
            Ok(false)
        );
        assert_eq!(
            verify(&key, "4123456789012346", "8701", "101", "561"),
            Ok(false)
        );
    }

    #[test]
    fn published_intermediate_values() {
        // Worked example with intermediates (service code 111 -> CVV 856).
        let key = classic_cvk();
        let r = cvv_block(&key, "4123456789012345", "8701", "111").unwrap();
        assert_eq!(hex::encode_upper(*r), "8D5625FA78011A0C");
        assert_eq!(decimalise(&r, 5), "85625");
        assert_eq!(
            compute(&key, "4123456789012345", "8701", "111", 3).unwrap(),
            "856"
        );
    }

    #[test]
    fn tdes_ede2_matches_explicit_e_d_e() {
        let a = hex::decode("0123456789ABCDEF").unwrap();
        let b = hex::decode("FEDCBA9876543210").unwrap();
        let key = classic_cvk();
        // DES_A(B1) XOR B2 from the published worked example.
        let x = hex::decode("306BCCDE71CCC6BE").unwrap();
        let des_a = Des::new_from_slice(&a).unwrap();
        let des_b = Des::new_from_slice(&b).unwrap();
        let mut explicit = GenericArray::clone_from_slice(&x);
        des_a.encrypt_block(&mut explicit);
        assert_eq!(hex::encode_upper(explicit), "BAE6746F6DE1F0E6");
        des_b.decrypt_block(&mut explicit);
        assert_eq!(hex::encode_upper(explicit), "B262ABCB9DE99A63");
        des_a.encrypt_block(&mut explicit);
        let mut ede2 = GenericArray::clone_from_slice(&x);
        TdesEde2::new_from_slice(key.expose_bytes())
            .unwrap()
            .encrypt_block(&mut ede2);
        assert_eq!(explicit, ede2);
        assert_eq!(hex::encode_upper(ede2), "8D5625FA78011A0C");
        // First step of the same example.
        let mut b1 = GenericArray::clone_from_slice(&hex::decode("4123456789012345").unwrap());
        des_a.encrypt_block(&mut b1);
        assert_eq!(hex::encode_upper(b1), "B76ADDCE71CCC6BE");
    }

    #[test]
    fn decimalisation_uses_letters_after_digits() {
        let r: [u8; 8] = hex::decode("CC4EBBFDECDEE2FC").unwrap().try_into().unwrap();
        assert_eq!(decimalise(&r, 5), "42224");
        let r: [u8; 8] = hex::decode("BBDB3A6AEE35BEDB").unwrap().try_into().unwrap();
        assert_eq!(decimalise(&r, 5), "36351");
        let r: [u8; 8] = hex::decode("FFFFFFFFFFFFFFFF").unwrap().try_into().unwrap();
        assert_eq!(decimalise(&r, 5), "55555");
        let r: [u8; 8] = hex::decode("0123456789ABCDEF").unwrap().try_into().unwrap();
        assert_eq!(decimalise(&r, 5), "01234");
    }

    #[test]
    fn cvv2_uses_service_code_000() {
        let key = classic_cvk();
        assert_eq!(
            cvv2(&key, "4111111111111111", "2512").unwrap(),
            compute(&key, "4111111111111111", "2512", "000", 3).unwrap()
        );
    }

    #[test]
    fn lengths_are_prefixes() {
        let key = classic_cvk();
        let five = compute(&key, "4123456789012345", "8701", "101", 5).unwrap();
        let four = compute(&key, "4123456789012345", "8701", "101", 4).unwrap();
        let three = compute(&key, "4123456789012345", "8701", "101", 3).unwrap();
        assert!(five.starts_with(&four) && four.starts_with(&three));
        assert_eq!(
            verify(&key, "4123456789012345", "8701", "101", &five),
            Ok(true)
        );
        assert_eq!(
            verify(&key, "4123456789012345", "8701", "101", &four),
            Ok(true)
        );
    }

    #[test]
    fn invalid_pan() {
        let key = classic_cvk();
        for pan in [
            "",
            "41234567890",          // 11 digits
            "41234567890123456789", // 20 digits
            "412345678901234X",
            "4123 4567 8901 2345",
            "-123456789012345",
            "４１２３４５６７８９０１２", // full-width digits
        ] {
            assert_eq!(
                compute(&key, pan, "8701", "101", 3),
                Err(CvvError::InvalidPan),
                "{pan:?}"
            );
            assert_eq!(cvv2(&key, pan, "8701"), Err(CvvError::InvalidPan));
            assert_eq!(
                verify(&key, pan, "8701", "101", "561"),
                Err(CvvError::InvalidPan)
            );
        }
        // Boundaries are accepted.
        assert!(compute(&key, "412345678901", "8701", "101", 3).is_ok());
        assert!(compute(&key, "4123456789012345678", "8701", "101", 3).is_ok());
    }

    #[test]
    fn invalid_expiry() {
        let key = classic_cvk();
        for exp in [
            "", "870", "87011", "8700", "8713", "8799", "87a1", "87 1", "0187/",
        ] {
            assert_eq!(
                compute(&key, "4123456789012345", exp, "101", 3),
                Err(CvvError::InvalidExpiry),
                "{exp:?}"
            );
            assert_eq!(
                cvv2(&key, "4123456789012345", exp),
                Err(CvvError::InvalidExpiry)
            );
            assert_eq!(
                verify(&key, "4123456789012345", exp, "101", "561"),
                Err(CvvError::InvalidExpiry)
            );
        }
        for exp in ["0001", "9912", "2510", "3012"] {
            assert!(
                compute(&key, "4123456789012345", exp, "101", 3).is_ok(),
                "{exp}"
            );
        }
    }

    #[test]
    fn invalid_service_code() {
        let key = classic_cvk();
        for sc in ["", "1", "10", "1010", "1a1", " 01", "١٠١"] {
            assert_eq!(
                compute(&key, "4123456789012345", "8701", sc, 3),
                Err(CvvError::InvalidServiceCode),
                "{sc:?}"
            );
            assert_eq!(
                verify(&key, "4123456789012345", "8701", sc, "561"),
                Err(CvvError::InvalidServiceCode)
            );
        }
    }

    #[test]
    fn invalid_length() {
        let key = classic_cvk();
        for digits in [0, 1, 2, 6, 16, usize::MAX] {
            assert_eq!(
                compute(&key, "4123456789012345", "8701", "101", digits),
                Err(CvvError::InvalidLength),
                "{digits}"
            );
        }
    }

    #[test]
    fn invalid_candidate() {
        let key = classic_cvk();
        for cand in [
            "",
            "5",
            "56",
            "561234",
            "56a",
            " 561",
            "561 ",
            "５６１",
            "-561",
        ] {
            assert_eq!(
                verify(&key, "4123456789012345", "8701", "101", cand),
                Err(CvvError::InvalidCandidate),
                "{cand:?}"
            );
        }
    }

    #[test]
    fn invalid_key() {
        for len in [0usize, 8, 15, 17, 24, 32] {
            let bytes = vec![0x01u8; len];
            assert_eq!(
                CvkPair::from_bytes(&bytes).map(|_| ()),
                Err(CvvError::InvalidKey),
                "{len}"
            );
        }
        let bytes: Vec<u8> = (0u8..16).collect();
        assert_eq!(
            CvkPair::from_bytes(&bytes).unwrap().expose_bytes(),
            bytes.as_slice()
        );
    }

    #[test]
    fn error_messages_do_not_echo_inputs() {
        let key = classic_cvk();
        let cases = [
            (
                compute(&key, "4123456789X12345", "8701", "101", 3),
                "4123456789X12345",
            ),
            (compute(&key, "4123456789012345", "8713", "101", 3), "8713"),
            (compute(&key, "4123456789012345", "8701", "1x1", 3), "1x1"),
            (compute(&key, "4123456789012345", "8701", "101", 7), "7"),
            (
                verify(&key, "4123456789012345", "8701", "101", "56x").map(|b| b.to_string()),
                "56x",
            ),
        ];
        for (result, input) in cases {
            let msg = result.unwrap_err().to_string();
            assert!(!msg.contains(input), "{msg:?} echoes {input:?}");
            assert!(!msg.contains("4123456789012345"));
        }
        for err in [
            CvvError::InvalidPan,
            CvvError::InvalidExpiry,
            CvvError::InvalidServiceCode,
            CvvError::InvalidKey,
            CvvError::InvalidLength,
            CvvError::InvalidCandidate,
            CvvError::Rng,
        ] {
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn debug_is_redacted() {
        let key = classic_cvk();
        let dbg = format!("{key:?}");
        let dbg_alt = format!("{key:#?}");
        for s in [&dbg, &dbg_alt] {
            let upper = s.to_uppercase();
            assert!(!upper.contains("0123456789ABCDEF"), "{s}");
            assert!(!upper.contains("FEDCBA9876543210"), "{s}");
            assert!(!upper.contains("0123"), "{s}");
            // Nor as a decimal byte list (0x01, 0x23, 0x45 -> 1, 35, 69).
            assert!(!s.contains("35, 69"), "{s}");
            assert!(s.contains("redacted"), "{s}");
        }
        let generated = CvkPair::generate().unwrap();
        let dbg = format!("{generated:?}").to_uppercase();
        assert!(!dbg.contains(&hex::encode_upper(generated.expose_bytes())));
    }

    #[test]
    fn generate_sets_odd_parity_and_differs() {
        let k1 = CvkPair::generate().unwrap();
        let k2 = CvkPair::generate().unwrap();
        for key in [&k1, &k2] {
            assert_eq!(key.expose_bytes().len(), 16);
            for byte in key.expose_bytes() {
                assert_eq!(
                    byte.count_ones() % 2,
                    1,
                    "byte {byte:#04x} lacks odd parity"
                );
            }
        }
        assert_ne!(k1.expose_bytes(), k2.expose_bytes());
        // Generated keys are usable.
        let v = compute(&k1, "4123456789012345", "8701", "101", 5).unwrap();
        assert_eq!(verify(&k1, "4123456789012345", "8701", "101", &v), Ok(true));
    }

    #[test]
    fn odd_parity_helper() {
        for b in 0u8..=255 {
            let p = with_odd_parity(b);
            assert_eq!(p & 0xFE, b & 0xFE);
            assert_eq!(p.count_ones() & 1, 1);
        }
        // Published test keys already have odd parity and are unchanged.
        for b in hex::decode("0123456789ABCDEFFEDCBA9876543210").unwrap() {
            assert_eq!(with_odd_parity(b), b);
        }
    }
}
