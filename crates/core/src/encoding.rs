//! Base64 as it arrives from real PaySecure peers.
//!
//! Standard alphabet (RFC 4648 §4). Decoding tolerates what Java and
//! JavaScript peers really send: ASCII whitespace anywhere (MIME-style line
//! breaks from older `commons-codec`) and missing padding. It refuses the
//! URL-safe alphabet, misplaced padding and non-canonical trailing bits.
//! Encoding always produces padded standard base64. Both directions are
//! constant-time (`base64ct`), as they also carry key material.

use base64ct::{Base64, Base64Unpadded, Encoding};
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
    let decoded = if compact.contains('=') {
        Base64::decode_vec(&compact)
    } else {
        Base64Unpadded::decode_vec(&compact)
    };
    decoded
        .map(Zeroizing::new)
        .map_err(|_| Error::InvalidBase64(field))
}

/// Decodes canonical padded standard base64 and nothing else: no
/// whitespace, no missing or extra padding, no URL-safe alphabet, no
/// non-zero trailing bits. Every byte string has exactly one accepted text,
/// so the text can serve as an identity (what a server keys replay records
/// or caches by). Used for `Session-Id` headers.
pub fn decode_canonical(input: &str, field: &'static str) -> Result<Zeroizing<Vec<u8>>> {
    let decoded = Base64::decode_vec(input)
        .map(Zeroizing::new)
        .map_err(|_| Error::InvalidBase64(field))?;
    // base64ct is strict already; the round trip makes the rule explicit.
    if Base64::encode_string(&decoded) != input {
        return Err(Error::InvalidBase64(field));
    }
    Ok(decoded)
}

/// Encodes as padded standard base64.
pub fn encode(bytes: &[u8]) -> String {
    Base64::encode_string(bytes)
}

/// Decodes unpadded base64url (RFC 7515 §2), as used by JWK members.
pub fn decode_base64url(input: &str, field: &'static str) -> Result<Vec<u8>> {
    base64ct::Base64UrlUnpadded::decode_vec(input.trim_end_matches('='))
        .map_err(|_| Error::InvalidBase64(field))
}

/// Encodes as unpadded base64url (RFC 7515 §2), as JWE and JWK members use.
pub fn encode_base64url(bytes: &[u8]) -> String {
    base64ct::Base64UrlUnpadded::encode_string(bytes)
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
