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
//! each. The engine itself is the few lines below (`decode_unpadded`,
//! `encode_unpadded`): `base64ct`'s branch-free arithmetic for the standard
//! alphabet without its generic alphabet machinery, which cost the browser
//! module about 1.5 KB. tests/it/base64_reference.rs checks every function
//! against the `base64ct` alphabets it used before (`Base64`,
//! `Base64Unpadded`, `Base64UrlUnpadded`).

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::wipe::collect_secret;

/// The 6-bit value of a standard-alphabet character, or -1: branch-free
/// (`base64ct`'s `decode_6bits`), no table lookup indexed by secret data.
fn decode_6bits(c: u8) -> i16 {
    let c = i16::from(c);
    let mut ret: i16 = -1;
    ret += (((0x40 - c) & (c - 0x5b)) >> 8) & (c - 64); // A-Z: 0..=25, plus 1
    ret += (((0x60 - c) & (c - 0x7b)) >> 8) & (c - 70); // a-z: 26..=51, plus 1
    ret += (((0x2f - c) & (c - 0x3a)) >> 8) & (c + 5); // 0-9: 52..=61, plus 1
    ret += (((0x2a - c) & (c - 0x2c)) >> 8) & 63; // '+': 62, plus 1
    ret += (((0x2e - c) & (c - 0x30)) >> 8) & 64; // '/': 63, plus 1
    ret
}

/// The standard-alphabet character of a 6-bit value: branch-free
/// (`base64ct`'s `encode_6bits`).
fn encode_6bits(v: u32) -> u8 {
    let v = (v & 63) as i16;
    let mut diff: i16 = 0x41; // 'A'
    diff += ((25 - v) >> 8) & 6; // 26.. -> 'a'
    diff -= ((51 - v) >> 8) & 75; // 52.. -> '0'
    diff -= ((61 - v) >> 8) & 15; // 62 -> '+'
    diff += ((62 - v) >> 8) & 3; // 63 -> '/'
    (v + diff) as u8
}

/// Decodes unpadded standard base64 (`base64ct::Base64Unpadded`'s rules: no
/// `=`, no other character, no length of the form 4n + 1, no non-zero
/// trailing bits) into a buffer allocated once at its exact size. The
/// characters' values are combined without a branch; only the verdict is
/// branched on.
fn decode_unpadded(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let src = text.as_bytes();
    let rest = src.len() % 4;
    if rest == 1 {
        return None;
    }
    let mut out = Zeroizing::new(Vec::with_capacity(
        src.len() / 4 * 3 + rest.saturating_sub(1),
    ));
    // Bits flow through `acc`: six in per character, a byte out whenever
    // eight are there (a branch on the position only).
    let mut bad: i16 = 0;
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for &c in src {
        let v = decode_6bits(c);
        bad |= v;
        acc = (acc << 6) | (v & 63) as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    // What is left (0, 2 or 4 bits) must be zero.
    let trailing = acc & ((1 << bits) - 1);
    (bad >= 0 && trailing == 0).then_some(out)
}

/// Unpadded standard base64 of `bytes` into `out` (at least
/// `encoded_len(bytes)` bytes; the rest is left as it is).
fn encode_unpadded(bytes: &[u8], out: &mut [u8]) {
    let mut dst = out.iter_mut();
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            if let Some(d) = dst.next() {
                *d = encode_6bits(acc >> bits);
            }
        }
    }
    if bits > 0 {
        if let Some(d) = dst.next() {
            *d = encode_6bits(acc << (6 - bits));
        }
    }
}

/// The length of unpadded base64 of `bytes`.
fn encoded_len(bytes: &[u8]) -> usize {
    (bytes.len() * 4).div_ceil(3)
}

/// Decodes standard base64, tolerating whitespace and missing padding.
///
/// `field` names the input in the error (e.g. `"data"`, `"iv"`).
pub fn decode(input: &str, field: &'static str) -> Result<Zeroizing<Vec<u8>>> {
    // A copy without the whitespace only when there is some (the bytes of a
    // non-ASCII character are never ASCII whitespace).
    let spaced;
    let compact = if input.bytes().any(|b| b.is_ascii_whitespace()) {
        spaced = collect_secret(
            input.len(),
            input.chars().filter(|c| !c.is_ascii_whitespace()),
        );
        spaced.as_str()
    } else {
        input
    };
    let unpadded = if compact.bytes().any(|b| b == b'=') {
        strip_padding(compact)
    } else {
        Some(compact)
    };
    unpadded
        .and_then(decode_unpadded)
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
        .and_then(decode_unpadded)
        .ok_or(Error::InvalidBase64(field))?;
    // The decoder is strict already; the round trip makes the rule explicit.
    if *encode_secret(&decoded) != input {
        return Err(Error::InvalidBase64(field));
    }
    Ok(decoded)
}

/// Unpadded standard base64 of `bytes` in a string of `total` bytes
/// (`total` at least the unpadded length), the rest `=`, after `map` of every
/// byte: one allocation, no copy.
fn encode_into(bytes: &[u8], total: usize, map: fn(u8) -> u8) -> String {
    let mut out = vec![b'='; total];
    encode_unpadded(bytes, &mut out);
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
    encode_into(
        bytes,
        encoded_len(bytes).div_ceil(4) * 4,
        core::convert::identity,
    )
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
    decode_unpadded(&standard)
        .map(|mut bytes| core::mem::take(&mut *bytes))
        .ok_or(Error::InvalidBase64(field))
}

/// Encodes as unpadded base64url (RFC 7515 §2), as JWE and JWK members use.
pub fn encode_base64url(bytes: &[u8]) -> String {
    encode_into(bytes, encoded_len(bytes), url_swap)
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

    /// The branch-free arithmetic is the standard alphabet, for every byte.
    #[test]
    fn six_bit_maps_are_the_standard_alphabet() {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for c in 0..=255u8 {
            let expected = ALPHABET
                .iter()
                .position(|&a| a == c)
                .map_or(-1, |i| i as i16);
            assert_eq!(decode_6bits(c), expected, "{c:#04x}");
        }
        for (v, &c) in ALPHABET.iter().enumerate() {
            assert_eq!(encode_6bits(v as u32), c, "{v}");
        }
    }

    #[test]
    fn encode_is_padded_standard() {
        assert_eq!(encode(&[0xfb, 0xff]), "+/8=");
    }
}
