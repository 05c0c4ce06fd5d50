//! Card number helpers: normalisation, Luhn, brand, masking.

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::wipe::collect_secret;

/// Shortest PAN accepted (ISO/IEC 7812 allows 8, but no payment brand issues
/// fewer than 12 digits).
pub const MIN_PAN_LEN: usize = 12;
/// Longest PAN ISO/IEC 7812 allows.
pub const MAX_PAN_LEN: usize = 19;

/// Strips the separators people type (spaces, hyphens) and checks that what
/// is left is 12 to 19 decimal digits.
pub fn normalize_pan(pan: &str) -> Result<Zeroizing<String>> {
    let digits = collect_secret(pan.len(), pan.chars().filter(|c| *c != ' ' && *c != '-'));
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::InvalidPan(
            "a PAN must contain only digits, spaces and hyphens",
        ));
    }
    if !(MIN_PAN_LEN..=MAX_PAN_LEN).contains(&digits.len()) {
        return Err(Error::InvalidPan("a PAN must have 12 to 19 digits"));
    }
    Ok(digits)
}

/// The Luhn (mod 10) check over a string of digits.
///
/// Spaces and hyphens are ignored. Returns `false`, never an error, for
/// anything that is not 12 to 19 digits, so it can validate input as typed.
pub fn luhn_check(pan: &str) -> bool {
    let Ok(digits) = normalize_pan(pan) else {
        return false;
    };
    luhn_sum(&digits) % 10 == 0
}

fn luhn_sum(digits: &str) -> u32 {
    digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let twice = d * 2;
                if twice > 9 {
                    twice - 9
                } else {
                    twice
                }
            } else {
                d
            }
        })
        .sum()
}

/// The Luhn check digit that completes `partial` (the PAN without its last digit).
pub fn luhn_check_digit(partial: &str) -> Result<u8> {
    if partial.is_empty() || !partial.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::InvalidPan("a PAN must contain only digits"));
    }
    // Append a 0 and see what the sum is short of.
    let mut with_zero = Zeroizing::new(String::with_capacity(partial.len() + 1));
    with_zero.push_str(partial);
    with_zero.push('0');
    Ok(((10 - luhn_sum(&with_zero) % 10) % 10) as u8)
}

/// Payment card brands recognised from the issuer identification number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardBrand {
    /// Visa: 4.
    Visa,
    /// Mastercard: 51-55 and 2221-2720.
    Mastercard,
    /// American Express: 34, 37.
    Amex,
    /// Discover: 6011, 644-649, 65.
    Discover,
    /// JCB: 3528-3589.
    Jcb,
    /// Diners Club: 300-305, 3095, 36, 38, 39.
    Diners,
    /// UnionPay: 62, 81.
    UnionPay,
    /// Maestro: 50, 56-58, 63, 67.
    Maestro,
    /// None of the above.
    Unknown,
}

impl CardBrand {
    /// The brand's stable name (`"VISA"`, `"MASTERCARD"`, ... `"UNKNOWN"`).
    pub fn as_str(self) -> &'static str {
        match self {
            CardBrand::Visa => "VISA",
            CardBrand::Mastercard => "MASTERCARD",
            CardBrand::Amex => "AMEX",
            CardBrand::Discover => "DISCOVER",
            CardBrand::Jcb => "JCB",
            CardBrand::Diners => "DINERS",
            CardBrand::UnionPay => "UNIONPAY",
            CardBrand::Maestro => "MAESTRO",
            CardBrand::Unknown => "UNKNOWN",
        }
    }
}

/// Identifies the brand from the PAN's leading digits.
///
/// Spaces and hyphens are ignored; anything else that is not a digit is an
/// [`Error::InvalidPan`]. At least one digit is needed; a partial PAN (as
/// typed) is fine, so a form can show the brand early. A PAN from a range
/// shared by two schemes gets the issuing scheme's name (622126-622925 is
/// UnionPay, accepted on Discover's network).
pub fn card_brand(pan: &str) -> Result<CardBrand> {
    let digits = collect_secret(pan.len(), pan.chars().filter(|c| *c != ' ' && *c != '-'));
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::InvalidPan(
            "a PAN must contain only digits, spaces and hyphens",
        ));
    }
    if digits.len() > MAX_PAN_LEN {
        return Err(Error::InvalidPan("a PAN must have 12 to 19 digits"));
    }
    let bytes = digits.as_bytes();
    // The first `len` digits as a number, once that many are known.
    let prefix = |len: usize| {
        bytes
            .get(..len)
            .map(|p| p.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')))
    };
    // Longest prefixes first, so the most specific rule wins. A rule applies
    // only once its whole prefix has been typed: "3" is UNKNOWN, "34" AMEX.
    const RULES: &[(u32, u32, usize, CardBrand)] = &[
        (2221, 2720, 4, CardBrand::Mastercard),
        (3528, 3589, 4, CardBrand::Jcb),
        (3095, 3095, 4, CardBrand::Diners),
        (6011, 6011, 4, CardBrand::Discover),
        (300, 305, 3, CardBrand::Diners),
        (644, 649, 3, CardBrand::Discover),
        (34, 34, 2, CardBrand::Amex),
        (37, 37, 2, CardBrand::Amex),
        (36, 36, 2, CardBrand::Diners),
        (38, 39, 2, CardBrand::Diners),
        (51, 55, 2, CardBrand::Mastercard),
        (65, 65, 2, CardBrand::Discover),
        (62, 62, 2, CardBrand::UnionPay),
        (81, 81, 2, CardBrand::UnionPay),
        (50, 50, 2, CardBrand::Maestro),
        (56, 58, 2, CardBrand::Maestro),
        (63, 63, 2, CardBrand::Maestro),
        (67, 67, 2, CardBrand::Maestro),
        (4, 4, 1, CardBrand::Visa),
    ];
    Ok(RULES
        .iter()
        .find(|(lo, hi, len, _)| prefix(*len).is_some_and(|p| (*lo..=*hi).contains(&p)))
        .map_or(CardBrand::Unknown, |rule| rule.3))
}

/// Masks a PAN for display: the first 6 and last 4 digits stay, the rest
/// become `*` (PCI DSS 3.4), e.g. `444433******1111`.
pub fn mask_pan(pan: &str) -> Result<String> {
    let digits = normalize_pan(pan)?;
    let n = digits.len();
    Ok(digits
        .char_indices()
        .map(|(i, c)| if i < 6 || i >= n - 4 { c } else { '*' })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    // Test PANs published by the card schemes / PSP test-card lists.
    const BRANDS: &[(&str, CardBrand)] = &[
        ("4111111111111111", CardBrand::Visa),
        ("4012888888881881", CardBrand::Visa),
        ("4222222222222", CardBrand::Visa),
        ("5555555555554444", CardBrand::Mastercard),
        ("5105105105105100", CardBrand::Mastercard),
        ("2223003122003222", CardBrand::Mastercard),
        ("2720990000000007", CardBrand::Mastercard),
        ("378282246310005", CardBrand::Amex),
        ("371449635398431", CardBrand::Amex),
        ("340000000000009", CardBrand::Amex),
        ("6011111111111117", CardBrand::Discover),
        ("6445644564456445", CardBrand::Discover),
        ("6510000000000000000", CardBrand::Discover),
        ("3530111333300000", CardBrand::Jcb),
        ("3566002020360505", CardBrand::Jcb),
        ("30569309025904", CardBrand::Diners),
        ("38520000023237", CardBrand::Diners),
        ("36227206271667", CardBrand::Diners),
        ("3095000000000000", CardBrand::Diners),
        ("6200000000000005", CardBrand::UnionPay),
        ("6221260000000000", CardBrand::UnionPay),
        ("8171999927660000", CardBrand::UnionPay),
        ("6759649826438453", CardBrand::Maestro),
        ("6304000000000000", CardBrand::Maestro),
        ("5018000000000009", CardBrand::Maestro),
        ("5600000000000000", CardBrand::Maestro),
        ("2200000000000000", CardBrand::Unknown),
        ("2721000000000000", CardBrand::Unknown),
        ("9999999999999999", CardBrand::Unknown),
        ("1234567890123456", CardBrand::Unknown),
    ];

    #[test]
    fn brands() {
        for (pan, brand) in BRANDS {
            assert_eq!(card_brand(pan).unwrap(), *brand, "{pan}");
        }
    }

    #[test]
    fn brand_of_partial_input() {
        assert_eq!(card_brand("4").unwrap(), CardBrand::Visa);
        assert_eq!(card_brand("3").unwrap(), CardBrand::Unknown);
        assert_eq!(card_brand("34").unwrap(), CardBrand::Amex);
        assert_eq!(card_brand("222").unwrap(), CardBrand::Unknown);
        assert_eq!(card_brand("2221").unwrap(), CardBrand::Mastercard);
        assert_eq!(card_brand("5555 5555").unwrap(), CardBrand::Mastercard);
        for bad in ["", " ", "4111x", "4111111111111111111111", "٤١١١"] {
            assert_eq!(
                card_brand(bad).unwrap_err().code(),
                ErrorCode::InvalidPan,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn luhn() {
        // The scheme test PANs above that are Luhn-valid (checked independently).
        for pan in [
            "4111111111111111",
            "4012888888881881",
            "4222222222222",
            "5555555555554444",
            "5105105105105100",
            "2223003122003222",
            "2720990000000007",
            "378282246310005",
            "371449635398431",
            "340000000000009",
            "6011111111111117",
            "6445644564456445",
            "3530111333300000",
            "3566002020360505",
            "30569309025904",
            "38520000023237",
            "36227206271667",
            "3095000000000000",
            "6200000000000005",
            "6221260000000000",
            "8171999927660000",
            "6759649826438453",
            "6304000000000000",
            "5018000000000009",
        ] {
            assert!(luhn_check(pan), "{pan}");
        }
        assert!(luhn_check("4111 1111 1111 1111"));
        assert!(luhn_check("4111-1111-1111-1111"));
        assert!(!luhn_check("4111111111111112"));
        assert!(!luhn_check("5555555555554440"));
        assert!(!luhn_check("79927398713")); // Luhn-valid, but 11 digits is no PAN
        assert!(!luhn_check(""));
        assert!(!luhn_check("4111111111111111x"));
        assert!(!luhn_check("41111111111111111111"));
    }

    #[test]
    fn check_digit_completes_a_pan() {
        assert_eq!(luhn_check_digit("411111111111111").unwrap(), 1);
        assert_eq!(luhn_check_digit("7992739871").unwrap(), 3);
        assert_eq!(
            luhn_check_digit("").unwrap_err().code(),
            ErrorCode::InvalidPan
        );
        assert_eq!(
            luhn_check_digit("12a").unwrap_err().code(),
            ErrorCode::InvalidPan
        );
    }

    #[test]
    fn masking() {
        assert_eq!(mask_pan("4444333322221111").unwrap(), "444433******1111");
        assert_eq!(mask_pan("4444 3333 2222 1111").unwrap(), "444433******1111");
        assert_eq!(mask_pan("378282246310005").unwrap(), "378282*****0005");
        assert_eq!(
            mask_pan("6011000990139424123").unwrap(),
            "601100*********4123"
        );
        assert_eq!(mask_pan("123456789012").unwrap(), "123456**9012");
        for bad in ["41111", "4111a11111111111", "41111111111111111111"] {
            assert_eq!(
                mask_pan(bad).unwrap_err().code(),
                ErrorCode::InvalidPan,
                "{bad}"
            );
        }
    }
}
