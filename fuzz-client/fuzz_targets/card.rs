//! Card input as `encryptCard` validates it, and the card helpers. Input:
//! `\n`-separated card number, expiry month, expiry year, CVV, cardholder
//! name, sequence number, start month, start year, capture time (Unix
//! seconds). What is accepted serialises to JSON that a JSON parser reads
//! back to the same values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paysecure_core::capture::CardCapture;
use paysecure_core::card;

fn number(field: Option<&str>) -> u32 {
    field.and_then(|f| f.parse().ok()).unwrap_or(0)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let mut fields = text.split('\n');
    let pan = fields.next().unwrap_or("");
    let _ = card::luhn_check(pan);
    let _ = card::card_brand(pan);
    let _ = card::luhn_check_digit(pan);
    let normalized = card::normalize_pan(pan);
    if let Ok(masked) = card::mask_pan(pan) {
        // First 6 and last 4 digits kept, the 2 to 9 between masked.
        let digits = normalized.as_ref().expect("a masked PAN is a PAN");
        assert_eq!(masked.len(), digits.len());
        assert_eq!(masked.get(..6), digits.get(..6));
        assert_eq!(
            masked.get(digits.len() - 4..),
            digits.get(digits.len() - 4..)
        );
        assert!(masked
            .get(6..digits.len() - 4)
            .is_some_and(|m| !m.is_empty() && m.bytes().all(|b| b == b'*')));
    }
    let (month, year) = (number(fields.next()), number(fields.next()));
    let Ok(mut capture) = CardCapture::new(pan, month, year) else {
        return;
    };
    let normalized = normalized.expect("an accepted card has a normal PAN");
    let cvv = fields.next().filter(|c| !c.is_empty());
    if let Some(cvv) = cvv {
        let Ok(c) = capture.with_cvv(cvv) else { return };
        capture = c;
    }
    let name = fields.next().filter(|n| !n.is_empty());
    if let Some(name) = name {
        let Ok(c) = capture.with_cardholder_name(name) else {
            return;
        };
        capture = c;
    }
    if let Some(seq) = fields.next().filter(|s| !s.is_empty()) {
        let Ok(c) = capture.with_sequence_number(seq) else {
            return;
        };
        capture = c;
    }
    let (sm, sy) = (fields.next(), fields.next());
    if sm.is_some_and(|m| !m.is_empty()) {
        let Ok(c) = capture.with_start_date(number(sm), number(sy)) else {
            return;
        };
        capture = c;
    }
    let now = fields
        .next()
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(1_800_000_000);
    let Ok(json) = capture.to_json(now) else {
        assert!(capture.is_expired_at(now));
        return;
    };
    let v: serde_json::Value = serde_json::from_str(&json).expect("the card JSON parses");
    assert_eq!(v["cardNumber"].as_str(), Some(normalized.as_str()));
    if let Some(name) = name {
        assert_eq!(v["cardholderName"].as_str(), Some(name.trim()));
    }
    if let Some(cvv) = cvv {
        assert_eq!(v["cvv"].as_str(), Some(cvv));
    }
});
