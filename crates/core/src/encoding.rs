//! Base64 as it arrives from real PaySecure peers.
//!
//! Standard alphabet (RFC 4648 §4). Decoding tolerates what Java and
//! JavaScript peers really send: ASCII whitespace anywhere (MIME-style line
//! breaks from older `commons-codec`) and missing padding. It refuses the
//! URL-safe alphabet, misplaced padding and non-canonical trailing bits.
//! Encoding always produces padded standard base64. Both directions are
//! constant-time (`base64ct`), as they also carry key material.
//!
//! One engine for every form: `base64ct`'s unpadded standard alphabet. The
//! padding is checked and added here, and base64url is the standard alphabet
//! with `-`/`_` swapped in for `+`/`/` (a branch-free byte map), so the
//! browser module carries one encoder and one decoder instead of three of
//! each. tests/it/base64_reference.rs checks every function against the
//! `base64ct` alphabets it used before (`Base64`, `Base64Unpadded`,
//! `Base64UrlUnpadded`).

use base64ct::{Base64Unpadded, Encoding};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::wipe::collect_secret;

/// Decodes standard base64, tolerating whitespace and missing padding.
///
/// `field` names the input in the error (e.g. `"data"`, `"iv"`).
pub fn decode(input: &str, field: &'static str) -> Result<Zeroizing<Vec<u8>>> {
    let compact = collect_secret(
        input.len(),
        input.chars().filter(|c| !c.is_ascii_whitespace()),
    );
    let unpadded = if compact.bytes().any(|b| b == b'=') {
        strip_padding(&compact)
    } else {
        Some(compact.as_str())
    };
    unpadded
        .and_then(|u| Base64Unpadded::decode_vec(u).ok())
        .map(Zeroizing::new)
        .ok_or(Error::InvalidBase64(field))
}

/// The text before its padding, if `padded` is padded base64's shape: a
/// multiple of 4 characters, of which the last one or two may be `=` (the
/// decoder then refuses any other `=` and a wrong count for the length).
fn strip_padding(padded: &str) -> Option<&str> {
    if padded.len() % 4 != 0 {
        return None;
    }
    Some(
        padded
            .strip_suffix("==")
            .or_else(|| padded.strip_suffix('='))
            .unwrap_or(padded),
    )
}

/// Decodes canonical padded standard base64 and nothing else: no
/// whitespace, no missing or extra padding, no URL-safe alphabet, no
/// non-zero trailing bits. Every byte string has exactly one accepted text,
/// so the text can serve as an identity (what a server keys replay records
/// or caches by). Used for `Session-Id` headers.
pub fn decode_canonical(input: &str, field: &'static str) -> Result<Zeroizing<Vec<u8>>> {
    let decoded = strip_padding(input)
        .and_then(|u| Base64Unpadded::decode_vec(u).ok())
        .map(Zeroizing::new)
        .ok_or(Error::InvalidBase64(field))?;
    // The decoder is strict already; the round trip makes the rule explicit.
    if *encode_secret(&decoded) != input {
        return Err(Error::InvalidBase64(field));
    }
    Ok(decoded)
}

/// Unpadded standard base64 of `bytes` in a string of `total` bytes
/// (`total` at least the unpadded length), the rest `=`, after `map` of every
/// byte: one allocation, no copy (as `base64ct`'s own `encode_string`).
fn encode_into(bytes: &[u8], total: usize, map: fn(u8) -> u8) -> String {
    let mut out = vec![b'='; total];
    let len = Base64Unpadded::encoded_len(bytes);
    if let Some(text) = out.get_mut(..len) {
        // Cannot fail: the buffer has exactly the encoded length.
        let _ = Base64Unpadded::encode(bytes, text);
    }
    for b in out.iter_mut() {
        *b = map(*b);
    }
    match String::from_utf8(out) {
        Ok(text) => text,
        // Cannot happen (base64 is ASCII); the bytes are wiped all the same.
        Err(e) => {
            let _ = Zeroizing::new(e.into_bytes());
            String::new()
        }
    }
}

/// `encode`, into a string wiped on drop.
fn encode_secret(bytes: &[u8]) -> Zeroizing<String> {
    Zeroizing::new(encode(bytes))
}

/// Encodes as padded standard base64.
pub fn encode(bytes: &[u8]) -> String {
    let unpadded = Base64Unpadded::encoded_len(bytes);
    encode_into(bytes, unpadded.div_ceil(4) * 4, core::convert::identity)
}

/// Swaps `a` and `b` in `byte`, without a branch.
fn swap(byte: u8, a: u8, b: u8) -> u8 {
    let is_a = 0u8.wrapping_sub(u8::from(byte == a));
    let is_b = 0u8.wrapping_sub(u8::from(byte == b));
    byte ^ ((is_a | is_b) & (a ^ b))
}

/// Between the standard and the URL-safe alphabet (both ways): `+` and `-`,
/// `/` and `_` trade places.
fn url_swap(byte: u8) -> u8 {
    swap(swap(byte, b'+', b'-'), b'/', b'_')
}

/// Decodes unpadded base64url (RFC 7515 §2), as used by JWK members.
pub fn decode_base64url(input: &str, field: &'static str) -> Result<Vec<u8>> {
    let input = input.trim_end_matches('=');
    // `+` and `/` are not base64url; after the swap they would read as `-`
    // and `_`, which the standard decoder refuses.
    let standard = collect_secret(
        input.len(),
        input.chars().map(|c| match u8::try_from(c) {
            Ok(b) if b.is_ascii() => char::from(url_swap(b)),
            _ => c,
        }),
    );
    Base64Unpadded::decode_vec(&standard).map_err(|_| Error::InvalidBase64(field))
}

/// Encodes as unpadded base64url (RFC 7515 §2), as JWE and JWK members use.
pub fn encode_base64url(bytes: &[u8]) -> String {
    encode_into(bytes, Base64Unpadded::encoded_len(bytes), url_swap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_padded_unpadded_and_wrapped() {
        assert_eq!(&decode("AAECAw==", "x").unwrap()[..], &[0, 1, 2, 3]);
        assert_eq!(&decode("AAECAw", "x").unwrap()[..], &[0, 1, 2, 3]);
        assert_eq!(&decode("AAEC\r\nAw==\n", "x").unwrap()[..], &[0, 1, 2, 3]);
        assert_eq!(&decode("", "x").unwrap()[..], &[] as &[u8]);
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "AAECAw=",
            "AAE=CAw=",
            "AA-_",
            "AAECA",
            "AAECAx==",
            "é",
            "AAECAw===",
        ] {
            assert_eq!(decode(bad, "iv"), Err(Error::InvalidBase64("iv")), "{bad}");
        }
    }

    #[test]
    fn canonical_accepts_one_text_per_value() {
        assert_eq!(
            &decode_canonical("AAECAw==", "x").unwrap()[..],
            &[0, 1, 2, 3]
        );
        for bad in [
            "AAECAw",
            "AAECAw=",
            " AAECAw==",
            "AAECAw==\n",
            "AAEC\r\nAw==",
            "AAEC Aw==",
            "AAECAx==",
            "AAECAw===",
            "AA-_",
            "\tAAECAw==",
            "AAECAw==\0",
        ] {
            assert_eq!(
                decode_canonical(bad, "sid"),
                Err(Error::InvalidBase64("sid")),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn encode_is_padded_standard() {
        assert_eq!(encode(&[0xfb, 0xff]), "+/8=");
    }
}
