//! JWE compact serialization (RFC 7516) with `RSA-OAEP-256` key wrapping and
//! `A256GCM` content encryption (RFC 7518 §4.3, §5.3): the hybrid envelope a
//! captured card travels in.
//!
//! A fresh 256-bit content key encrypts the payload under AES-256-GCM with a
//! 96-bit IV and the protected header as AAD; the key itself is wrapped under
//! the issuer's RSA key with OAEP-SHA-256. Any payload size fits, and any
//! standard JOSE library (`jose` in JavaScript, Nimbus in Java) can produce
//! or open the result.
//!
//! Only the public-key half lives here. The private-key half (unwrapping the
//! content key) belongs to the server, which does it in constant time; this
//! module then opens the content with [`decrypt_content`].

use zeroize::Zeroizing;

use crate::cipher::{self, TAG_LEN};
use crate::encoding::{decode_base64url, encode_base64url};
use crate::error::{Error, Result};
use crate::public_key::{Padding, PublicKey};
use crate::secret::{KeySize, SessionKey};

/// The key-management algorithm (`alg`).
pub const ALG: &str = "RSA-OAEP-256";
/// The content-encryption algorithm (`enc`).
pub const ENC: &str = "A256GCM";
/// Length of the content IV (96 bits, RFC 7518 §5.3).
pub const IV_LEN: usize = 12;
/// Longest compact JWE accepted by [`parse_compact`] (a card is ~700 bytes).
pub const MAX_COMPACT_LEN: usize = 16 * 1024;
/// Longest key alias (`kid`).
pub const MAX_KID_LEN: usize = 64;

/// Checks a key alias: 1 to 64 of `A-Z a-z 0-9 . _ -` (so it needs no JSON
/// escaping and is safe in logs and URLs).
pub fn validate_kid(kid: &str) -> Result<()> {
    let ok = !kid.is_empty()
        && kid.len() <= MAX_KID_LEN
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(
            "a key alias must be 1 to 64 letters, digits, '.', '_' or '-'",
        ))
    }
}

/// Encrypts `plaintext` for the holder of `public_key`'s private key, naming
/// that key `kid`; returns the compact serialization
/// `header.encryptedKey.iv.ciphertext.tag`.
pub fn encrypt_compact(plaintext: &[u8], public_key: &PublicKey, kid: &str) -> Result<String> {
    validate_kid(kid)?;
    let header = joined(
        &[
            r#"{"alg":""#,
            ALG,
            r#"","enc":""#,
            ENC,
            r#"","kid":""#,
            kid,
            r#""}"#,
        ],
        "",
    );
    let protected = encode_base64url(header.as_bytes());
    let cek = SessionKey::generate(KeySize::Aes256)?;
    let encrypted_key = public_key.encrypt(cek.expose_bytes(), Padding::OaepSha256)?;
    let mut iv = [0u8; IV_LEN];
    getrandom::fill(&mut iv)?;
    let sealed = cipher::gcm_encrypt(&cek, &iv, protected.as_bytes(), plaintext)?;
    let (ciphertext, tag) = sealed
        .split_at_checked(sealed.len().saturating_sub(TAG_LEN))
        .ok_or(Error::EncryptionFailed)?;
    Ok(joined(
        &[
            protected.as_str(),
            &encode_base64url(&encrypted_key),
            &encode_base64url(&iv),
            &encode_base64url(ciphertext),
            &encode_base64url(tag),
        ],
        ".",
    ))
}

/// `parts` joined with `separator` into one exactly sized string: what
/// `[&str]::join` and `concat` do, without the generic `alloc::str` code
/// (about 0.9 KB of the browser module for these two calls).
fn joined(parts: &[&str], separator: &str) -> String {
    let len = parts.iter().map(|p| p.len()).sum::<usize>()
        + separator.len() * parts.len().saturating_sub(1);
    let mut out = String::with_capacity(len);
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push_str(separator);
        }
        out.push_str(part);
    }
    out
}

/// A parsed compact JWE, not yet decrypted.
#[derive(Clone, PartialEq, Eq)]
pub struct CompactJwe {
    /// The protected header as sent (base64url): the AAD.
    protected: String,
    /// The decoded protected header (JSON text, for the caller to check).
    header: String,
    encrypted_key: Vec<u8>,
    iv: Vec<u8>,
    ciphertext: Vec<u8>,
    tag: Vec<u8>,
}

impl core::fmt::Debug for CompactJwe {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CompactJwe")
            .field("header", &self.header)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

impl CompactJwe {
    /// The decoded protected header: JSON text, to be parsed and checked by
    /// the caller (`alg`, `enc`, `kid`).
    pub fn header(&self) -> &str {
        &self.header
    }

    /// The RSA-wrapped content key.
    pub fn encrypted_key(&self) -> &[u8] {
        &self.encrypted_key
    }
}

/// Splits and decodes a compact JWE. Every malformation (part count, base64,
/// sizes) is [`Error::InvalidInput`]; nothing is decrypted yet.
pub fn parse_compact(text: &str) -> Result<CompactJwe> {
    const BAD: Error = Error::InvalidInput("not a compact JWE (five base64url parts)");
    let text = text.trim();
    if text.len() > MAX_COMPACT_LEN {
        return Err(Error::InvalidInput("the JWE is too long"));
    }
    let mut parts = text.split('.');
    let mut next = |field| {
        parts
            .next()
            .ok_or(BAD)
            .and_then(|p| decode_base64url(p, field).map(|v| (p, v)).map_err(|_| BAD))
    };
    let (protected, header) = next("protected header")?;
    let (_, encrypted_key) = next("encrypted key")?;
    let (_, iv) = next("iv")?;
    let (_, ciphertext) = next("ciphertext")?;
    let (_, tag) = next("tag")?;
    if parts.next().is_some() {
        return Err(BAD);
    }
    let protected = protected.to_owned();
    let header = String::from_utf8(header).map_err(|_| BAD)?;
    if iv.len() != IV_LEN || tag.len() != TAG_LEN || encrypted_key.is_empty() {
        return Err(BAD);
    }
    Ok(CompactJwe {
        protected,
        header,
        encrypted_key,
        iv,
        ciphertext,
        tag,
    })
}

/// Opens the content with the unwrapped content key (256 bits for
/// `A256GCM`). A wrong key, a changed header and a changed byte anywhere all
/// give the one opaque [`Error::DecryptionFailed`].
pub fn decrypt_content(jwe: &CompactJwe, cek: &SessionKey) -> Result<Zeroizing<Vec<u8>>> {
    if cek.size() != KeySize::Aes256 {
        return Err(Error::DecryptionFailed);
    }
    let mut sealed = Zeroizing::new(Vec::with_capacity(jwe.ciphertext.len() + TAG_LEN));
    sealed.extend_from_slice(&jwe.ciphertext);
    sealed.extend_from_slice(&jwe.tag);
    cipher::gcm_decrypt(cek, &jwe.iv, jwe.protected.as_bytes(), &sealed)
}

// Native only: the private-key half needs the `rsa` crate's PEM support,
// a native dev-dependency.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use rsa::{Oaep, RsaPrivateKey};

    /// The RSA-2048 pair of the shared reference vectors (generating one in
    /// a debug build takes seconds).
    fn key_pair() -> (RsaPrivateKey, PublicKey) {
        use rsa::pkcs8::DecodePrivateKey;
        let vectors: serde_json::Value =
            serde_json::from_str(include_str!("../../../tests/data/paysecure-v1-v2.json")).unwrap();
        let pem = vectors["rsa"]["private_pkcs8_pem"].as_str().unwrap();
        let private = RsaPrivateKey::from_pkcs8_pem(pem).unwrap();
        let public = PublicKey::from_components(
            &rsa::traits::PublicKeyParts::n(&private).to_bytes_be(),
            &rsa::traits::PublicKeyParts::e(&private).to_bytes_be(),
        )
        .unwrap();
        (private, public)
    }

    fn open(private: &RsaPrivateKey, text: &str) -> Result<Zeroizing<Vec<u8>>> {
        let jwe = parse_compact(text)?;
        let cek = private
            .decrypt(Oaep::new::<sha2::Sha256>(), jwe.encrypted_key())
            .map_err(|_| Error::DecryptionFailed)?;
        decrypt_content(&jwe, &SessionKey::from_bytes(&cek)?)
    }

    #[test]
    fn round_trip_and_header() {
        let (private, public) = key_pair();
        let text = encrypt_compact(b"{\"a\":1}", &public, "rsa-0011").unwrap();
        assert_eq!(text.split('.').count(), 5);
        let jwe = parse_compact(&text).unwrap();
        assert_eq!(
            jwe.header(),
            r#"{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"rsa-0011"}"#
        );
        assert_eq!(&open(&private, &text).unwrap()[..], b"{\"a\":1}");
        // Fresh content key and IV every time.
        assert_ne!(
            text,
            encrypt_compact(b"{\"a\":1}", &public, "rsa-0011").unwrap()
        );
    }

    #[test]
    fn any_changed_part_fails_opaquely() {
        let (private, public) = key_pair();
        let text = encrypt_compact(b"card data", &public, "k1").unwrap();
        let parts: Vec<&str> = text.split('.').collect();
        // A different (valid) header: the AAD no longer matches.
        let other_header =
            encode_base64url(br#"{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"k2"}"#);
        let swapped = [
            other_header.as_str(),
            parts[1],
            parts[2],
            parts[3],
            parts[4],
        ]
        .join(".");
        assert_eq!(open(&private, &swapped), Err(Error::DecryptionFailed));
        for i in [2usize, 3, 4] {
            let mut bytes = decode_base64url(parts[i], "x").unwrap();
            bytes[0] ^= 1;
            let mut changed: Vec<String> = parts.iter().map(|p| p.to_string()).collect();
            changed[i] = encode_base64url(&bytes);
            assert_eq!(
                open(&private, &changed.join(".")),
                Err(Error::DecryptionFailed),
                "part {i}"
            );
        }
    }

    #[test]
    fn malformed_is_refused_without_panic() {
        for bad in [
            "",
            "a.b.c.d",
            "a.b.c.d.e.f",
            "!!.b.c.d.e",
            "e30.AA.AAAAAAAA.AA.AAAAAAAAAAAAAAAAAAAAAA", // iv too short
            "e30.AA.AAAAAAAAAAAAAAAA.AA.AAAA",           // tag too short
            "e30..AAAAAAAAAAAAAAAA.AA.AAAAAAAAAAAAAAAAAAAAAA", // no key
        ] {
            assert!(
                matches!(parse_compact(bad), Err(Error::InvalidInput(_))),
                "{bad}"
            );
        }
        assert!(parse_compact(&"A".repeat(MAX_COMPACT_LEN + 1)).is_err());
        for kid in ["", "has space", "quote\"", &"k".repeat(65)] {
            assert!(validate_kid(kid).is_err(), "{kid}");
        }
    }

    #[test]
    fn short_content_key_is_refused() {
        let (_, public) = key_pair();
        let jwe = parse_compact(&encrypt_compact(b"x", &public, "k").unwrap()).unwrap();
        let k128 = SessionKey::from_bytes(&[7u8; 16]).unwrap();
        assert_eq!(decrypt_content(&jwe, &k128), Err(Error::DecryptionFailed));
    }
}
