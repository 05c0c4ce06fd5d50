//! Which PINs are too easy to guess: the one rule set that the issuer server
//! enforces when a PIN is set (`WEAK_PIN`) and that the PIN widget shows the
//! cardholder before sending (through the wasm export `pinWeakness`).
//!
//! A PIN is weak when it is (checked in this order, the first match wins):
//!
//! | weakness                          | examples                   |
//! |-----------------------------------|----------------------------|
//! | [`RepeatedDigit`]: one digit      | `1111`, `000000`           |
//! | [`Sequence`]: each digit one up, or each one down, modulo 10 | `1234`, `4321`, `8901`, `210987` |
//! | [`RepeatedPair`]: one pair of digits repeated | `1212`, `474747` |
//! | [`Common`]: among the most common 4-digit PINs | `2580`, `1004`, `1990` |
//!
//! [`RepeatedDigit`]: PinWeakness::RepeatedDigit
//! [`Sequence`]: PinWeakness::Sequence
//! [`RepeatedPair`]: PinWeakness::RepeatedPair
//! [`Common`]: PinWeakness::Common

use crate::secret::Pin;

/// Why a PIN is refused as too easy to guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PinWeakness {
    /// Every digit the same (`1111`).
    RepeatedDigit,
    /// Consecutive digits, ascending or descending, wrapping 9-0 (`1234`,
    /// `4321`, `7890`).
    Sequence,
    /// One pair of digits repeated (`1212`, `123123` is not: that is a
    /// triple).
    RepeatedPair,
    /// One of [`COMMON_PINS`].
    Common,
}

impl PinWeakness {
    /// Every weakness, in the order they are checked.
    pub const ALL: [PinWeakness; 4] = [
        PinWeakness::RepeatedDigit,
        PinWeakness::Sequence,
        PinWeakness::RepeatedPair,
        PinWeakness::Common,
    ];

    /// The stable, machine-readable code (`SCREAMING_SNAKE_CASE`): what
    /// `pinWeakness` returns in JavaScript and what the widget keys its
    /// messages by.
    pub fn code(self) -> &'static str {
        match self {
            PinWeakness::RepeatedDigit => "REPEATED_DIGIT",
            PinWeakness::Sequence => "SEQUENCE",
            PinWeakness::RepeatedPair => "REPEATED_PAIR",
            PinWeakness::Common => "COMMON",
        }
    }
}

/// Four-digit PINs refused for being among the most used (beyond the
/// repeated, sequential and paired ones the other rules catch).
pub const COMMON_PINS: [&str; 13] = [
    "1004", "2000", "1122", "1313", "6969", "2580", "0852", "1010", "2001", "1990", "1999", "2468",
    "1357",
];

/// Why `pin` is too easy to guess, or `None` if it is acceptable.
pub fn pin_weakness(pin: &Pin) -> Option<PinWeakness> {
    let digits = pin.expose().as_bytes();
    let first = *digits.first()?;
    if digits.iter().all(|&d| d == first) {
        return Some(PinWeakness::RepeatedDigit);
    }
    // Steps between neighbours, modulo 10: all +1 or all -1 is a run.
    let mut steps = digits
        .windows(2)
        .map(|w| match w {
            [a, b] => (10 + b - a) % 10,
            _ => 0,
        })
        .peekable();
    if let Some(&step) = steps.peek() {
        if (step == 1 || step == 9) && steps.all(|s| s == step) {
            return Some(PinWeakness::Sequence);
        }
    }
    if digits.len() % 2 == 0
        && digits
            .chunks(2)
            .all(|pair| pair == digits.get(..2).unwrap_or(&[]))
    {
        return Some(PinWeakness::RepeatedPair);
    }
    if COMMON_PINS.contains(&pin.expose()) {
        return Some(PinWeakness::Common);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weak(pin: &str) -> Option<PinWeakness> {
        pin_weakness(&Pin::new(pin).unwrap())
    }

    #[test]
    fn repeated_digit() {
        for pin in ["0000", "1111", "99999", "777777777777"] {
            assert_eq!(weak(pin), Some(PinWeakness::RepeatedDigit), "{pin}");
        }
        // One digit different is not.
        assert_ne!(weak("1112"), Some(PinWeakness::RepeatedDigit));
    }

    #[test]
    fn sequences_up_down_and_wrapping() {
        for pin in [
            "1234",
            "0123",
            "6789",
            "7890",
            "8901",
            "9012",
            "4321",
            "3210",
            "0987",
            "1098",
            "123456789012",
            "98765",
        ] {
            assert_eq!(weak(pin), Some(PinWeakness::Sequence), "{pin}");
        }
        // Mixed directions, steps of two, a broken run: not sequences.
        for pin in ["1232", "1357", "234567890124", "12345679"] {
            assert_ne!(weak(pin), Some(PinWeakness::Sequence), "{pin}");
        }
        assert_eq!(weak("1243"), None);
    }

    #[test]
    fn repeated_pair() {
        for pin in ["1212", "9090", "474747", "010101010101"] {
            assert_eq!(weak(pin), Some(PinWeakness::RepeatedPair), "{pin}");
        }
        // Odd length, a triple, a pair then something else: not pairs.
        for pin in ["12121", "123123", "121213"] {
            assert_eq!(weak(pin), None, "{pin}");
        }
    }

    #[test]
    fn common_pins() {
        for pin in COMMON_PINS {
            // 1010, 1313 and 6969 are repeated pairs first.
            let want = if ["1010", "1313", "6969"].contains(&pin) {
                PinWeakness::RepeatedPair
            } else {
                PinWeakness::Common
            };
            assert_eq!(weak(pin), Some(want), "{pin}");
        }
        // The list is of 4-digit PINs only.
        assert_eq!(weak("25801"), None);
        assert_eq!(weak("02580"), None);
    }

    #[test]
    fn the_first_matching_rule_names_the_weakness() {
        // 1111 is also a repeated pair; 0101 would be a pair only.
        assert_eq!(weak("1111"), Some(PinWeakness::RepeatedDigit));
        assert_eq!(weak("0101"), Some(PinWeakness::RepeatedPair));
        // 1010 is a pair before it is a common PIN.
        assert_eq!(weak("1010"), Some(PinWeakness::RepeatedPair));
        assert_eq!(weak("2580"), Some(PinWeakness::Common));
    }

    #[test]
    fn good_pins_pass() {
        for pin in ["1432", "8642", "7093", "5791", "731946", "2479", "975310"] {
            assert_eq!(weak(pin), None, "{pin}");
        }
    }

    #[test]
    fn codes_are_stable_and_distinct() {
        let codes: Vec<_> = PinWeakness::ALL.iter().map(|w| w.code()).collect();
        assert_eq!(
            codes,
            ["REPEATED_DIGIT", "SEQUENCE", "REPEATED_PAIR", "COMMON"]
        );
    }

    /// Every 4-digit PIN against a direct transcription of the rules
    /// (independent of the implementation's structure): 10,000 cases.
    #[test]
    fn every_four_digit_pin_matches_the_rules_as_written() {
        let mut weak_count = 0;
        for n in 0..10_000u32 {
            let pin = format!("{n:04}");
            let d: Vec<i32> = pin.bytes().map(|b| i32::from(b - b'0')).collect();
            let expected = if d.iter().all(|&x| x == d[0]) {
                Some(PinWeakness::RepeatedDigit)
            } else if (1..4).all(|i| (d[i] - d[i - 1]).rem_euclid(10) == 1)
                || (1..4).all(|i| (d[i] - d[i - 1]).rem_euclid(10) == 9)
            {
                Some(PinWeakness::Sequence)
            } else if d[0] == d[2] && d[1] == d[3] {
                Some(PinWeakness::RepeatedPair)
            } else if COMMON_PINS.contains(&pin.as_str()) {
                Some(PinWeakness::Common)
            } else {
                None
            };
            assert_eq!(weak(&pin), expected, "{pin}");
            weak_count += usize::from(expected.is_some());
        }
        // 10 repeated, 20 runs, 90 pairs, 10 common (1010, 1313 and 6969
        // are pairs).
        assert_eq!(weak_count, 10 + 20 + 90 + 10);
    }
}
