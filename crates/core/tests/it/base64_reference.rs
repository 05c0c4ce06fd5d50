//! `paysecure_core::encoding` (one unpadded standard engine, padding and
//! the URL alphabet handled around it) against the `base64ct` alphabets it
//! used before, one per form: the same bytes or the same refusal for every
//! text, the same text for every byte string.

use base64ct::{Base64, Base64Unpadded, Base64UrlUnpadded, Encoding};
use paysecure_core::{encoding, Error};
use proptest::prelude::*;

/// The former `encoding::decode`.
fn reference_decode(input: &str) -> Option<Vec<u8>> {
    let compact: String = input.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.contains('=') {
        Base64::decode_vec(&compact).ok()
    } else {
        Base64Unpadded::decode_vec(&compact).ok()
    }
}

/// The former `encoding::decode_canonical`.
fn reference_canonical(input: &str) -> Option<Vec<u8>> {
    let decoded = Base64::decode_vec(input).ok()?;
    (Base64::encode_string(&decoded) == input).then_some(decoded)
}

/// Texts near base64: every alphabet's characters, padding, whitespace and
/// a non-ASCII letter, in lengths around the block boundaries.
fn near_base64() -> impl Strategy<Value = String> {
    let chars = prop::sample::select(vec![
        'A', 'B', 'Q', 'g', 'w', 'z', '0', '9', '+', '/', '-', '_', '=', '=', '=', ' ', '\n', '\r',
        'é', '.',
    ]);
    prop::collection::vec(chars, 0..14).prop_map(|v| v.into_iter().collect())
}

/// Valid encodings of random bytes, then perhaps one character changed.
fn encoded() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(any::<u8>(), 0..20),
        0u8..4,
        any::<prop::sample::Index>(),
        prop::sample::select(vec!['=', '-', '_', '+', '/', 'A', ' ', 'B']),
    )
        .prop_map(|(bytes, style, at, c)| {
            let mut text: Vec<char> = match style {
                0 => Base64::encode_string(&bytes),
                1 => Base64Unpadded::encode_string(&bytes),
                2 => Base64UrlUnpadded::encode_string(&bytes),
                _ => Base64::encode_string(&bytes)
                    .replace('+', "-")
                    .replace('/', "_"),
            }
            .chars()
            .collect();
            if !text.is_empty() && at.index(3) == 0 {
                let i = at.index(text.len());
                text[i] = c;
            }
            text.into_iter().collect()
        })
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![near_base64(), encoded()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn decode_agrees(input in text()) {
        let ours = encoding::decode(&input, "x").ok().map(|v| v.to_vec());
        prop_assert_eq!(ours, reference_decode(&input), "{:?}", input);
    }

    #[test]
    fn decode_canonical_agrees(input in text()) {
        let ours = encoding::decode_canonical(&input, "x").ok().map(|v| v.to_vec());
        prop_assert_eq!(ours, reference_canonical(&input), "{:?}", input);
    }

    #[test]
    fn decode_base64url_agrees(input in text()) {
        let ours = encoding::decode_base64url(&input, "x").ok();
        let theirs = Base64UrlUnpadded::decode_vec(input.trim_end_matches('=')).ok();
        prop_assert_eq!(ours, theirs, "{:?}", input);
    }

    #[test]
    fn encodings_agree(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        prop_assert_eq!(encoding::encode(&bytes), Base64::encode_string(&bytes));
        prop_assert_eq!(encoding::encode_base64url(&bytes), Base64UrlUnpadded::encode_string(&bytes));
    }
}

#[test]
fn every_refusal_names_its_field() {
    assert_eq!(encoding::decode("A", "iv"), Err(Error::InvalidBase64("iv")));
    assert_eq!(
        encoding::decode_canonical("AA", "sid"),
        Err(Error::InvalidBase64("sid"))
    );
    assert_eq!(
        encoding::decode_base64url("A+", "n"),
        Err(Error::InvalidBase64("n"))
    );
}
