//! Encrypted bodies of the account payment-information API.
//!
//! Every path id, the `data=` form field and every response body is
//! `hex(nonce || ciphertext || tag)`: AES-GCM under the session key, no AAD,
//! a 16-byte tag, and a 26-byte nonce of ASCII text: the UTC time as
//! `yyyyMMddHHmmss` followed by 12 random lowercase hex digits (the API document's
//! examples begin `3230313530393234313530363231336263383630333332313836`,
//! which is `201509241506213bc860332186`). GCM takes the 208-bit nonce
//! through GHASH, as Java's `GCMParameterSpec`, OpenSSL and WebCrypto do.
//!
//! The timestamp lets the receiver refuse stale messages and, with the
//! random part, replayed ones; [`open`] returns it for that check.

use zeroize::Zeroizing;

use crate::capture::rfc3339_utc;
use crate::cipher::{self, TAG_LEN};
use crate::error::{Error, Result};
use crate::secret::SessionKey;

/// Length of the nonce: 14 timestamp digits and 12 hex digits.
pub const NONCE_LEN: usize = cipher::GCM_BODY_NONCE_LEN;

/// An opened body: the plaintext, its nonce and the nonce's time.
pub struct Opened {
    /// The plaintext (wiped on drop).
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The 26 nonce bytes (for replay detection).
    pub nonce: [u8; NONCE_LEN],
    /// The nonce's timestamp, Unix seconds.
    pub timestamp: u64,
}

impl core::fmt::Debug for Opened {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Opened")
            .field("timestamp", &self.timestamp)
            .finish_non_exhaustive()
    }
}

/// The nonce for `now` (Unix seconds) and 6 random bytes.
fn nonce(now: u64, random: [u8; 6]) -> [u8; NONCE_LEN] {
    let t = rfc3339_utc(now); // 2015-09-24T15:06:21Z
    let digits = t.bytes().filter(u8::is_ascii_digit);
    let mut out = [b'0'; NONCE_LEN];
    for (o, d) in out.iter_mut().zip(digits) {
        *o = d;
    }
    let hex = |v: u8| if v < 10 { b'0' + v } else { b'a' + v - 10 };
    for (i, b) in random.iter().enumerate() {
        if let Some(pair) = out.get_mut(14 + 2 * i..16 + 2 * i) {
            pair.copy_from_slice(&[hex(b >> 4), hex(b & 0x0f)]);
        }
    }
    out
}

/// Encrypts `plaintext` under `key` with a fresh nonce stamped `now` (Unix
/// seconds); returns lowercase hex of `nonce || ciphertext || tag`.
pub fn seal(key: &SessionKey, plaintext: &[u8], now: u64) -> Result<String> {
    let mut random = [0u8; 6];
    getrandom::fill(&mut random)?;
    seal_with_nonce(key, plaintext, &nonce(now, random))
}

/// [`seal`] with a given nonce (for known-answer tests; never reuse one).
pub fn seal_with_nonce(
    key: &SessionKey,
    plaintext: &[u8],
    nonce: &[u8; NONCE_LEN],
) -> Result<String> {
    let sealed = cipher::gcm_encrypt(key, nonce, &[], plaintext)?;
    let mut out = String::with_capacity(2 * (NONCE_LEN + sealed.len()));
    for b in nonce.iter().chain(sealed.iter()) {
        crate::text::push_hex_byte(&mut out, *b);
    }
    Ok(out)
}

fn unhex(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let t = text.trim().as_bytes();
    if t.len() % 2 != 0 {
        return None;
    }
    let val = |c: u8| (c as char).to_digit(16).and_then(|d| u8::try_from(d).ok());
    let mut out = Zeroizing::new(Vec::with_capacity(t.len() / 2));
    for pair in t.chunks_exact(2) {
        let (hi, lo) = (pair.first().copied()?, pair.get(1).copied()?);
        out.push(val(hi)? << 4 | val(lo)?);
    }
    Some(out)
}

/// The Unix time of a nonce's `yyyyMMddHHmmss`, if it is a real instant
/// followed by 12 hex digits.
fn nonce_time(n: &[u8; NONCE_LEN]) -> Option<u64> {
    let (stamp, random) = n.split_at(14);
    if !stamp.iter().all(u8::is_ascii_digit) || !random.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    // The stamp is all ASCII digits (checked above): each field by hand,
    // without `str::parse`.
    let num = |r: core::ops::Range<usize>| -> Option<u64> {
        Some(
            stamp
                .get(r)?
                .iter()
                .fold(0, |n, &b| n * 10 + u64::from(b - b'0')),
        )
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, s) = (num(8..10)?, num(10..12)?, num(12..14)?);
    if !(1970..=9999).contains(&y)
        || !(1..=12).contains(&mo)
        || d == 0
        || h > 23
        || mi > 59
        || s > 59
    {
        return None;
    }
    // Days from the civil date (Howard Hinnant's days_from_civil).
    let (y2, m2) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y2 / 400;
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    let t = days * 86_400 + h * 3600 + mi * 60 + s;
    // Refuse dates like 31 February that roll over.
    (rfc3339_utc(t)
        .bytes()
        .filter(u8::is_ascii_digit)
        .eq(stamp.iter().copied()))
    .then_some(t)
}

/// Opens hex of `nonce || ciphertext || tag`. A malformed text, a nonce that
/// is not a timestamp and 12 hex digits, and every decryption failure are the
/// one opaque [`Error::DecryptionFailed`].
pub fn open(key: &SessionKey, text: &str) -> Result<Opened> {
    let raw = unhex(text).ok_or(Error::DecryptionFailed)?;
    if raw.len() < NONCE_LEN + TAG_LEN {
        return Err(Error::DecryptionFailed);
    }
    let (n, sealed) = raw.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = n.try_into().map_err(|_| Error::DecryptionFailed)?;
    let timestamp = nonce_time(&nonce).ok_or(Error::DecryptionFailed)?;
    let plaintext = cipher::gcm_decrypt(key, &nonce, &[], sealed)?;
    Ok(Opened {
        plaintext,
        nonce,
        timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeySize;

    #[test]
    fn the_documented_nonces_decode_as_timestamps() {
        // The first 26 bytes of the API document's request and response examples.
        let req = unhex("3230313530393234313530363231336263383630333332313836").unwrap();
        assert_eq!(&req[..], b"201509241506213bc860332186");
        let n: [u8; NONCE_LEN] = req[..].try_into().unwrap();
        assert_eq!(rfc3339_utc(nonce_time(&n).unwrap()), "2015-09-24T15:06:21Z");
        let res = unhex("3230313530393234313530343332356662353634636132313438").unwrap();
        assert_eq!(&res[..], b"201509241504325fb564ca2148");
    }

    #[test]
    fn nonces_are_stamped_and_random() {
        let n = nonce(1_443_107_181, [0x3b, 0xc8, 0x60, 0x33, 0x21, 0x86]);
        assert_eq!(&n, b"201509241506213bc860332186");
        assert_eq!(nonce_time(&n), Some(1_443_107_181));
        for bad in [
            *b"201502301506213bc860332186", // 30 February
            *b"201513241506213bc860332186", // month 13
            *b"20150924150621zzc860332186", // not hex
            *b"2015O9241506213bc860332186", // not a digit
        ] {
            assert_eq!(nonce_time(&bad), None, "{}", String::from_utf8_lossy(&bad));
        }
    }

    #[test]
    fn round_trip_every_key_size_and_tamper() {
        for size in KeySize::ALL {
            let key = SessionKey::generate(size).unwrap();
            let text = seal(&key, br#"{"data":{"uuid":"x"}}"#, 1_800_000_000).unwrap();
            assert_eq!(text.len(), 2 * (NONCE_LEN + 21 + TAG_LEN));
            assert!(text
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
            let opened = open(&key, &text).unwrap();
            assert_eq!(&opened.plaintext[..], br#"{"data":{"uuid":"x"}}"#);
            assert_eq!(opened.timestamp, 1_800_000_000);
            assert!(
                open(&key, &text.to_uppercase()).is_ok(),
                "hex is case-insensitive"
            );
            // Any flipped bit anywhere (nonce included) fails, opaquely.
            for i in 0..text.len() {
                let mut t = text.clone().into_bytes();
                t[i] = if t[i] == b'0' { b'1' } else { b'0' };
                let t = String::from_utf8(t).unwrap();
                assert_eq!(
                    open(&key, &t).map(|_| ()),
                    Err(Error::DecryptionFailed),
                    "{i}"
                );
            }
            let other = SessionKey::generate(size).unwrap();
            assert_eq!(
                open(&other, &text).map(|_| ()),
                Err(Error::DecryptionFailed)
            );
        }
        let key = SessionKey::generate(KeySize::Aes256).unwrap();
        for bad in ["", "zz", "abc", &"00".repeat(41)] {
            assert_eq!(
                open(&key, bad).map(|_| ()),
                Err(Error::DecryptionFailed),
                "{bad}"
            );
        }
    }
}
