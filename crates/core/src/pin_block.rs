//! ISO 9564-1 PIN blocks, formats 0, 1, 2 and 3, as 16 hexadecimal characters.
//!
//! The PIN field is 16 nibbles: the control (format) nibble `C`, the PIN
//! length `N` (4..=12), the PIN digits, then fill:
//!
//! | format | fill                     | combined with the PAN field |
//! |--------|--------------------------|-----------------------------|
//! | 0      | `F`                      | yes (XOR)                   |
//! | 1      | random `0`-`F`           | no                          |
//! | 2      | `F`                      | no                          |
//! | 3      | random `A`-`F`           | yes (XOR)                   |
//!
//! The PAN field is `0000` followed by the 12 rightmost PAN digits excluding
//! the check digit (left-padded with `0` for short PANs).
//!
//! PaySecure carries format 2 as the 16 ASCII characters themselves
//! (e.g. `241432FFFFFFFFFF`), encrypted as those 16 bytes.

use zeroize::Zeroizing;

use crate::card;
use crate::error::{Error, Result};
use crate::secret::Pin;

/// Number of hexadecimal characters in a PIN block.
pub const BLOCK_HEX_LEN: usize = 16;

/// An ISO 9564-1 PIN block format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PinBlockFormat {
    /// Format 0 (ANSI X9.8): `F` fill, XOR with the PAN field.
    Iso0,
    /// Format 1: random fill, no PAN.
    Iso1,
    /// Format 2: `F` fill, no PAN; the PaySecure format.
    Iso2,
    /// Format 3: random `A`-`F` fill, XOR with the PAN field.
    Iso3,
}

impl PinBlockFormat {
    /// From the format number (0..=3).
    pub fn from_number(n: u32) -> Result<Self> {
        match n {
            0 => Ok(Self::Iso0),
            1 => Ok(Self::Iso1),
            2 => Ok(Self::Iso2),
            3 => Ok(Self::Iso3),
            _ => Err(Error::InvalidInput("PIN block format must be 0, 1, 2 or 3")),
        }
    }

    /// The format number, which is also the block's control nibble.
    pub fn number(self) -> u8 {
        match self {
            Self::Iso0 => 0,
            Self::Iso1 => 1,
            Self::Iso2 => 2,
            Self::Iso3 => 3,
        }
    }

    fn uses_pan(self) -> bool {
        matches!(self, Self::Iso0 | Self::Iso3)
    }
}

/// A block's 16 nibbles, one per byte, wiped on drop. A fixed array: no
/// allocation, and no generic collecting code in the browser module.
type Nibbles = Zeroizing<[u8; BLOCK_HEX_LEN]>;

/// The PAN field: `0000` and the 12 rightmost digits before the check digit.
fn pan_field(pan: &str) -> Result<Nibbles> {
    let digits = card::normalize_pan(pan)?;
    // normalize_pan guarantees 12 to 19 decimal digits; drop the check digit
    // and right-align (at most) the 12 digits before it, zeros to the left.
    let body = digits
        .as_bytes()
        .split_last()
        .map_or(&[][..], |(_, body)| body);
    let mut field: Nibbles = Zeroizing::new([0; BLOCK_HEX_LEN]);
    for (slot, d) in field.iter_mut().rev().zip(body.iter().rev().take(12)) {
        *slot = d.wrapping_sub(b'0');
    }
    Ok(field)
}

/// Fills `nibbles` with random fill digits: 0-F for format 1, A-F for format 3.
fn random_fill(nibbles: &mut [u8], format: PinBlockFormat) -> Result<()> {
    let mut pool = Zeroizing::new([0u8; 32]);
    let mut slots = nibbles.iter_mut().peekable();
    while slots.peek().is_some() {
        getrandom::fill(&mut pool[..])?;
        for &r in pool.iter() {
            let nibble = match format {
                // Uniform over 0..=15.
                PinBlockFormat::Iso1 => r & 0x0F,
                // Uniform over 10..=15 by rejection: 3 random bits, keep 0..=5.
                _ if r & 0x07 < 6 => 10 + (r & 0x07),
                _ => continue,
            };
            match slots.next() {
                Some(slot) => *slot = nibble,
                None => break,
            }
        }
    }
    Ok(())
}

fn hex_digit(nibble: u8) -> char {
    b"0123456789ABCDEF"
        .get(usize::from(nibble & 0x0F))
        .map_or('0', |&c| char::from(c))
}

fn xor_pan(field: &mut [u8], pan: Option<&str>) -> Result<()> {
    let pan = pan.ok_or(Error::InvalidPan("PIN block formats 0 and 3 need the PAN"))?;
    for (f, p) in field.iter_mut().zip(pan_field(pan)?.iter()) {
        *f ^= p;
    }
    Ok(())
}

/// Builds a PIN block as 16 uppercase hexadecimal characters.
///
/// `pan` is required for formats 0 and 3 and ignored otherwise.
pub fn encode(pin: &Pin, format: PinBlockFormat, pan: Option<&str>) -> Result<Zeroizing<String>> {
    // Pin guarantees 4..=12 ASCII digits: N fits one nibble, and 2 + N <= 14.
    let digits = pin.expose().as_bytes();
    let mut field: Nibbles = Zeroizing::new([0x0F; BLOCK_HEX_LEN]);
    for (i, slot) in field.iter_mut().enumerate() {
        *slot = match i {
            0 => format.number(),
            1 => pin.len() as u8,
            _ => digits.get(i - 2).map_or(0x0F, |d| d.wrapping_sub(b'0')),
        };
    }
    if matches!(format, PinBlockFormat::Iso1 | PinBlockFormat::Iso3) {
        if let Some(fill) = field.get_mut(2 + digits.len()..) {
            random_fill(fill, format)?;
        }
    }
    if format.uses_pan() {
        xor_pan(&mut *field, pan)?;
    }
    let mut out = Zeroizing::new(String::with_capacity(BLOCK_HEX_LEN));
    for &n in field.iter() {
        out.push(hex_digit(n));
    }
    Ok(out)
}

/// Reads the format of a PIN block from its control nibble.
pub fn format_of(block: &str) -> Result<PinBlockFormat> {
    match block.as_bytes().first() {
        Some(b'0') => Ok(PinBlockFormat::Iso0),
        Some(b'1') => Ok(PinBlockFormat::Iso1),
        Some(b'2') => Ok(PinBlockFormat::Iso2),
        Some(b'3') => Ok(PinBlockFormat::Iso3),
        Some(_) => Err(Error::InvalidPinBlock(
            "unsupported PIN block format (expected 0, 1, 2 or 3)",
        )),
        None => Err(Error::InvalidPinBlock("the PIN block is empty")),
    }
}

/// Parses a PIN block (16 hexadecimal characters, either case) and returns
/// the PIN and the block's format.
///
/// `pan` is required for formats 0 and 3 and ignored otherwise.
pub fn decode(block: &str, pan: Option<&str>) -> Result<(Pin, PinBlockFormat)> {
    const NOT_HEX: Error = Error::InvalidPinBlock("a PIN block must be 16 hexadecimal characters");
    if block.len() != BLOCK_HEX_LEN {
        return Err(NOT_HEX);
    }
    let mut field: Nibbles = Zeroizing::new([0; BLOCK_HEX_LEN]);
    for (slot, c) in field.iter_mut().zip(block.bytes()) {
        *slot = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return Err(NOT_HEX),
        };
    }
    let format = format_of(block)?;
    if format.uses_pan() {
        xor_pan(&mut *field, pan)?;
    }
    let len = field.get(1).map_or(0, |&n| usize::from(n));
    if !(Pin::MIN_LEN..=Pin::MAX_LEN).contains(&len) {
        return Err(Error::InvalidPinBlock(
            "the PIN length nibble must be 4 to C",
        ));
    }
    let digits = field.iter().skip(2).take(len);
    let fill = field.iter().skip(2 + len);
    if digits.clone().any(|&d| d > 9) {
        return Err(Error::InvalidPinBlock(
            "the PIN digits are not all decimal (wrong PAN?)",
        ));
    }
    let fill_ok = match format {
        PinBlockFormat::Iso0 | PinBlockFormat::Iso2 => fill.clone().all(|&f| f == 0x0F),
        PinBlockFormat::Iso3 => fill.clone().all(|&f| f >= 0x0A),
        PinBlockFormat::Iso1 => true,
    };
    if !fill_ok {
        return Err(Error::InvalidPinBlock(
            "the fill does not match the format (wrong PAN?)",
        ));
    }
    let text: Zeroizing<String> = Zeroizing::new(digits.map(|&d| hex_digit(d)).collect());
    Ok((Pin::new(&text)?, format))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    fn pin(p: &str) -> Pin {
        Pin::new(p).unwrap()
    }

    #[test]
    fn format2_matches_the_protocol_examples() {
        assert_eq!(
            &*encode(&pin("1432"), PinBlockFormat::Iso2, None).unwrap(),
            "241432FFFFFFFFFF"
        );
        assert_eq!(
            &*encode(&pin("6784"), PinBlockFormat::Iso2, None).unwrap(),
            "246784FFFFFFFFFF"
        );
        assert_eq!(
            &*encode(&pin("123456789012"), PinBlockFormat::Iso2, None).unwrap(),
            "2C123456789012FF"
        );
    }

    // The worked example of ISO 9564-1 format 0 (reproduced in most PIN
    // block references): PIN 1234, PAN 43219876543210987.
    //   PIN field 041234FFFFFFFFFF XOR PAN field 0000987654321098.
    #[test]
    fn format0_known_answer() {
        let pan = "43219876543210987";
        let block = encode(&pin("1234"), PinBlockFormat::Iso0, Some(pan)).unwrap();
        assert_eq!(&*block, "0412AC89ABCDEF67");
        let (p, f) = decode(&block, Some(pan)).unwrap();
        assert_eq!((p.expose(), f), ("1234", PinBlockFormat::Iso0));
    }

    // Format 3 with a fixed fill, XORed by hand:
    //   341234ABCDEFABCD XOR 0000987654321098 = 3412ACDD99DDBB55.
    #[test]
    fn format3_known_answer_decodes() {
        let (p, f) = decode("3412ACDD99DDBB55", Some("43219876543210987")).unwrap();
        assert_eq!((p.expose(), f), ("1234", PinBlockFormat::Iso3));
        // Under another PAN the digits come out non-decimal: refused.
        assert_eq!(
            decode("3412ACDD99DDBB55", Some("4111111111111111"))
                .unwrap_err()
                .code(),
            ErrorCode::InvalidPinBlock
        );
    }

    #[test]
    fn short_pan_field_is_left_padded() {
        // 12-digit PAN: 11 digits before the check digit, padded with one 0.
        let f = pan_field("123456789012").unwrap();
        assert_eq!(&f[..], &[0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    }

    #[test]
    fn random_fills_have_the_right_alphabet() {
        for _ in 0..200 {
            let b1 = encode(&pin("1234"), PinBlockFormat::Iso1, None).unwrap();
            assert!(b1.starts_with("141234"));
            let (p, f) = decode(&b1, None).unwrap();
            assert_eq!((p.expose(), f), ("1234", PinBlockFormat::Iso1));

            let pan = "5500000000000004";
            let b3 = encode(&pin("1234"), PinBlockFormat::Iso3, Some(pan)).unwrap();
            assert!(b3.starts_with("34"));
            let (p, f) = decode(&b3, Some(pan)).unwrap();
            assert_eq!((p.expose(), f), ("1234", PinBlockFormat::Iso3));
        }
    }

    #[test]
    fn refuses_malformed_blocks() {
        let cases: &[(&str, ErrorCode)] = &[
            ("241432FFFFFFFFF", ErrorCode::InvalidPinBlock), // 15 chars (the PaySecure document's example)
            ("241432FFFFFFFFFFF", ErrorCode::InvalidPinBlock), // 17 chars
            ("231432FFFFFFFFFF", ErrorCode::InvalidPinBlock), // length 3
            ("2D1432FFFFFFFFFF", ErrorCode::InvalidPinBlock), // length 13
            ("24143AFFFFFFFFFF", ErrorCode::InvalidPinBlock), // non-decimal digit
            ("241432FFFFFFFFFE", ErrorCode::InvalidPinBlock), // bad fill
            ("441432FFFFFFFFFF", ErrorCode::InvalidPinBlock), // format 4 is not hex-text
            ("2414 2FFFFFFFFFF", ErrorCode::InvalidPinBlock),
            ("241432FFFFFFFFFé", ErrorCode::InvalidPinBlock),
            ("041234FFFFFFFFFF", ErrorCode::InvalidPan), // format 0 without PAN
        ];
        for (block, code) in cases {
            assert_eq!(decode(block, None).unwrap_err().code(), *code, "{block}");
        }
        // Lower case is accepted.
        assert_eq!(decode("241432ffffffffff", None).unwrap().0.expose(), "1432");
    }

    #[test]
    fn wrong_pan_is_detected_for_format0() {
        let block = encode(&pin("1234"), PinBlockFormat::Iso0, Some("4111111111111111")).unwrap();
        assert_eq!(
            decode(&block, Some("5500000000000004")).unwrap_err().code(),
            ErrorCode::InvalidPinBlock
        );
    }
}
