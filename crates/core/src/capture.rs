//! Browser-side card capture: the cardholder types a card into the merchant's
//! page, and only an `encrypted_card` ever leaves the browser.
//!
//! The card becomes one line of JSON with the tags of the Verifone secure
//! card capture format (`cardNumber`, `sequenceNumber`, `cardholderName`,
//! `startMonth`, `startYear`, `expiryMonth`, `expiryYear`, `cvv`) plus
//! `captureTime` (RFC 3339 UTC, seconds), encrypted as a compact JWE
//! (`RSA-OAEP-256` + `A256GCM`, see [`crate::jwe`]) under the issuer's
//! public key. The server refuses it 15 minutes after `captureTime`.
//!
//! ```
//! use paysecure_core::capture::CardCapture;
//!
//! let card = CardCapture::new("4444 3333 2222 1111", 12, 2031)?
//!     .with_cvv("123")?
//!     .with_cardholder_name("MR J HOLDER")?;
//! assert_eq!(
//!     &*card.to_json(1_795_000_000)?,
//!     r#"{"cardNumber":"4444333322221111","cardholderName":"MR J HOLDER","expiryMonth":"12","expiryYear":"2031","cvv":"123","captureTime":"2026-11-18T11:06:40Z"}"#
//! );
//! # Ok::<(), paysecure_core::Error>(())
//! ```

use core::fmt;

use zeroize::Zeroizing;

use crate::card::{luhn_check, normalize_pan};
use crate::error::{Error, Result};
use crate::jwe;
use crate::public_key::PublicKey;
use crate::text::{push_decimal, push_hex_byte};

/// Longest cardholder name accepted (the Paythru limit; Verifone's is 30).
pub const MAX_NAME_LEN: usize = 50;

/// A card typed by the cardholder, validated, wiped on drop.
#[derive(Clone)]
pub struct CardCapture {
    card_number: Zeroizing<String>,
    expiry_month: u8,
    expiry_year: u16,
    cvv: Option<Zeroizing<String>>,
    cardholder_name: Option<Zeroizing<String>>,
    sequence_number: Option<String>,
    start: Option<(u8, u16)>,
}

impl fmt::Debug for CardCapture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CardCapture(<redacted>)")
    }
}

fn month(m: u32) -> Result<u8> {
    u8::try_from(m)
        .ok()
        .filter(|m| (1..=12).contains(m))
        .ok_or(Error::InvalidCard("the month must be 1 to 12"))
}

/// A two-digit year means 20YY; otherwise four digits from 2000 to 2099.
fn year(y: u32) -> Result<u16> {
    let y = if y < 100 { y + 2000 } else { y };
    u16::try_from(y)
        .ok()
        .filter(|y| (2000..=2099).contains(y))
        .ok_or(Error::InvalidCard(
            "the year must be YY or YYYY (2000 to 2099)",
        ))
}

impl CardCapture {
    /// A card number (spaces and hyphens allowed; 12 to 19 digits passing
    /// the Luhn check) and its expiry (month 1-12; year YY or YYYY).
    pub fn new(card_number: &str, expiry_month: u32, expiry_year: u32) -> Result<Self> {
        let card_number = normalize_pan(card_number)?;
        if !luhn_check(&card_number) {
            return Err(Error::InvalidPan("the card number fails the Luhn check"));
        }
        Ok(CardCapture {
            card_number,
            expiry_month: month(expiry_month)?,
            expiry_year: year(expiry_year)?,
            cvv: None,
            cardholder_name: None,
            sequence_number: None,
            start: None,
        })
    }

    /// Adds the 3- or 4-digit card verification value.
    pub fn with_cvv(mut self, cvv: &str) -> Result<Self> {
        if !(3..=4).contains(&cvv.len()) || !cvv.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::InvalidCard("the CVV must be 3 or 4 digits"));
        }
        self.cvv = Some(Zeroizing::new(cvv.to_owned()));
        Ok(self)
    }

    /// Adds the name as printed on the card (1 to 50 characters, no control
    /// characters; surrounding spaces are trimmed).
    pub fn with_cardholder_name(mut self, name: &str) -> Result<Self> {
        let name = name.trim();
        // One pass over the characters (`chars().count()` would bring the
        // standard library's generic character counter into the module).
        let (mut count, mut control) = (0usize, false);
        for c in name.chars() {
            count += 1;
            control |= c.is_control();
        }
        if name.is_empty() || count > MAX_NAME_LEN || control {
            return Err(Error::InvalidCard(
                "the cardholder name must be 1 to 50 characters without control characters",
            ));
        }
        self.cardholder_name = Some(Zeroizing::new(name.to_owned()));
        Ok(self)
    }

    /// Adds the card sequence number (1 to 3 digits), as on some debit cards.
    pub fn with_sequence_number(mut self, seq: &str) -> Result<Self> {
        if !(1..=3).contains(&seq.len()) || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::InvalidCard(
                "the sequence number must be 1 to 3 digits",
            ));
        }
        self.sequence_number = Some(seq.to_owned());
        Ok(self)
    }

    /// Adds the "valid from" date of cards that print one.
    pub fn with_start_date(mut self, start_month: u32, start_year: u32) -> Result<Self> {
        self.start = Some((month(start_month)?, year(start_year)?));
        Ok(self)
    }

    /// Whether the card is still valid in the month of `unix_secs` (a card is
    /// valid through the last day of its expiry month).
    pub fn is_expired_at(&self, unix_secs: u64) -> bool {
        let (y, m, ..) = civil(unix_secs);
        (u64::from(self.expiry_year), u64::from(self.expiry_month)) < (y, m)
    }

    /// The single-line JSON that is encrypted, with `captureTime` set to
    /// `capture_time` (Unix seconds). Refuses a card already expired then.
    pub fn to_json(&self, capture_time: u64) -> Result<Zeroizing<String>> {
        if self.is_expired_at(capture_time) {
            return Err(Error::InvalidCard("the card has expired"));
        }
        // Sized once so the buffer holding the PAN never reallocates.
        let mut out = Zeroizing::new(String::with_capacity(512));
        let mut field = |name: &str, value: &str| {
            let sep = if out.is_empty() { "{\"" } else { ",\"" };
            out.push_str(sep);
            out.push_str(name);
            out.push_str("\":\"");
            push_json_escaped(&mut out, value);
            out.push('"');
        };
        field("cardNumber", &self.card_number);
        if let Some(seq) = &self.sequence_number {
            field("sequenceNumber", seq);
        }
        if let Some(name) = &self.cardholder_name {
            field("cardholderName", name);
        }
        if let Some((m, y)) = self.start {
            field("startMonth", &decimal(m, 2));
            field("startYear", &decimal(y, 1));
        }
        field("expiryMonth", &decimal(self.expiry_month, 2));
        field("expiryYear", &decimal(self.expiry_year, 1));
        if let Some(cvv) = &self.cvv {
            field("cvv", cvv);
        }
        field("captureTime", &rfc3339_utc(capture_time));
        out.push('}');
        Ok(out)
    }

    /// Encrypts the card for the holder of `public_key`'s private key, named
    /// `key_alias` (the server's key id): the `encrypted_card` value.
    pub fn encrypt(
        &self,
        public_key: &PublicKey,
        key_alias: &str,
        capture_time: u64,
    ) -> Result<String> {
        jwe::validate_kid(key_alias)?;
        let json = self.to_json(capture_time)?;
        jwe::encrypt_compact(json.as_bytes(), public_key, key_alias)
    }
}

fn push_json_escaped(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                out.push_str("\\u00");
                push_hex_byte(out, c as u8);
            }
            c => out.push(c),
        }
    }
}

/// (year, month, day, hour, minute, second) of Unix seconds, UTC
/// (Howard Hinnant's `civil_from_days`).
fn civil(unix_secs: u64) -> (u64, u64, u64, u64, u64, u64) {
    let days = unix_secs / 86_400;
    let rem = unix_secs % 86_400;
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// RFC 3339 §5.6 UTC text of Unix seconds, e.g. `2019-08-24T14:15:22Z`.
pub fn rfc3339_utc(unix_secs: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(unix_secs);
    let mut out = String::with_capacity(20);
    push_decimal(&mut out, y, 4);
    for (sep, n) in [('-', mo), ('-', d), ('T', h), (':', mi), (':', s)] {
        out.push(sep);
        push_decimal(&mut out, n, 2);
    }
    out.push('Z');
    out
}

/// `n` in decimal, zero-padded to `min_digits`.
fn decimal(n: impl Into<u64>, min_digits: usize) -> String {
    let mut out = String::new();
    push_decimal(&mut out, n.into(), min_digits);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_answers() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        // A documented example instant.
        assert_eq!(rfc3339_utc(1_566_656_122), "2019-08-24T14:15:22Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn json_is_single_line_and_escaped() {
        let card = CardCapture::new("4111-1111-1111-1111", 1, 30)
            .unwrap()
            .with_cardholder_name("  O\"Brien \\ Ünal ")
            .unwrap()
            .with_sequence_number("01")
            .unwrap()
            .with_start_date(3, 2024)
            .unwrap();
        let json = card.to_json(1_566_656_122).unwrap();
        assert_eq!(
            &*json,
            r#"{"cardNumber":"4111111111111111","sequenceNumber":"01","cardholderName":"O\"Brien \\ Ünal","startMonth":"03","startYear":"2024","expiryMonth":"01","expiryYear":"2030","captureTime":"2019-08-24T14:15:22Z"}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["cardholderName"], "O\"Brien \\ Ünal");
    }

    #[test]
    fn validation() {
        assert!(matches!(
            CardCapture::new("4111111111111112", 1, 2030),
            Err(Error::InvalidPan(_))
        ));
        assert!(matches!(
            CardCapture::new("41111111", 1, 2030),
            Err(Error::InvalidPan(_))
        ));
        for (m, y) in [(0, 2030), (13, 2030), (1, 1999), (1, 2100), (1, 100)] {
            assert!(
                matches!(
                    CardCapture::new("4111111111111111", m, y),
                    Err(Error::InvalidCard(_))
                ),
                "{m}/{y}"
            );
        }
        let card = CardCapture::new("4111111111111111", 8, 2019).unwrap();
        for bad in ["12", "12345", "12a"] {
            assert!(card.clone().with_cvv(bad).is_err());
        }
        for bad in ["", "   ", &"x".repeat(51), "tab\there"] {
            assert!(card.clone().with_cardholder_name(bad).is_err(), "{bad:?}");
        }
        // Valid through the end of its expiry month.
        assert!(card.to_json(1_566_656_122).is_ok()); // 2019-08-24
        assert_eq!(
            card.to_json(1_567_296_000).map(|_| ()), // 2019-09-01
            Err(Error::InvalidCard("the card has expired"))
        );
    }

    #[test]
    fn debug_is_redacted() {
        let card = CardCapture::new("4111111111111111", 8, 2030)
            .unwrap()
            .with_cvv("123")
            .unwrap();
        let shown = format!("{card:?}");
        assert!(!shown.contains("4111") && !shown.contains("123"), "{shown}");
    }
}
