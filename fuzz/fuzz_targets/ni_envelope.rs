//! The Get CVV2 envelope (NISrvRequest): `http::get_cvv2::parse_request`, the pure step
//! the handler runs on the body. Properties: an accepted request names a
//! card by a 1-32 character identifier of a known type with a valid `YYMM`;
//! the echoed identifier is masked (only its first six and last four
//! characters, and only for identifiers longer than ten, survive).
#![no_main]

use libfuzzer_sys::fuzz_target;
use paysecure_server::domain::get_cvv2::CardIdentifier;
use paysecure_server::http::get_cvv2::{mask_identifier, parse_request, INVALID_REQUEST};

fuzz_target!(|data: &[u8]| {
    let parsed = parse_request(data);
    match &parsed.checked {
        Ok(c) => {
            let n = c.card_identifier_id.chars().count();
            assert!((1..=32).contains(&n));
            match c.identifier() {
                CardIdentifier::ContractNumber(id) => {
                    assert_eq!(c.card_identifier_type, "CONTRACT_NUMBER");
                    assert_eq!(id, c.card_identifier_id);
                }
                CardIdentifier::Exid(id) => {
                    assert_eq!(c.card_identifier_type, "EXID");
                    assert_eq!(id, c.card_identifier_id);
                }
            }
            let e = c.expiry_date.as_bytes();
            assert!(e.len() == 4 && e.iter().all(u8::is_ascii_digit));
            let month = (e[2] - b'0') * 10 + (e[3] - b'0');
            assert!((1..=12).contains(&month));
            let echoed = parsed.echo["card_identifier_id"].as_str().expect("text");
            assert_eq!(echoed, mask_identifier(&c.card_identifier_id));
        }
        Err(e) => assert_eq!(*e, INVALID_REQUEST),
    }
    // The mask of any text: same length; the middle is X; nothing of a
    // short identifier but its tail.
    if let Ok(text) = std::str::from_utf8(data) {
        let masked: Vec<char> = mask_identifier(text).chars().collect();
        let chars: Vec<char> = text.chars().collect();
        assert_eq!(masked.len(), chars.len());
        let head = if chars.len() > 10 { 6 } else { 0 };
        let tail = chars.len().min(4).min(chars.len().saturating_sub(1));
        for (i, (m, c)) in masked.iter().zip(&chars).enumerate() {
            if i < head || i >= chars.len() - tail {
                assert_eq!(m, c);
            } else {
                assert_eq!(*m, 'X');
            }
        }
    }
});
